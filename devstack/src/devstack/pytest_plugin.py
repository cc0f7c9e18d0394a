"""pytest fixtures for the real servers (loaded through the pytest11 entry point).

One stack per test session, started lazily: a test asks for ``kafka_site_a`` and
only that Kafka starts; a later test asking for ``mirrormaker`` adds site-b and
MirrorMaker 2. Servers named in the environment (``HOTLINE_KAFKA_SITE_A`` …, as a
running ``devstack up`` prints them) are used instead of starting new ones.
Everything started is stopped when the session ends, and dies with pytest if it is
killed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack import artifacts, cassandra, kafka, kubernetes, mirrormaker
from devstack.node import ImageArchive, Node
from devstack.process import ServerError
from devstack.stack import Component, Stack
from devstack.witness_store import WitnessStore


@pytest.fixture(scope="session")
def devstack() -> Iterator[Stack]:
    stack = Stack()
    yield stack
    stack.down()


def _up(stack: Stack, *components: Component) -> None:
    try:
        stack.up(components)
    except ServerError as exc:
        pytest.fail(f"devstack could not start {', '.join(components)}:\n{exc}", pytrace=False)


@pytest.fixture(scope="session")
def kafka_site_a(devstack: Stack) -> kafka.KafkaCluster:
    _up(devstack, Component.KAFKA_SITE_A)
    return devstack.kafka["site-a"]


@pytest.fixture(scope="session")
def kafka_site_b(devstack: Stack) -> kafka.KafkaCluster:
    _up(devstack, Component.KAFKA_SITE_B)
    return devstack.kafka["site-b"]


@pytest.fixture(scope="session")
def mirrormaker2(devstack: Stack) -> mirrormaker.MirrorMaker:
    _up(devstack, Component.MIRRORMAKER)
    assert devstack.mirrormaker is not None
    return devstack.mirrormaker


@pytest.fixture(scope="session")
def cassandra_dc_a(devstack: Stack) -> cassandra.CassandraNode:
    _up(devstack, Component.CASSANDRA_DC_A)
    return devstack.cassandra["dc-a"]


@pytest.fixture(scope="session")
def cassandra_two_dc(devstack: Stack) -> dict[str, cassandra.CassandraNode]:
    _up(devstack, Component.CASSANDRA_DC_A, Component.CASSANDRA_DC_B)
    return dict(devstack.cassandra)


@pytest.fixture(scope="session")
def witness_store(devstack: Stack) -> WitnessStore:
    """etcd for the failover witness (``--etcd witness_store.url``)."""
    _up(devstack, Component.WITNESS_STORE)
    assert devstack.witness_store is not None
    return devstack.witness_store


@dataclass(frozen=True)
class KubeTools:
    api: kubernetes.ApiServer
    kubeconfig: Path
    kubectl: Path
    helm: Path


@pytest.fixture(scope="session")
def kube(devstack: Stack) -> KubeTools:
    _up(devstack, Component.KUBERNETES)
    assert devstack.kube is not None
    binaries = kubernetes.install()
    return KubeTools(api=devstack.kube, kubeconfig=devstack.kube.kubeconfig_path,
                     kubectl=binaries.kubectl, helm=binaries.helm)


@dataclass(frozen=True)
class KubeNode:
    """A real node on the ``kube`` API server: pods run on this machine.

    Only images imported into its containerd exist (nothing can be pulled): pods
    must use ``imagePullPolicy: Never`` (an admission policy refuses others).
    ``pause_ref`` is the sandbox image, a static busybox at /bin/busybox that pods can
    run too.
    """

    node: Node
    kube: KubeTools

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def containerd_socket(self) -> Path:
        return self.node.containerd_socket

    @property
    def kubeconfig(self) -> Path:
        return self.kube.kubeconfig

    @property
    def kubectl(self) -> Path:
        return self.kube.kubectl

    @property
    def helm(self) -> Path:
        return self.kube.helm

    @property
    def pause_ref(self) -> str:
        return self.node.pause_ref

    def import_images(self, images: Mapping[str, Path] | Mapping[str, ImageArchive]
                      | Iterable[ImageArchive]) -> None:
        """Import OCI archives: ``{ref: archive}`` or ``devstack.images.build_all()``'s
        images (those already in containerd are skipped)."""
        self.node.import_images(images)


@pytest.fixture(scope="session")
def kube_node(devstack: Stack, kube: KubeTools) -> KubeNode:
    if os.geteuid() != 0:
        pytest.skip("a real node (containerd, kubelet, pod network) needs root")
    _up(devstack, Component.NODE)
    assert devstack.node is not None
    return KubeNode(node=devstack.node, kube=kube)


@pytest.fixture(scope="session")
def sipp() -> Path:
    artifacts.debian_packages({"sipp": "sip-tester"})
    path = shutil.which("sipp")
    assert path is not None, "sipp is still missing after installing sip-tester"
    return Path(path)
