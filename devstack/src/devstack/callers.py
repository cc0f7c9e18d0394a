"""Callers for the failover drill: SIPp calls through the carrier, one after another.

Each caller dials the demo bank's balance number (answered by the IVR, no agent
needed), stays a second and hangs up; a waiting caller dials the menu and stays on
the line, so the flow queues them when they press nothing. Every caller has its own
number, so the sites' call topics say which site answered whom (by the caller token).
``BusyPhone`` is the customers' side of callbacks: every dial meets a busy phone.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from devstack.site_release import free_node_port

BALANCE = "800101"  # the demo bank's speed-dial number (media-nodes/flows/demo-bank.yaml)
MENU = "800100"  # its menu: no input queues the caller for an agent

def sipp_binary() -> str:
    sipp = shutil.which("sipp")
    if sipp is None:
        raise RuntimeError("sipp is missing (Debian's sip-tester): `./hotline test` installs it")
    return sipp


# SIPp's built-in uac, with the caller's number from ``-key caller``.
SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="caller stays a second and hangs up">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:[caller]@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=caller 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=sendrecv
]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true" rrs="true"/>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
From: <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:[caller]@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0
]]></send>
  <pause/>
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
From: <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
Contact: <sip:[caller]@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0
]]></send>
  <recv response="200" crlf="true"/>
</scenario>
"""


@dataclass
class Call:
    caller: str
    started: float  # wall clock
    proc: subprocess.Popen[bytes]

    @property
    def answered(self) -> bool:
        """Answered, a second on the line and hung up cleanly (waits for SIPp)."""
        return self.proc.wait() == 0


@dataclass
class Callers:
    """Callers to 127.0.0.1:``port``; ``start()`` places one every ``every_s``."""

    port: int
    home: Path
    every_s: float = 1.0
    prefix: str = "+4930555"
    calls: list[Call] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "caller.xml").write_text(SCENARIO)
        self.sipp = sipp_binary()

    def place(self, caller: str | None = None, *, service: str = BALANCE,
              stay_s: float = 1.0, port: int | None = None) -> Call:
        """A call to 127.0.0.1:``port`` (default: the carrier's) that stays ``stay_s``
        once answered, then hangs up."""
        caller = caller or f"{self.prefix}{len(self.calls):06d}"
        proc = subprocess.Popen(
            [self.sipp, f"127.0.0.1:{port or self.port}", "-sf", str(self.home / "caller.xml"),
             "-s", service, "-key", "caller", caller, "-i", "127.0.0.1",
             "-d", str(int(stay_s * 1000)),
             "-p", str(free_node_port()), "-mp", str(free_node_port()),
             "-m", "1", "-nostdin", "-timeout", f"{int(stay_s) + 30}s", "-timeout_error"],
            cwd=self.home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        call = Call(caller, time.time(), proc)
        self.calls.append(call)
        return call

    def start(self) -> None:
        self._stop.clear()

        def run() -> None:
            while not self._stop.wait(self.every_s):
                self.place()
        self._thread = threading.Thread(target=run, name="callers", daemon=True)
        self._thread.start()

    def stop(self) -> list[Call]:
        """Stop placing calls; wait for the ones in progress. Every call so far."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        for call in self.calls:
            call.proc.wait(60)
        return list(self.calls)


# A customer's phone that is busy whenever a callback comes (SIPp as UAS).
BUSY_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="busy">
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[

      SIP/2.0 486 Busy Here
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
</scenario>
"""


@dataclass
class BusyPhone:
    """Answers every INVITE to ``host``:``port`` with 486 Busy Here until stopped (the
    callbacks' dial URI points here: each attempt is one dial, then a retry)."""

    host: str
    port: int
    home: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "busy.xml").write_text(BUSY_SCENARIO)
        self.proc = subprocess.Popen(
            [sipp_binary(), "-sf", str(self.home / "busy.xml"), "-i", self.host,
             "-p", str(self.port), "-mp", str(free_node_port()), "-m", "100000", "-nostdin"],
            cwd=self.home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
