"""The stream worker's settings from the environment of a site's pod or of devstack."""

from __future__ import annotations

from hotline_streams.settings import StreamSettings


def test_a_sites_pod_names_kafka_as_the_operator_sets_it() -> None:
    """The operator's Deployments set HOTLINE_KAFKA_BOOTSTRAP; it wins over devstack's."""
    assert StreamSettings.from_env({"HOTLINE_KAFKA_BOOTSTRAP": "kafka:9092",
                                    "HOTLINE_KAFKA_SITE_A": "127.0.0.1:1"}).bootstrap \
        == "kafka:9092"
    assert StreamSettings.from_env({"HOTLINE_KAFKA_SITE_A": "127.0.0.1:1"}).bootstrap \
        == "127.0.0.1:1"


def test_the_pages_address_a_worker_binds_and_the_one_it_advertises() -> None:
    """Locally: loopback, advertised as is. In a pod: every address, advertised as the
    pod's IP the operator passes (another worker forwards a tenant's pages there)."""
    local = StreamSettings.from_env({"HOTLINE_STREAMS_WEB_PORT": "7001"})
    assert (local.web_host, local.canonical_url) == ("127.0.0.1", "http://127.0.0.1:7001")
    pod = StreamSettings.from_env({"HOTLINE_STREAMS_WEB_HOST": "0.0.0.0",
                                   "HOTLINE_STREAMS_ADVERTISED_URL": "http://10.1.2.3:6066"})
    assert (pod.web_host, pod.canonical_url) == ("0.0.0.0", "http://10.1.2.3:6066")
    assert not StreamSettings.from_env({"HOTLINE_STREAMS_WEB_HOST": "0.0.0.0"}) \
        .canonical_url.startswith("http://0.0.0.0")  # never advertise "every address"


def test_the_consumer_runs_in_its_thread_unless_asked_for_the_loop() -> None:
    assert not StreamSettings.from_env({}).consumer_in_loop
    assert StreamSettings.from_env({"HOTLINE_STREAMS_CONSUMER_IN_LOOP": "1"}).consumer_in_loop
