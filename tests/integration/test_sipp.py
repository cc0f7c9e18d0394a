"""SIPp, Hotline's independent SIP peer, completes a call between UAC and UAS."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sipp_uac_calls_sipp_uas_on_loopback(sipp: Path, tmp_path: Path) -> None:
    uas_port, uac_port = free_udp_port(), free_udp_port()
    common = ["-i", "127.0.0.1", "-m", "1", "-nostdin", "-timeout", "30s", "-timeout_error",
              "-trace_msg", "-trace_err"]
    uas = subprocess.Popen(
        [str(sipp), "-sn", "uas", "-p", str(uas_port), *common,
         "-message_file", str(tmp_path / "uas.msg")],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # The UAC's INVITE is retransmitted (RFC 3261 timer A) until the UAS answers, so
    # a UAS that binds a moment later still gets the call.
    uac = subprocess.run(
        [str(sipp), "-sn", "uac", f"127.0.0.1:{uas_port}", "-p", str(uac_port), *common,
         "-message_file", str(tmp_path / "uac.msg")],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
    uas_stderr = uas.communicate(timeout=60)[1]
    assert uac.returncode == 0, f"UAC failed: {uac.stderr.decode(errors='replace')}"
    assert uas.returncode == 0, f"UAS failed: {uas_stderr.decode(errors='replace')}"
    uac_log = (tmp_path / "uac.msg").read_text()
    assert "SIP/2.0 200 OK" in uac_log
    assert "BYE sip:" in uac_log
