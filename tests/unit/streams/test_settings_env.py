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
