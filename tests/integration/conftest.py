"""Fixtures shared by the integration tiers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests
from kubernetes import config
from kubernetes.client import ApiClient

from devstack.pytest_plugin import KubeTools
from helpers.kube import establish
from hotline_operators import crds


@pytest.fixture(scope="session")
def operator_api(kube: KubeTools) -> Iterator[ApiClient]:
    """An admin client on the real API server, with the operator's CRDs installed."""
    api_client = config.new_client_from_config(config_file=str(kube.kubeconfig))
    for crd in crds.all_crds():
        establish(api_client, crd)
    yield api_client
    api_client.close()


@pytest.fixture(scope="module")
def witness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The failover witness as a real HTTP service (peer timeout 1 s)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("witness") / "witness.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hotline_operators.witness", "--host", "127.0.0.1",
             "--port", str(port), "--peer-timeout", "1.0"],
            stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not _answers(url + "/healthz"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the witness did not come up:\n{log.read_text()}")
        time.sleep(0.1)  # polling its health endpoint
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False
