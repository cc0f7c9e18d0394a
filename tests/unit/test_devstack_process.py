"""A server that dies while starting is reported with its name, status and log."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.network import PortAllocator, cassandra_addresses, port_is_free
from devstack.process import ManagedProcess, ServerError, wait_until


def test_a_server_that_dies_during_start_is_reported_with_its_log(tmp_path: Path) -> None:
    proc = ManagedProcess(name="kafka site-z", log_path=tmp_path / "kafka.log",
                          argv=["sh", "-c", "echo 'ERROR log.dirs is not writable'; exit 3"])
    proc.start()
    with pytest.raises(ServerError) as failure:
        wait_until(lambda: False, timeout=30, proc=proc, what="listening")
    message = str(failure.value)
    assert message.startswith("kafka site-z died before it was listening")
    assert "exited with status 3" in message
    assert "ERROR log.dirs is not writable" in message
    assert str(tmp_path / "kafka.log") in message


def test_a_server_that_never_becomes_ready_times_out_by_name(tmp_path: Path) -> None:
    proc = ManagedProcess(name="etcd", log_path=tmp_path / "etcd.log",
                          argv=["sh", "-c", "echo waiting; exec sleep 30"])
    proc.start()
    try:
        with pytest.raises(ServerError, match=r"etcd was not healthy within 0s"):
            wait_until(lambda: False, timeout=0.3, proc=proc, what="healthy")
    finally:
        proc.stop(grace=5)
    assert not proc.alive()


def test_ports_are_not_handed_out_twice() -> None:
    ports = PortAllocator()
    taken = [ports.take() for _ in range(50)]
    assert len(set(taken)) == 50
    assert all(port_is_free("127.0.0.1", p) for p in taken)


def test_cassandra_nodes_get_one_fresh_loopback_block() -> None:
    a, b = cassandra_addresses(2, (7000, 9042))
    assert a.rsplit(".", 1)[0] == b.rsplit(".", 1)[0]
    assert (a.rsplit(".", 1)[1], b.rsplit(".", 1)[1]) == ("2", "3")


def test_wait_for_returns_the_first_answer_and_raises_the_given_error_at_the_deadline() -> None:
    from devstack.process import wait_for

    answers = iter([None, None, "ready"])
    assert wait_for(lambda: next(answers), "the answer", timeout=5, interval=0) == "ready"
    with pytest.raises(AssertionError, match="nothing did not happen within 0s"):
        wait_for(lambda: None, "nothing", timeout=0, interval=0, error=AssertionError)
