"""The pool's I/O: worker processes that die with it, their stdout, and Kamailio."""

from __future__ import annotations

import ctypes
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Protocol

from hotline_events.models import EventModel
from hotline_media_nodes.edge.render import EdgeConfig, render_dispatcher_list, render_kamailio_cfg
from hotline_media_nodes.pool.logic import call_line

log = logging.getLogger("hotline.media.pool")

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        os._exit(121)  # never run a worker that could outlive its pool
    os.setpgrp()  # a Ctrl-C at the terminal reaches the pool only; it drains the workers


Line = tuple[int, int, str | None]  # slot index, generation, line (None: stdout closed)


def spawn(argv: list[str], log_path: Path, lines: queue.Queue[Line], index: int,
          generation: int, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start a child that is SIGKILLed if the pool dies; its stdout lines go to ``lines``."""
    with log_path.open("a") as log_file:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log_file, text=True,
                                env=env, preexec_fn=_die_with_parent)

    def read(out: IO[str]) -> None:
        for line in out:
            lines.put((index, generation, line))
        lines.put((index, generation, None))

    assert proc.stdout is not None
    threading.Thread(target=read, args=(proc.stdout,), daemon=True,
                     name=f"worker-{index}-stdout").start()
    return proc


class Publisher(Protocol):
    def publish(self, data: EventModel, *, traceparent: str | None = None) -> Any: ...


class ReportingPublisher:
    """The worker's side of the pool protocol: publishes, then tells the pool on stdout.

    Also counts calls for the worker's own ``/metrics``.
    """

    def __init__(self, inner: Publisher, report: bool, out: IO[str] = sys.stdout) -> None:
        self.inner = inner
        self.report = report
        self.out = out
        self.calls_total = 0

    def publish(self, data: EventModel, *, traceparent: str | None = None) -> Any:
        result = self.inner.publish(data, traceparent=traceparent)
        line = call_line(data)
        if line is not None:
            if line.startswith("call+"):
                self.calls_total += 1
            if self.report:
                print(line, file=self.out, flush=True)
        return result


class Edge:
    """The dispatcher list file, and (optionally) a local Kamailio reading it.

    ``apply`` writes the set atomically and asks Kamailio to reload it over its binrpc
    socket, so a draining or dead worker leaves the set at once; OPTIONS probing
    (every ``ping_interval_seconds``) remains the backstop for a hung worker.
    """

    def __init__(self, cfg: EdgeConfig, workdir: Path, run_kamailio: bool) -> None:
        self.workdir = workdir
        self.list_path = workdir / "dispatcher.list"
        self.cfg = cfg
        self.kamcmd = shutil.which("kamcmd") or "/usr/sbin/kamcmd"
        self.proc: subprocess.Popen[bytes] | None = None
        self.current: EdgeConfig | None = None
        self._retry_at = 0.0
        self._failing_since: float | None = None
        self._write(cfg)
        if run_kamailio:
            cfg_path = workdir / "kamailio.cfg"
            cfg_path.write_text(render_kamailio_cfg(cfg, str(self.list_path)))
            kamailio = shutil.which("kamailio") or "/usr/sbin/kamailio"
            self.log_path = workdir / "kamailio.log"
            with self.log_path.open("ab") as out:
                self.proc = subprocess.Popen(
                    [kamailio, "-f", str(cfg_path), "-DD", "-E", "-Y", str(workdir),
                     "-m", "64", "-M", "8"], stdout=out, stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent)

    def _write(self, cfg: EdgeConfig) -> None:
        tmp = self.list_path.with_suffix(".tmp")
        tmp.write_text(render_dispatcher_list(cfg))
        tmp.replace(self.list_path)
        self.current = cfg

    def apply(self, cfg: EdgeConfig) -> bool:
        """Write the new set and reload Kamailio; False (logged) if the reload failed."""
        now = time.monotonic()
        if cfg == self.current or now < self._retry_at:
            return cfg == self.current
        self._write(cfg)
        if self.cfg.control_socket is None:
            return True
        done = subprocess.run([self.kamcmd, "-s", self.cfg.control_socket, "dispatcher.reload"],
                              capture_output=True, text=True, timeout=10, check=False)
        if done.returncode != 0:
            # Retried every second (Kamailio may still be starting); said once it lasts.
            self.current, self._retry_at = None, now + 1.0
            self._failing_since = self._failing_since or now
            if now - self._failing_since >= 5.0:
                log.error("edge: dispatcher reload failing for %.0f s (%s); Kamailio keeps "
                          "its previous set and its OPTIONS probes take failed workers out",
                          now - self._failing_since, (done.stdout + done.stderr).strip()[:300])
                self._failing_since = now
            return False
        self._failing_since = None
        log.info("edge: destination set now %s",
                 ", ".join(f"{d.name}={d.address}" for d in cfg.destinations) or "empty")
        return True

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
