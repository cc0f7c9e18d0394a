"""devstack's pure parts: rendered configs, start order, environment overrides."""

from __future__ import annotations

from pathlib import Path

from devstack import cassandra, kafka, kubernetes, mirrormaker, network, node
from devstack.settings import ExternalEndpoints
from devstack.stack import PROFILES, Component, resolve


def parse_properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")


def test_kafka_is_a_single_kraft_node_on_loopback() -> None:
    props = parse_properties(
        kafka.server_properties(port=19092, controller_port=19093, log_dir=Path("/x")))
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["auto.create.topics.enable"] == "false"


def test_cluster_ids_are_kraft_shaped() -> None:
    ids = {kafka.new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 22 and not i.startswith("-") and "=" not in i for i in ids)


def test_mirrormaker_mirrors_every_site_to_every_other_quickly() -> None:
    props = parse_properties(mirrormaker.mm2_properties(
        {"site-b": "127.0.0.1:2", "site-a": "127.0.0.1:1"}))
    assert props["clusters"] == "site-a,site-b"
    assert props["site-a->site-b.enabled"] == "true"
    assert props["site-b->site-a.enabled"] == "true"
    assert props["sync.group.offsets.enabled"] == "true"
    assert int(props["refresh.topics.interval.seconds"]) <= 5
    assert int(props["emit.checkpoints.interval.seconds"]) <= 5
    assert props["offset.lag.max"] == "0"
    replication = {k: v for k, v in props.items() if k.endswith("replication.factor")}
    assert len(replication) == 7 and set(replication.values()) == {"1"}
    assert mirrormaker.remote_topic("site-a", "cc.call.events") == "site-a.cc.call.events"


def test_cassandra_nodes_share_seeds_and_get_distinct_tokens() -> None:
    seeds = ["127.9.9.2", "127.9.9.3"]
    a = cassandra.node_config(address=seeds[0], seeds=seeds, index=0)
    b = cassandra.node_config(address=seeds[1], seeds=seeds, index=1)
    assert a["initial_token"] != b["initial_token"]
    assert a["seed_provider"] == b["seed_provider"]
    assert a["endpoint_snitch"] == "GossipingPropertyFileSnitch"
    assert cassandra.rackdc_properties("dc-b") == "dc=dc-b\nrack=rack1\n"


def test_profiles_start_dependencies_first() -> None:
    assert resolve([Component.MIRRORMAKER]) == [
        Component.KAFKA_SITE_A, Component.KAFKA_SITE_B, Component.MIRRORMAKER]
    assert set(PROFILES["single"]) < set(PROFILES["two-site"])
    assert resolve(PROFILES["two-site"]) == [c for c in Component if c is not Component.NODE]
    assert resolve([Component.NODE]) == [Component.KUBERNETES, Component.NODE]
    assert set(PROFILES["node"]) == set(PROFILES["single"]) | {Component.NODE}


def test_pods_get_no_default_route_and_no_masquerade() -> None:
    bridge = node.cni_config(Path("/ipam"))["plugins"][0]  # type: ignore[index]
    assert not bridge["isDefaultGateway"] and not bridge["ipMasq"] and not bridge["isGateway"]
    assert bridge["ipam"]["routes"] == [{"dst": network.SERVICE_CIDR}]
    assert bridge["ipam"]["ranges"] == [[{"subnet": network.POD_SUBNET,
                                          "gateway": network.POD_GATEWAY}]]


def test_external_servers_come_from_the_environment() -> None:
    ext = ExternalEndpoints.from_environ({
        "HOTLINE_KAFKA_SITE_A": "broker:9092", "HOTLINE_CASSANDRA_DC_A": " ",
        "HOTLINE_MIRRORMAKER": "external",
    })
    assert ext.kafka_site_a == "broker:9092"
    assert ext.cassandra_dc_a is None, "blank means: start one"
    assert ext.mirrormaker_external
    assert ExternalEndpoints.from_environ({}).kubeconfig is None


def test_kubeconfig_uses_the_token_and_the_ca() -> None:
    cfg = kubernetes.kubeconfig(server="https://127.0.0.1:6443", token="t0k",
                                ca_file=Path("/certs/ca.crt"))
    assert cfg["current-context"] == "devstack"
    assert cfg["users"] == [{"name": "devstack-admin", "user": {"token": "t0k"}}]
    assert cfg["clusters"] == [{"name": "devstack", "cluster": {
        "server": "https://127.0.0.1:6443", "certificate-authority": "/certs/ca.crt"}}]


def test_the_printed_variables_read_back_as_the_same_servers() -> None:
    ext = ExternalEndpoints(kafka_site_a="127.0.0.1:1", kafka_site_b=None,
                            cassandra_dc_a="127.9.9.2:9042", cassandra_dc_b=None,
                            kubeconfig="/k/config", mirrormaker_external=False)
    assert ExternalEndpoints.from_environ(ext.to_environ()) == ext
