"""The edge follower's decisions: which dispatcher list may replace the running one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hotline_operators.edge.logic import (
    backoff,
    check_list,
    list_uris,
    listed_uris,
    rpc_request,
    rpc_result,
)
from hotline_operators.site.models import EdgeDestination, EdgeSpec
from hotline_operators.traffic.logic import dispatcher_list

EDGE = EdgeSpec(config_map="site-a-edge", destinations=(
    EdgeDestination("site-a", "10.0.1.2:5071", "mn-a-0.w1"),
    EdgeDestination("site-b", "10.0.2.2:5071", "mn-b-0.w1")))


def test_the_operators_own_list_is_accepted_as_written() -> None:
    text = dispatcher_list(EDGE, "site-a", failed=["site-b"])
    checked = check_list({"dispatcher.list": text}, "dispatcher.list")
    assert (checked.text, checked.destinations, checked.problem) == (text, 1, None)
    assert list_uris(text) == {"sip:10.0.1.2:5071"}


@pytest.mark.parametrize(("data", "problem"), [
    (None, "no key"),
    ({"other": "1 sip:10.0.0.1:5060 0 0"}, "no key"),
    ({"dispatcher.list": "# rendered, but empty\n\n"}, "lists no destination"),
    ({"dispatcher.list": "one sip:10.0.0.1:5060 0 0\n"}, "is not"),
    ({"dispatcher.list": "1 http://10.0.0.1 0 0\n"}, "is not"),
])
def test_a_list_that_would_refuse_calls_is_refused(data: dict[str, str] | None,
                                                   problem: str) -> None:
    checked = check_list(data, "dispatcher.list")
    assert checked.text is None
    assert checked.problem is not None and problem in checked.problem


def test_a_missing_final_newline_is_added() -> None:
    checked = check_list({"k": "1 sip:10.0.0.1:5060 0 0"}, "k")
    assert checked.text == "1 sip:10.0.0.1:5060 0 0\n"


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff(n, 0.2, 1.0) for n in range(5)] == [0.0, 0.2, 0.4, 0.8, 1.0]


def test_rpc_round_trip_and_errors() -> None:
    assert json.loads(rpc_request("dispatcher.reload", 7)) == {
        "jsonrpc": "2.0", "method": "dispatcher.reload", "id": 7}
    ok = b'{"jsonrpc": "2.0", "result": "Ok. Dispatcher successfully reloaded.", "id": 7}'
    assert rpc_result(ok, 7).startswith("Ok.")
    with pytest.raises(ValueError, match="refused"):
        rpc_result(b'{"jsonrpc": "2.0", "error": {"code": 500, "message": "x"}, "id": 7}', 7)
    with pytest.raises(ValueError, match="wanted id 7"):
        rpc_result(ok.replace(b'"id": 7', b'"id": 8'), 7)
    with pytest.raises(ValueError, match="not JSON"):
        rpc_result(b"\x00garbage", 7)


def test_listed_uris_reads_kamailios_dispatcher_list_answer() -> None:
    result = {"NRSETS": 1, "RECORDS": [{"SET": {"ID": 1, "TARGETS": [
        {"DEST": {"URI": "sip:127.0.0.1:25071", "FLAGS": "AX"}},
        {"DEST": {"URI": "sip:127.0.0.1:25072", "FLAGS": "IP"}}]}}]}
    assert listed_uris(result) == {"sip:127.0.0.1:25071", "sip:127.0.0.1:25072"}
    assert listed_uris("Ok") == set()


def test_init_starts_kamailio_on_the_charts_list_when_the_api_server_is_away(
        tmp_path: Path) -> None:
    import socket
    import threading

    from kubernetes import client

    from hotline_operators.edge.models import FollowerSettings
    from hotline_operators.edge.wiring import ONCE_ATTEMPTS, Follower

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing answers there
    configuration = client.Configuration()
    configuration.host = f"http://127.0.0.1:{port}"
    configuration.retries = 0
    initial = tmp_path / "chart.list"
    initial.write_text("1 sip:mn.svc:5060 0 0 duid=mn;maxload=8\n")
    settings = FollowerSettings(namespace="ns", config_map="edge", key="dispatcher.list",
                                list_path=tmp_path / "dispatcher.list",
                                rpc_socket=tmp_path / "rpc.sock", initial=initial,
                                backoff_initial_s=0.01, backoff_max_s=0.02)
    Follower(settings, client.ApiClient(configuration)).run(threading.Event(), once=True)
    assert settings.list_path.read_text() == initial.read_text()
    assert ONCE_ATTEMPTS >= 3, "a blip of the API server alone does not bypass it"
