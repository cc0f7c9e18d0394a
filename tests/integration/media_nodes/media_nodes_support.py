"""Helpers of the media-node tests: a real worker subprocess, SIPp runs, a Kafka reader."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from helpers.kafka_io import EventReader
from hotline_events.catalog import Catalog
from hotline_events.envelope import Event
from hotline_events.models import EventModel
from hotline_events.models.calls import CallOffered
from hotline_events.pii import KEY_ENV, caller_token

HERE = Path(__file__).parent
FLOW = HERE / "flows" / "ivr.yaml"
SCENARIOS = HERE / "scenarios"
TOKEN_KEY = "media-nodes-it-token-key-0123456"
SIPP_PCAPS = Path("/usr/share/sip-tester")  # Debian sip-tester's RFC 2833 DTMF captures


def free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def token(number: str) -> str:
    return caller_token(number, TOKEN_KEY.encode())


@dataclass
class Worker:
    proc: subprocess.Popen[str]
    port: int
    log: Path
    stdout: list[str] = field(default_factory=list)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


def start_worker(kafka: str, catalog: Catalog, prompt_cache: Path, workdir: Path,
                 media_node: str, *extra: str, env_extra: dict[str, str] | None = None,
                 flow: Path = FLOW) -> Worker:
    prefix = catalog.topics[0].name.split("cc.", 1)[0]
    log = workdir / f"{media_node}.log"
    env = {**os.environ, KEY_ENV: TOKEN_KEY, **(env_extra or {})}
    with log.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hotline_media_nodes.worker", "--flow", str(flow),
             "--allow", "127.0.0.1/32", "--kafka", kafka, "--topic-prefix", prefix,
             "--media-node", media_node, "--prompt-cache", str(prompt_cache), *extra],
            stdout=subprocess.PIPE, stderr=log_file, text=True, env=env)
    assert proc.stdout is not None
    ready = threading.Event()
    lines: list[str] = []
    port: list[int] = []

    def drain() -> None:  # keeps the pipe empty for the worker's whole life
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("ready sip="):
                port.append(int(line.strip().rsplit(":", 1)[1]))
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(60) or not port:
        proc.kill()
        raise AssertionError(f"worker {media_node} did not get ready:\n{log.read_text()}")
    return Worker(proc, port[0], log, lines)


def render(scenario: str, workdir: Path, **values: str) -> Path:
    text = (SCENARIOS / scenario).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    assert "{{" not in text, f"unfilled placeholder in {scenario}"
    out = workdir / f"{uuid.uuid4().hex[:6]}-{scenario}"
    out.write_text(text)
    return out


def sipp_command(sipp: Path, scenario: Path, port: int, *, service: str,
                 source_ip: str = "127.0.0.1", timeout_s: int = 30) -> list[str]:
    base = scenario.with_suffix("")
    return [str(sipp), f"127.0.0.1:{port}", "-sf", str(scenario), "-s", service,
            "-i", source_ip, "-p", str(free_udp_port(source_ip)),
            "-mp", str(free_udp_port(source_ip)), "-m", "1", "-nostdin",
            "-timeout", f"{timeout_s}s", "-timeout_error", "-trace_err", "-trace_msg",
            "-message_file", f"{base}.msg", "-error_file", f"{base}.err"]


def run_sipp(sipp: Path, scenario: Path, port: int, *, service: str,
             source_ip: str = "127.0.0.1", timeout_s: int = 30) -> None:
    done = subprocess.run(sipp_command(sipp, scenario, port, service=service,
                                       source_ip=source_ip, timeout_s=timeout_s),
                          cwd=scenario.parent, capture_output=True, text=True,
                          timeout=timeout_s + 30)
    if done.returncode != 0:
        base = scenario.with_suffix("")
        errors = Path(f"{base}.err")
        raise AssertionError(f"SIPp {scenario.name} failed ({done.returncode}):\n"
                             f"{errors.read_text()[-3000:] if errors.exists() else done.stderr}")


class CallReader(EventReader):
    """Every event on the call topic from the beginning, grouped by call."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(bootstrap, topic)

    @property
    def calls(self) -> dict[str, list[EventModel]]:
        grouped: dict[str, list[EventModel]] = {}
        for event in self.events:
            grouped.setdefault(event.subject, []).append(event.data)
        return grouped

    def call_of(self, caller: str) -> str | None:
        wanted = token(caller)
        for call_id, events in self.calls.items():
            first = events[0]
            if isinstance(first, CallOffered) and first.caller_token == wanted:
                return call_id
        return None

    def wait_for(self, caller: str, done: Callable[[list[EventModel]], bool],
                 timeout: float = 45.0) -> list[EventModel]:
        """The events of ``caller``'s call once ``done(events)`` holds."""

        def complete(_events: list[Event]) -> list[EventModel] | None:
            call_id = self.call_of(caller)
            events = self.calls.get(call_id or "", [])
            return events if call_id is not None and done(events) else None

        def seen() -> str:
            return str([type(e).__name__ for e in self.calls.get(self.call_of(caller) or "", [])])

        return self.poll_until(complete, timeout, describe=lambda: f"call of {caller}: {seen()}")


def wait_for_event(bootstrap: str, catalog: Catalog, kind: type[EventModel],
                   predicate: Callable[[EventModel], bool], timeout: float = 45.0) -> EventModel:
    """The first ``kind`` event (from the topic's beginning) for which ``predicate`` holds."""
    reader = EventReader(bootstrap, catalog.topic_for_type(kind.TYPE).name)

    def match(events: list[Event]) -> EventModel | None:
        return next((e.data for e in events
                     if isinstance(e.data, kind) and predicate(e.data)), None)

    try:
        return reader.poll_until(match, timeout)
    finally:
        reader.close()


def start_sipp_uas(sipp: Path, scenario: Path, *, timeout_s: int = 60,
                   port: int | None = None, host: str = "127.0.0.1",
                   calls: int = 1) -> tuple[subprocess.Popen[str], int]:
    """SIPp as a phone (UAS) on ``host``:``port`` (default: a free one) for ``calls``
    calls, in the background."""
    port = port or free_udp_port(host)
    base = scenario.with_suffix("")
    proc = subprocess.Popen(
        [str(sipp), "-sf", str(scenario), "-i", host, "-p", str(port),
         "-mp", str(free_udp_port(host)), "-m", str(calls), "-nostdin",
         "-timeout", f"{timeout_s}s",
         "-timeout_error", "-trace_err", "-trace_msg", "-message_file", f"{base}.msg",
         "-error_file", f"{base}.err"],
        cwd=scenario.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return proc, port


def wait_sipp(proc: subprocess.Popen[str], scenario: Path, timeout: float = 90) -> None:
    """Wait for a background SIPp and fail with its error log if its scenario failed."""
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"SIPp {scenario.name} still running after {timeout} s") from None
    if code != 0:
        errors = Path(f"{scenario.with_suffix('')}.err")
        raise AssertionError(f"SIPp {scenario.name} failed ({code}):\n"
                             f"{errors.read_text()[-3000:] if errors.exists() else ''}"
                             f"{proc.stderr.read() if proc.stderr else ''}")


class RtpSink:
    """A phone's audio port played by the test: collects the RTP the node sends to it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.packets: list[tuple[float, int, bytes]] = []  # (wall time, payload type, payload)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            if len(data) > 12 and data[0] >> 6 == 2:  # RTP version 2
                self.packets.append((time.time(), data[1] & 0x7F, data[12:]))

    def speech_packets(self, payload_type: int = 8, since: float = 0.0) -> int:
        """Packets of PCMA (or PCMU) that are not silence (0xD5/0x55 resp. 0xFF/0x7F),
        received after ``since`` (wall-clock seconds)."""
        silent = {8: {0xD5, 0x55, 0xD4, 0x54}, 0: {0xFF, 0x7F, 0xFE, 0x7E}}[payload_type]
        return sum(1 for at, pt, payload in self.packets if pt == payload_type and at >= since
                   and sum(b not in silent for b in payload) > len(payload) // 4)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def long_pcap(source: Path, out: Path, rounds: int) -> Path:
    """``source`` (an RTP audio capture) played ``rounds`` times back to back, with RTP
    sequence numbers and timestamps carried on, so a phone talks for that much longer."""
    data = source.read_bytes()
    header, body = data[:24], data[24:]
    link = struct.unpack("<I", header[20:24])[0]
    link_len = {1: 14, 113: 16}[link]  # Ethernet or Linux cooked capture
    records: list[tuple[float, bytes]] = []
    pos = 0
    while pos + 16 <= len(body):
        sec, usec, incl, _orig = struct.unpack("<IIII", body[pos:pos + 16])
        records.append((sec + usec / 1e6, body[pos + 16:pos + 16 + incl]))
        pos += 16 + incl
    span = records[-1][0] - records[0][0] + 0.02
    out_records = []
    for r in range(rounds):
        for when, frame in records:
            ip = link_len
            rtp = ip + (frame[ip] & 0x0F) * 4 + 8
            seq, stamp = struct.unpack(">HI", frame[rtp + 2:rtp + 8])
            patched = (frame[:rtp + 2]
                       + struct.pack(">HI", (seq + r * len(records)) & 0xFFFF,
                                     (stamp + r * int(span * 8000)) & 0xFFFFFFFF)
                       + frame[rtp + 8:])
            t = when + r * span
            sec, usec = int(t), round((t - int(t)) * 1e6)
            out_records.append(struct.pack("<IIII", sec, min(usec, 999999), len(patched),
                                           len(patched)) + patched)
    out.write_bytes(header + b"".join(out_records))
    return out
