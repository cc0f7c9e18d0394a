"""Helpers of the media-node tests: a real worker subprocess, SIPp runs, a Kafka reader."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from hotline_events.catalog import Catalog
from hotline_events.envelope import decode
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
                 media_node: str, *extra: str) -> Worker:
    prefix = catalog.topics[0].name.split("cc.", 1)[0]
    log = workdir / f"{media_node}.log"
    env = {**os.environ, KEY_ENV: TOKEN_KEY}
    with log.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hotline_media_nodes.worker", "--flow", str(FLOW),
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


class CallReader:
    """Every event on the call topic, grouped by call, read from the beginning."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        self.topic = topic
        # Assigned, not subscribed: no group coordinator or rebalance to wait for.
        self.consumer = Consumer({"bootstrap.servers": bootstrap,
                                  "group.id": f"reader-{uuid.uuid4()}",
                                  "enable.auto.commit": False})
        self.consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING)
                              for p in range(partitions)])
        self.calls: dict[str, list[EventModel]] = {}
        self.raw: list[bytes] = []

    def close(self) -> None:
        self.consumer.close()

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
        deadline = time.monotonic() + timeout
        while True:
            call_id = self.call_of(caller)
            if call_id is not None and done(self.calls[call_id]):
                return self.calls[call_id]
            if time.monotonic() > deadline:
                seen = [type(e).__name__ for e in self.calls.get(call_id or "", [])]
                raise AssertionError(f"call of {caller} not complete on {self.topic} within "
                                     f"{timeout} s; seen: {seen}")
            msg = self.consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() in (KafkaError.UNKNOWN_TOPIC_OR_PART,
                                          KafkaError._PARTITION_EOF):
                    continue
                raise AssertionError(f"consumer error on {self.topic}: {msg.error()}")
            event = decode(msg.headers(), msg.value())
            self.raw.append(msg.value() or b"")
            self.calls.setdefault(event.subject, []).append(event.data)


def wait_for_event(bootstrap: str, catalog: Catalog, kind: type[EventModel],
                   predicate: Callable[[EventModel], bool], timeout: float = 45.0) -> EventModel:
    """The first ``kind`` event (from the topic's beginning) for which ``predicate`` holds."""
    topic = catalog.topic_for_type(kind.TYPE)
    reader = CallReader(bootstrap, topic.name, topic.partitions)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            msg = reader.consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            data = decode(msg.headers(), msg.value()).data
            if isinstance(data, kind) and predicate(data):
                return data
    finally:
        reader.close()
    raise AssertionError(f"no matching event on {topic.name} within {timeout} s")
