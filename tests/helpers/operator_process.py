"""The operator in tests: as a real OS process (kill -9 it, restart it) or in-process
under kopf's runner, its site's status, and a polling helper."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kopf.testing import KopfRunner
from kubernetes import client
from kubernetes.client import ApiClient

from devstack.process import wait_for
from hotline_operators import crds

T = TypeVar("T")


def poll(check: Callable[[], T | None], what: str, timeout: float = 60) -> T:
    """Call ``check`` until it returns something other than None (or fail at the deadline)."""
    return wait_for(check, what, timeout=timeout, error=AssertionError)


class OperatorProcess:
    """`kopf run --standalone -n <namespaces> -m hotline_operators.operator`, logging to a file."""

    def __init__(self, kubeconfig: Path, namespaces: list[str], name: str, logs: Path,
                 env: Mapping[str, str] | None = None, args: tuple[str, ...] = ()) -> None:
        self.name = name
        self.log = logs / f"{name}.log"
        scope = [arg for ns in namespaces for arg in ("-n", ns)]
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kopf", "run", "--standalone", *scope, *args,
                 "-m", "hotline_operators.operator"], stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "KUBECONFIG": str(kubeconfig), **(env or {})})

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def site_status(api: ApiClient, namespace: str, site: str = "site-a") -> dict[str, Any]:
    """The ContactCenterSite's status as the operator last wrote it."""
    body: Any = client.CustomObjectsApi(api).get_namespaced_custom_object(
        crds.GROUP, crds.VERSION, namespace, crds.SITES, site)
    return dict(body.get("status") or {})


@contextmanager
def operator_in_process(kubeconfig: Path, namespace: str) -> Iterator[KopfRunner]:
    """The operator run by kopf's test runner in this process, watching ``namespace``;
    on leaving, it must have stopped cleanly."""
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    runner = KopfRunner(["run", "--standalone", "--namespace", namespace,
                         "-m", "hotline_operators.operator"], timeout=60)
    try:
        with runner:
            yield runner
    finally:
        monkeypatch.undo()
    assert runner.exception is None, runner.exception
    assert runner.exit_code == 0, runner.output
