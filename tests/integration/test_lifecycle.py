"""devstack notices a dead server, names it, and never leaves orphans behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from devstack.process import ServerError
from devstack.settings import ExternalEndpoints
from devstack.stack import Component, Stack

pytestmark = pytest.mark.integration

NO_EXTERNALS = ExternalEndpoints.from_environ({})


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_gone(pids: list[int], timeout: float = 30.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if pid_alive(p)]
        if not alive:
            return []
        time.sleep(0.1)  # polling /proc: the kernel has no exit notice for non-children
    return [p for p in pids if pid_alive(p)]


def test_a_stopped_server_fails_the_health_check_by_name() -> None:
    stack = Stack(external=NO_EXTERNALS)
    try:
        stack.up([Component.KAFKA_SITE_A])
        stack.check()
        process = stack.kafka["site-a"].process
        assert process is not None and process.pid is not None
        process.kill()
        with pytest.raises(ServerError) as failure:
            stack.check()
        message = str(failure.value)
        assert "kafka site-a" in message
        assert "killed by signal 9" in message
        assert "kafka.log" in message, "the failure points at the server's log"
    finally:
        stack.down()


def test_stop_leaves_no_process_behind() -> None:
    stack = Stack(external=NO_EXTERNALS)
    stack.up([Component.KAFKA_SITE_A])
    pids = [p.pid for s in stack.servers() for p in s.processes() if p.pid is not None]
    assert pids and all(pid_alive(p) for p in pids)
    stack.down()
    assert wait_gone(pids, timeout=5) == []


CHILD = textwrap.dedent("""
    import json, sys
    from devstack.settings import ExternalEndpoints
    from devstack.stack import Component, Stack
    stack = Stack(external=ExternalEndpoints.from_environ({}))
    stack.up([Component.KUBERNETES])
    pids = [p.pid for p in (stack.kube.etcd, stack.kube.apiserver)]
    print(json.dumps(pids), flush=True)
    sys.stdin.read()  # hold the stack until the test kills this process
""")


def test_servers_die_with_a_killed_parent() -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=dict(os.environ))
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, child.stderr.read().decode(errors="replace") if child.stderr else ""
        pids = json.loads(line)
        assert len(pids) == 2 and all(pid_alive(p) for p in pids)
        child.kill()  # SIGKILL: no atexit, no cleanup code runs in the parent
        child.wait(timeout=10)
        assert wait_gone(pids) == [], "etcd/kube-apiserver outlived the process that started them"
    finally:
        if child.poll() is None:
            child.kill()
