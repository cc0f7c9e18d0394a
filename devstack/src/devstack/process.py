"""Supervised server processes: logs kept, readiness polled, never orphaned."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


class ServerError(RuntimeError):
    """A server failed to start or stopped answering; the message names it."""


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: the kernel kills the server when the
    # process that started it dies, even by SIGKILL, so no server outlives its run.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    os.setpgid(0, 0)


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class ManagedProcess:
    """One server process started by devstack.

    Start it from the main thread: the parent-death signal is tied to the thread
    that forked the child.
    """

    name: str
    argv: Sequence[str]
    log_path: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        logfile = self.log_path.open("ab")
        log.info("starting %s: log %s", self.name, self.log_path)
        self.popen = subprocess.Popen(
            list(self.argv),
            stdout=logfile,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            preexec_fn=_die_with_parent,
        )
        logfile.close()

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def exit_description(self) -> str:
        if self.popen is None:
            return "was never started"
        code = self.popen.poll()
        if code is None:
            return f"is running (pid {self.popen.pid})"
        if code < 0:
            return f"was killed by signal {-code}"
        return f"exited with status {code}"

    def failure(self, what: str) -> ServerError:
        return ServerError(
            f"{self.name} {what}; it {self.exit_description()}.\n"
            f"Last lines of {self.log_path}:\n{log_tail(self.log_path)}"
        )

    def terminate(self) -> None:
        """Ask the server to stop (SIGTERM to its process group); don't wait."""
        if self.popen is None or self.popen.poll() is not None:
            return
        log.info("stopping %s (pid %s)", self.name, self.popen.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)

    def wait_stopped(self, grace: float = 15.0) -> None:
        """Wait for a terminated server; kill it if it outstays ``grace``."""
        if self.popen is None:
            return
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            log.warning("%s still running %.0fs after SIGTERM; killing it", self.name, grace)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self, grace: float = 15.0) -> None:
        self.terminate()
        self.wait_stopped(grace)

    def kill(self) -> None:
        """Hard stop, as a crash would be (for failure tests)."""
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)


def wait_for(
    check: Callable[[], T | None],
    what: str,
    *,
    timeout: float,
    interval: float = 0.1,
    error: Callable[[str], BaseException] = TimeoutError,
) -> T:
    """Call ``check`` until it returns something other than None, and return that; at
    the deadline raise ``error("<what> did not happen within <timeout>s")``."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise error(f"{what} did not happen within {timeout:.0f}s")
        time.sleep(interval)  # polling with a deadline: there is no event to wait on


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout: float,
    proc: ManagedProcess | None = None,
    what: str,
    interval: float = 0.25,
) -> None:
    """Poll a readiness probe; fail fast (with the server's log) if it dies."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        if proc is not None and not proc.alive():
            raise proc.failure(f"died before it was {what}")
        try:
            if ready():
                return
        except Exception as exc:  # probes raise while the server is coming up
            last_error = exc
        if time.monotonic() > deadline:
            reason = f" (last probe error: {last_error})" if last_error else ""
            if proc is not None:
                raise proc.failure(f"was not {what} within {timeout:.0f}s{reason}")
            raise ServerError(f"{what} did not happen within {timeout:.0f}s{reason}")
        time.sleep(interval)
