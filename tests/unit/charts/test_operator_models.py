"""The chart's optional Strimzi and K8ssandra templates, in those operators' own models.

`helm template` only (no server, no operator): every topic of the event catalog is a
`KafkaTopic` of this site's Kafka, MirrorMaker 2 mirrors the peer's topics under the
names the catalog expects (`<peer>.<topic>`), and the one `K8ssandraCluster` lists
every site's datacenter. The chart cannot read events/catalog.yaml (outside the
chart), so it carries a generated copy, files/topics.yaml:

    uv run python tests/unit/charts/test_operator_models.py   # rewrite files/topics.yaml
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from hotline_events.catalog import Catalog, load, mirrored

CHART = Path(__file__).resolve().parents[3] / "charts" / "hotline"
TOPICS_FILE = CHART / "files" / "topics.yaml"
REGENERATE = "uv run python tests/unit/charts/test_operator_models.py"
STRIMZI = ["--set", "strimzi.enabled=true",
           "--set", "strimzi.peerBootstrapServers=kafka-b.example:9092"]


def topics_file(catalog: Catalog) -> str:
    """files/topics.yaml: what the KafkaTopics need of every topic the catalog creates
    (its own and their dead-letter topics); configs as strings, as Kafka takes them
    (and so that Helm never prints a large number as a float)."""
    topics = [{"name": t.name, "partitions": t.partitions, "config": t.configs()}
              for t in catalog.all_topics()]
    header = ("# Generated from events/catalog.yaml; do not edit. Regenerate with:\n"
              f"#   {REGENERATE}\n")
    return header + yaml.safe_dump({"topics": topics}, sort_keys=False, width=100)


def render(*args: str) -> list[dict[str, Any]]:
    from devstack import kubernetes

    done = subprocess.run([str(kubernetes.install().helm), "template", "hotline", str(CHART),
                           "--namespace", "hl", *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def render_fails(*args: str) -> str:
    from devstack import kubernetes

    done = subprocess.run([str(kubernetes.install().helm), "template", "hotline", str(CHART),
                           "--namespace", "hl", *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0, "rendered, but should have failed"
    return done.stderr


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def test_the_charts_topic_file_is_the_catalogs() -> None:
    assert TOPICS_FILE.read_text() == topics_file(load()), (
        f"charts/hotline/files/topics.yaml differs from events/catalog.yaml; "
        f"regenerate with: {REGENERATE}")


def test_without_the_toggles_nothing_of_strimzi_or_k8ssandra_renders() -> None:
    docs = render()
    assert not [d for d in docs if d["apiVersion"].split("/")[0] in
                ("kafka.strimzi.io", "k8ssandra.io")]


def test_every_catalog_topic_is_a_kafka_topic_of_this_sites_cluster() -> None:
    docs = render(*STRIMZI)
    [kafka] = of_kind(docs, "Kafka")
    [pool] = of_kind(docs, "KafkaNodePool")
    cluster = kafka["metadata"]["name"]
    assert cluster == "site-a"
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == cluster
    assert pool["spec"]["replicas"] == 3 and sorted(pool["spec"]["roles"]) == [
        "broker", "controller"]
    assert kafka["spec"]["entityOperator"]["topicOperator"] == {}
    topics = of_kind(docs, "KafkaTopic")
    assert {t["apiVersion"] for t in topics} == {"kafka.strimzi.io/v1beta2"}
    assert {t["metadata"]["labels"]["strimzi.io/cluster"] for t in topics} == {cluster}
    assert len({t["metadata"]["name"] for t in topics}) == len(topics)
    rendered = {t["spec"]["topicName"]: (t["spec"]["partitions"], t["spec"]["replicas"],
                                         t["spec"]["config"]) for t in topics}
    catalog = load()
    assert rendered == {t.name: (t.partitions, 3, t.configs()) for t in catalog.all_topics()}
    # A broker default of the same replication as the topics, so topics the setup Job
    # creates (replication factor -1) are what the KafkaTopics say.
    assert kafka["spec"]["kafka"]["config"]["default.replication.factor"] == 3


def test_a_one_node_cluster_has_one_replica_everywhere() -> None:
    docs = render(*STRIMZI, "--set", "strimzi.replicas=1")
    config = of_kind(docs, "Kafka")[0]["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == 1 and config["min.insync.replicas"] == 1
    assert config["offsets.topic.replication.factor"] == 1
    assert {t["spec"]["replicas"] for t in of_kind(docs, "KafkaTopic")} == {1}


def test_mirror_maker_gives_the_peers_topics_the_names_the_catalog_reads() -> None:
    docs = render(*STRIMZI)
    [mm2] = of_kind(docs, "KafkaMirrorMaker2")
    spec = mm2["spec"]
    aliases = {c["alias"]: c["bootstrapServers"] for c in spec["clusters"]}
    assert aliases == {"site-b": "kafka-b.example:9092",
                       "site-a": "site-a-kafka-bootstrap:9092"}
    assert spec["connectCluster"] == "site-a"  # Strimzi: the target cluster
    [mirror] = spec["mirrors"]
    assert (mirror["sourceCluster"], mirror["targetCluster"]) == ("site-b", "site-a")
    # The default replication policy names a mirrored topic `<source alias>.<topic>`:
    # the source alias is the peer's site name, as catalog.mirrored() expects.
    for connector in ("sourceConnector", "checkpointConnector", "heartbeatConnector"):
        assert "replication.policy.class" not in mirror[connector].get("config", {})
    assert mirrored("site-b", "cc.call.events") == "site-b.cc.call.events"
    pattern = re.compile(mirror["topicsPattern"])
    names = [t.name for t in load().all_topics()]
    assert all(pattern.fullmatch(n) for n in names)
    # Topics mirrored here from elsewhere are never mirrored back.
    assert not any(pattern.fullmatch(mirrored("site-a", n)) for n in names)


def test_site_b_mirrors_from_site_a() -> None:
    docs = render("-f", str(CHART / "values-site-b.yaml"), *STRIMZI)
    [mm2] = of_kind(docs, "KafkaMirrorMaker2")
    assert mm2["metadata"]["name"] == "site-a-to-site-b"
    [mirror] = mm2["spec"]["mirrors"]
    assert (mirror["sourceCluster"], mirror["targetCluster"]) == ("site-a", "site-b")
    assert {t["metadata"]["labels"]["strimzi.io/cluster"]
            for t in of_kind(docs, "KafkaTopic")} == {"site-b"}


def test_mirror_maker_needs_the_peers_bootstrap_servers() -> None:
    stderr = render_fails("--set", "strimzi.enabled=true")
    assert "strimzi.peerBootstrapServers" in stderr


def test_one_k8ssandra_cluster_lists_every_sites_datacenter() -> None:
    docs = render("--set", "k8ssandra.enabled=true")
    [cluster] = of_kind(docs, "K8ssandraCluster")
    assert cluster["apiVersion"] == "k8ssandra.io/v1alpha1"
    cassandra = cluster["spec"]["cassandra"]
    assert cassandra["serverVersion"] == "5.0.9"
    dcs = {dc["metadata"]["name"]: dc for dc in cassandra["datacenters"]}
    assert list(dcs) == ["dc-a", "dc-b"]
    assert {dc["size"] for dc in dcs.values()} == {3}
    assert "k8sContext" not in dcs["dc-a"] and "namespace" not in dcs["dc-a"]["metadata"]
    claim = cassandra["storageConfig"]["cassandraDataVolumeClaimSpec"]
    assert claim["resources"]["requests"]["storage"] == "100Gi"
    assert "storageClassName" not in claim
    # Every datacenter the callbacks keyspace replicates to is one of the cluster's,
    # and this site's contact points are cass-operator's service of its datacenter.
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(values["callbacks"]["replication"]) <= set(dcs)
    assert values["cassandra"]["contactPoints"] == [
        f"{cluster['metadata']['name']}-{values['cassandra']['localDatacenter']}-service"]


def test_the_datacenters_carry_their_sites_context_and_namespace() -> None:
    docs = render("--set", "k8ssandra.enabled=true",
                  "--set", "k8ssandra.datacenters[0].name=dc-a",
                  "--set", "k8ssandra.datacenters[0].size=3",
                  "--set", "k8ssandra.datacenters[1].name=dc-b",
                  "--set", "k8ssandra.datacenters[1].size=5",
                  "--set", "k8ssandra.datacenters[1].k8sContext=site-b",
                  "--set", "k8ssandra.datacenters[1].namespace=hotline-b",
                  "--set", "k8ssandra.storageClassName=fast")
    [cluster] = of_kind(docs, "K8ssandraCluster")
    dc_b = cluster["spec"]["cassandra"]["datacenters"][1]
    assert dc_b == {"metadata": {"name": "dc-b", "namespace": "hotline-b"},
                    "k8sContext": "site-b", "size": 5}
    claim = cluster["spec"]["cassandra"]["storageConfig"]["cassandraDataVolumeClaimSpec"]
    assert claim["storageClassName"] == "fast"


def test_a_replicated_datacenter_missing_from_the_cluster_fails_the_render() -> None:
    stderr = render_fails("--set", "k8ssandra.enabled=true",
                          "--set", "callbacks.replication.dc-c=3")
    assert "dc-c" in stderr and "k8ssandra.datacenters" in stderr
    # --set replaces the whole list: both datacenters, dc-b smaller than its replicas.
    stderr = render_fails("--set", "k8ssandra.enabled=true",
                          "--set", "k8ssandra.datacenters[0].name=dc-a",
                          "--set", "k8ssandra.datacenters[0].size=3",
                          "--set", "k8ssandra.datacenters[1].name=dc-b",
                          "--set", "k8ssandra.datacenters[1].size=2")
    assert "dc-b" in stderr and "size 2" in stderr


if __name__ == "__main__":
    TOPICS_FILE.write_text(topics_file(load()))
    print(f"wrote {TOPICS_FILE}")
