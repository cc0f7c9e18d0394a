"""Kamailio dispatcher list and config, rendered from one EdgeConfig."""

from __future__ import annotations

import pytest

from hotline_media_nodes.edge import (
    Destination,
    EdgeConfig,
    render_dispatcher_list,
    render_kamailio_cfg,
)


def config(**changes: object) -> EdgeConfig:
    base: dict[str, object] = {
        "listen": "10.0.0.5:5060", "trunks": ("192.0.2.0/24", "198.51.100.7"),
        "destinations": (Destination("10.0.1.2:5071", "mn-a-0.w1"),
                         Destination("10.0.1.2:5072", "mn-a-0.w2", priority=5),
                         Destination("10.0.9.9:5071", "mn-b-0.w1", set_id=2))}
    return EdgeConfig(**{**base, **changes})  # type: ignore[arg-type]


def test_dispatcher_list_has_one_line_per_worker_with_its_load_cap() -> None:
    lines = render_dispatcher_list(config()).splitlines()
    assert lines[1:] == ["1 sip:10.0.1.2:5072 0 5 duid=mn-a-0.w2;maxload=4",
                         "1 sip:10.0.1.2:5071 0 0 duid=mn-a-0.w1;maxload=4",
                         "2 sip:10.0.9.9:5071 0 0 duid=mn-b-0.w1;maxload=4"]


def test_kamailio_cfg_listens_probes_and_checks_trunks() -> None:
    cfg = render_kamailio_cfg(config(), "/run/edge/dispatcher.list")
    assert "listen=udp:10.0.0.5:5060" in cfg
    assert 'modparam("dispatcher", "list_file", "/run/edge/dispatcher.list")' in cfg
    assert 'modparam("dispatcher", "ds_ping_interval", 1)' in cfg
    assert ('if (!(is_in_subnet("$si", "192.0.2.0/24") || '
            'is_in_subnet("$si", "198.51.100.7"))) {') in cfg
    assert 'ds_select_dst("1", "10")' in cfg  # call-load balancing over set 1
    assert "record_route();" in cfg and "ds_next_dst()" in cfg
    assert cfg.count("{") == cfg.count("}")


@pytest.mark.parametrize(("changes", "message"), [
    ({"listen": "nowhere"}, "listen"),
    ({"trunks": ()}, "no trunks"),
    ({"trunks": ("300.1.1.1",)}, "300.1.1.1"),
    ({"destinations": (Destination("10.0.1.2:5071", "w"), Destination("10.0.1.3:5071", "w"))},
     "repeat"),
])
def test_bad_config_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config(**changes)


def test_a_destination_cannot_promise_more_than_the_wheel_carries() -> None:
    with pytest.raises(ValueError, match=r"max_load 5 outside 1\.\.4"):
        Destination("10.0.1.2:5071", "w", max_load=5)


def test_call_load_dispatching_has_its_table_and_a_pool_may_reload_the_set() -> None:
    plain = render_kamailio_cfg(config(), "/run/edge/dispatcher.list")
    # Without ds_hash_size, algorithm 10 silently ignores the calls' load.
    assert 'modparam("dispatcher", "ds_hash_size", 9)' in plain
    assert "ctl.so" not in plain and "reload_delta" not in plain
    steered = render_kamailio_cfg(config(control_socket="unix:/run/edge/kamailio.ctl"),
                                  "/run/edge/dispatcher.list")
    assert 'loadmodule "ctl.so"' in steered
    assert 'modparam("ctl", "binrpc", "unix:/run/edge/kamailio.ctl")' in steered
    assert 'modparam("dispatcher", "reload_delta", 0)' in steered  # no reload rate limit
    assert steered.index('loadmodule "ctl.so"') > steered.index('loadmodule "dispatcher.so"')
