"""Fixtures shared by the integration tiers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import config
from kubernetes.client import ApiClient

from devstack.pytest_plugin import KubeTools
from devstack.witness_store import WitnessStore
from helpers.kube import establish
from helpers.witness import WitnessProcess
from hotline_operators import crds
from hotline_operators.witness.signing import KEYS_DIR_ENV


@pytest.fixture(scope="session")
def operator_api(kube: KubeTools) -> Iterator[ApiClient]:
    """An admin client on the real API server, with the operator's CRDs installed."""
    api_client = config.new_client_from_config(config_file=str(kube.kubeconfig))
    for crd in crds.all_crds():
        establish(api_client, crd)
    yield api_client
    api_client.close()


@pytest.fixture(scope="module")
def witness(witness_store: WitnessStore,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The failover witness as a real HTTP service on the stack's etcd (peer timeout
    2 s), under a key prefix of its own: each module starts with no leases. Its sites'
    keys are in ``$HOTLINE_WITNESS_KEYS_DIR`` meanwhile (``helpers.witness``)."""
    process = WitnessProcess(witness_store.url,
                             tmp_path_factory.mktemp("witness") / "witness.log")
    process.start()
    # The module's operators sign their requests with these keys.
    env = pytest.MonkeyPatch()
    env.setenv(KEYS_DIR_ENV, str(process.keys_dir))
    try:
        yield process.url
    finally:
        env.undo()
        process.stop()
