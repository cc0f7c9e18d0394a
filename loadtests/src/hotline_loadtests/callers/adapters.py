"""I/O of the SIP callers: one SIPp process per call, and the call events on Kafka."""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from hotline_events.catalog import Catalog
from hotline_events.envelope import decode
from hotline_events.errors import ContractError
from hotline_events.models.calls import CallOffered
from hotline_loadtests.callers import logic
from hotline_loadtests.callers.models import CallPlan, CallTimeline

log = logging.getLogger("hotline.loadtests.callers")


class SippMissing(RuntimeError):
    pass


def free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class SippCall:
    """One caller's SIPp: ``start`` dials, ``hang_up`` asks it to send BYE."""

    plan: CallPlan
    edge: str  # host:port of the SIP edge
    workdir: Path
    scenario: Path
    local_ip: str = "127.0.0.1"
    call_id: str = field(default_factory=lambda: f"hl-{uuid.uuid4().hex}")
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        sipp = shutil.which("sipp")
        if sipp is None:
            raise SippMissing("sipp is missing (Debian package sip-tester): the SIP callers "
                              "need it; install it with apt-get install sip-tester")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_udp_port(self.local_ip)
        argv = [sipp, self.edge, "-sf", str(self.scenario), "-s", self.plan.service_number,
                "-key", "caller", self.plan.caller_number, "-i", self.local_ip,
                "-p", str(self.port), "-mp", str(free_udp_port(self.local_ip)), "-m", "1",
                "-nostdin", "-cid_str", f"{self.call_id}-%u@%s",
                "-trace_rtt", "-rtt_freq", "1", "-trace_err",
                "-error_file", str(self.workdir / "errors.log")]
        self.proc = subprocess.Popen(argv, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    @property
    def sip_call_id(self) -> str:
        return f"{self.call_id}-1@{self.local_ip}"  # -cid_str with call number 1

    def hang_up(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(logic.hang_up_request(self.sip_call_id, self.port, self.local_ip),
                     (self.local_ip, self.port))

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def stop(self) -> None:
        """Ends a SIPp that outlived its call (SIGTERM, then SIGKILL)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def setup_ms(self) -> float | None:
        for path in self.workdir.glob("*_rtt.csv"):
            found = logic.setup_ms(path.read_text(errors="replace"))
            if found is not None:
                return found
        return None

    def errors(self) -> str:
        """SIPp's own words on a failed call: its error file and stderr, last lines."""
        parts = []
        err_file = self.workdir / "errors.log"
        if err_file.exists():
            parts.append(err_file.read_text(errors="replace")[-1500:])
        if self.proc is not None and self.proc.stderr is not None and self.proc.poll() is not None:
            with contextlib.suppress(OSError, ValueError):
                parts.append(self.proc.stderr.read().decode(errors="replace")[-1500:])
        return "\n".join(p.strip() for p in parts if p.strip()) or "(SIPp said nothing)"

    def clean_up(self) -> None:
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


class CallEvents:
    """The call events topic, read from its end, folded into the timelines of the calls
    this process placed: a call is found by its caller token (CallOffered), then by the
    platform's call id."""

    def __init__(self, bootstrap: str, catalog: Catalog) -> None:
        self.topic = catalog.topic_for_type(CallOffered.TYPE).name
        self.consumer = Consumer({"bootstrap.servers": bootstrap,
                                  "group.id": f"loadtest-callers-{uuid.uuid4().hex[:8]}",
                                  "enable.auto.commit": False})
        parts = self.consumer.list_topics(self.topic, timeout=10).topics[self.topic].partitions
        if not parts:
            raise RuntimeError(f"topic {self.topic} does not exist on {bootstrap}: create the "
                               "catalog's topics first (hotline-events topics create)")
        # The end offsets now, not at the first fetch: a call placed right after this
        # must not be skipped because the consumer resolved "end" after its events.
        ends = [self.consumer.get_watermark_offsets(TopicPartition(self.topic, p),
                                                    timeout=10)[1] for p in parts]
        self.consumer.assign([TopicPartition(self.topic, p, end)
                              for p, end in zip(parts, ends, strict=True)])
        self.by_token: dict[str, CallTimeline] = {}
        self.by_call_id: dict[str, CallTimeline] = {}
        self.undecodable = 0

    def expect(self, caller_token: str) -> CallTimeline:
        timeline = CallTimeline()
        self.by_token[caller_token] = timeline
        return timeline

    def forget(self, caller_token: str, timeline: CallTimeline) -> None:
        self.by_token.pop(caller_token, None)
        if timeline.call_id is not None:
            self.by_call_id.pop(timeline.call_id, None)

    def pump(self, limit: int = 500) -> int:
        """Reads what is there without blocking (Locust's greenlets share the thread)."""
        read = 0
        for _ in range(limit):
            msg = self.consumer.poll(0)
            if msg is None:
                break
            read += 1
            if msg.error():
                log.warning("reading %s: %s; going on", self.topic, msg.error())
                continue
            try:
                event = decode(msg.headers(), msg.value())
            except ContractError:
                self.undecodable += 1  # the streams dead-letter these; callers skip them
                continue
            data = event.data
            timeline = None
            if isinstance(data, CallOffered) and data.caller_token is not None:
                timeline = self.by_token.get(data.caller_token)
                if timeline is not None:
                    self.by_call_id[data.call_id] = timeline
            else:
                call_id = getattr(data, "call_id", None)
                timeline = self.by_call_id.get(call_id) if isinstance(call_id, str) else None
            if timeline is not None:
                logic.observe(timeline, data, event.time)
        return read

    def close(self) -> None:
        self.consumer.close()
