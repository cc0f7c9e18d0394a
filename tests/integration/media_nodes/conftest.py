"""Fixtures of the media-node tests (helpers are in ``media_nodes_support``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from media_nodes_support import FLOW, CallReader, Worker, start_worker

from devstack.kafka import KafkaCluster
from hotline_events.catalog import Catalog, default_catalog
from hotline_events.models.calls import CallOffered
from hotline_events.topics import ensure_topics
from hotline_media_nodes.ivr.loader import load_flow
from hotline_media_nodes.prompts import install_prompts


@pytest.fixture(scope="module")
def catalog(kafka_site_a: KafkaCluster) -> Catalog:
    isolated = default_catalog().prefixed(f"t{uuid.uuid4().hex[:8]}.")
    ensure_topics(kafka_site_a.bootstrap, isolated)
    return isolated


@pytest.fixture(scope="module")
def prompt_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("prompts")
    install_prompts(load_flow(FLOW), cache)
    return cache


@pytest.fixture(scope="module")
def worker(kafka_site_a: KafkaCluster, catalog: Catalog, prompt_cache: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    w = start_worker(kafka_site_a.bootstrap, catalog, prompt_cache,
                     tmp_path_factory.mktemp("worker"), "mn-it-0")
    yield w
    assert w.stop() == 0, f"worker exited badly:\n{w.log_text()[-3000:]}"


@pytest.fixture()
def call_events(kafka_site_a: KafkaCluster, catalog: Catalog) -> Iterator[CallReader]:
    topic = catalog.topic_for_type(CallOffered.TYPE)
    reader = CallReader(kafka_site_a.bootstrap, topic.name)
    yield reader
    reader.close()
