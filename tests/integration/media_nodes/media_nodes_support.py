"""Helpers of the media-node tests: a real worker subprocess, SIPp runs, a Kafka reader."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
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
                   port: int | None = None) -> tuple[subprocess.Popen[str], int]:
    """SIPp as a phone (UAS) on ``port`` (default: a free one), in the background."""
    port = port or free_udp_port()
    base = scenario.with_suffix("")
    proc = subprocess.Popen(
        [str(sipp), "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port),
         "-mp", str(free_udp_port()), "-m", "1", "-nostdin", "-timeout", f"{timeout_s}s",
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
