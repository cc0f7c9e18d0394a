"""kube-apiserver on etcd, envtest style; devstack.node adds a real node to it.

Both are built from the Go module proxy through wrapper modules in devstack/go/;
helm and kubectl come the same way. Clients get a kubeconfig with an admin token.

As root, the API server binds and advertises the pod bridge's gateway address
(``network.POD_GATEWAY``, a local address) instead of 127.0.0.1, so that a node can
be added at any time and its pods reach the API through the ``kubernetes`` Service.
Its certificates come from a per-run CA (``devstack.pki``) that also signs the node
components' client certificates.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from devstack import artifacts, network
from devstack.network import PortAllocator, tcp_open
from devstack.pki import Authority
from devstack.process import ManagedProcess, ServerError, wait_until
from devstack.settings import ETCD_VERSION, HELM_VERSION, KUBERNETES_VERSION

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Binaries:
    etcd: Path
    kube_apiserver: Path
    kubectl: Path
    helm: Path


def kubernetes_stamps() -> dict[str, str]:
    # What Kubernetes' release build sets; without it the API server reports
    # v0.0.0-master and charts with a kubeVersion constraint refuse to install.
    major, minor = KUBERNETES_VERSION.lstrip("v").split(".")[:2]
    base = "k8s.io/component-base/version"
    return {f"{base}.gitVersion": KUBERNETES_VERSION, f"{base}.gitMajor": major,
            f"{base}.gitMinor": minor, f"{base}.gitTreeState": "clean"}


def _helm_stamps() -> dict[str, str]:
    # helm's version, and the Kubernetes version `helm template`/`lint` assume.
    major, minor = KUBERNETES_VERSION.lstrip("v").split(".")[:2]
    return {"helm.sh/helm/v3/internal/version.version": HELM_VERSION,
            "helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor": major,
            "helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor": minor,
            "helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor": major,
            "helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor": minor}


def etcd_binary() -> Path:
    """etcd, built once: the API server's store, and the witness's (devstack.witness_store)."""
    return artifacts.go_binary("etcd", "go.etcd.io/etcd/server/v3", "etcd", ETCD_VERSION)


def install() -> Binaries:
    return Binaries(
        etcd=etcd_binary(),
        kube_apiserver=artifacts.go_binary(
            "kubernetes", "k8s.io/kubernetes/cmd/kube-apiserver", "kube-apiserver",
            KUBERNETES_VERSION, kubernetes_stamps()),
        kubectl=artifacts.go_binary(
            "kubernetes", "k8s.io/kubernetes/cmd/kubectl", "kubectl", KUBERNETES_VERSION,
            kubernetes_stamps()),
        helm=artifacts.go_binary("helm", "helm.sh/helm/v3/cmd/helm", "helm", HELM_VERSION,
                                 _helm_stamps()),
    )


def kubeconfig(*, server: str, token: str, ca_file: Path | None) -> dict[str, object]:
    cluster: dict[str, object] = {"server": server}
    if ca_file is not None:
        cluster["certificate-authority"] = str(ca_file)
    else:
        cluster["insecure-skip-tls-verify"] = True
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "devstack", "cluster": cluster}],
        "users": [{"name": "devstack-admin", "user": {"token": token}}],
        "contexts": [{"name": "devstack",
                      "context": {"cluster": "devstack", "user": "devstack-admin"}}],
        "current-context": "devstack",
    }


def _generate_service_account_key(directory: Path) -> tuple[Path, Path]:
    key, pub = directory / "sa.key", directory / "sa.pub"
    if not key.exists():
        subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True,
                       capture_output=True)
        subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(pub)],
                       check=True, capture_output=True)
    return key, pub


NO_PULLS_POLICY = "devstack-no-image-pulls"


def no_pulls_policy() -> list[tuple[str, dict[str, object]]]:
    """A ValidatingAdmissionPolicy (and its binding) that refuses any pod that could pull
    an image: nothing may leave this machine, and no registry is reachable anyway. A
    pod that names an image the node lacks is refused at once, naming the fix, instead
    of retrying a pull (a DNS lookup out of the machine) and holding node resources."""
    group = "/apis/admissionregistration.k8s.io/v1"
    never = "c.imagePullPolicy == 'Never'"
    policy: dict[str, object] = {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": NO_PULLS_POLICY},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                "resources": ["pods"]}]},
            "validations": [{
                "expression": f"object.spec.containers.all(c, {never}) && "
                              f"(!has(object.spec.initContainers) || "
                              f"object.spec.initContainers.all(c, {never}))",
                "message": "the devstack node pulls no image (nothing may leave this "
                           "machine): set imagePullPolicy: Never and import the image "
                           "(`devstack images build`, kube_node.import_images)",
                "reason": "Forbidden"}]}}
    binding: dict[str, object] = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": NO_PULLS_POLICY},
        "spec": {"policyName": NO_PULLS_POLICY, "validationActions": ["Deny"]}}
    return [(f"{group}/validatingadmissionpolicies", policy),
            (f"{group}/validatingadmissionpolicybindings", binding)]


@dataclass
class ApiServer:
    """The API server with its etcd; ``kubeconfig_path`` is what clients use."""

    server: str
    kubeconfig_path: Path
    token: str | None = None
    ca_file: Path | None = None
    etcd_url: str | None = None
    etcd: ManagedProcess | None = None
    apiserver: ManagedProcess | None = None  # both None: an external API server
    # Started by devstack only: where it listens, its CA (which signs node
    # components' client certificates) and the service-account signing key.
    address: str | None = None
    ca: Authority | None = None
    service_account_key: Path | None = None

    @property
    def node_capable(self) -> bool:
        """Whether devstack.node can join: the API server listens on the pod gateway."""
        return self.address == network.POD_GATEWAY and self.ca is not None

    @property
    def name(self) -> str:
        return f"kube-apiserver ({self.server})"

    def get(self, path: str) -> requests.Response:
        """GET a path as the admin (devstack-started API servers only)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        verify: str | bool = str(self.ca_file) if self.ca_file else True
        return requests.get(self.server + path, headers=headers, verify=verify, timeout=5)

    def create(self, path: str, body: dict[str, object]) -> None:
        """POST an object as the admin; one that exists already is left as it is."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        verify: str | bool = str(self.ca_file) if self.ca_file else True
        answer = requests.post(self.server + path, json=body, headers=headers, verify=verify,
                               timeout=10)
        if answer.status_code not in (200, 201, 409):
            raise ServerError(f"{self.name} refused {body.get('kind')} at {path}: "
                              f"{answer.status_code} {answer.text[:500]}")

    def etcd_healthy(self) -> bool:
        if self.etcd_url is None:
            return True
        answer = requests.get(self.etcd_url + "/health", timeout=3).json()
        return bool(answer.get("health") == "true")

    def apiserver_ready(self) -> bool:
        if self.token is None:  # external: let the kubeconfig's own auth speak
            from kubernetes import client, config

            api = config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=str(self.kubeconfig_path))
            client.VersionApi(api).get_code(_request_timeout=5)
            return True
        return self.get("/readyz").status_code == 200

    def check(self) -> None:
        for proc in (self.etcd, self.apiserver):
            if proc is not None and not proc.alive():
                raise proc.failure("is not running")
        try:
            if not self.etcd_healthy():
                raise ServerError(f"etcd ({self.etcd_url}) reports itself unhealthy")
        except requests.RequestException as exc:
            raise ServerError(f"etcd ({self.etcd_url}) is not answering: {exc}") from exc
        try:
            if self.token is None:
                self.apiserver_ready()
                return
            response = self.get("/readyz?verbose")
        except Exception as exc:
            raise ServerError(f"{self.name} is not answering: {exc}") from exc
        if response.status_code != 200:
            raise ServerError(f"{self.name} is not ready:\n{response.text[-2000:]}")

    def wait_ready(self, timeout: float = 120.0) -> None:
        if self.etcd is not None:
            wait_until(self.etcd_healthy, timeout=timeout, proc=self.etcd, what="healthy")
        if self.apiserver is not None:
            wait_until(self.apiserver_ready, timeout=timeout, proc=self.apiserver,
                       what="ready (/readyz)")
        if self.node_capable:
            # Before any pod exists: a node may join later in the run and would run
            # (and try to pull for) every pod made before it.
            for path, body in no_pulls_policy():
                self.create(path, body)

    def processes(self) -> list[ManagedProcess]:
        return [p for p in (self.etcd, self.apiserver) if p is not None]


def start(run_dir: Path, ports: PortAllocator) -> ApiServer:
    """Spawn etcd and the API server; call wait_ready() afterwards."""
    binaries = install()
    home = run_dir / "kubernetes"
    certs = home / "certs"
    certs.mkdir(parents=True, exist_ok=True)
    address = _listen_address()
    client_port, peer_port, secure_port = ports.take(), ports.take(), ports.take()
    etcd_url = f"http://127.0.0.1:{client_port}"
    etcd = ManagedProcess(
        name="etcd",
        argv=[
            str(binaries.etcd), "--name=devstack", f"--data-dir={home / 'etcd'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-cluster=devstack=http://127.0.0.1:{peer_port}",
            "--unsafe-no-fsync=true", "--log-level=warn",
        ],
        log_path=home / "etcd.log",
    )
    etcd.start()
    token = secrets.token_hex(16)
    tokens = home / "tokens.csv"
    tokens.write_text(f'{token},devstack-admin,devstack-admin,"system:masters"\n')
    sa_key, sa_pub = _generate_service_account_key(certs)
    ca = Authority.create(certs)
    serving = ca.issue(
        "apiserver", common_name="kube-apiserver", client=False, server=True,
        ips=tuple(dict.fromkeys(("127.0.0.1", address, network.API_SERVICE_IP))),
        dns=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
             "kubernetes.default.svc.cluster.local"))
    # The API server's own identity towards kubelets (logs, exec, port-forward).
    kubelet_client = ca.issue("apiserver-kubelet-client",
                              common_name="kube-apiserver-kubelet-client",
                              organizations=("system:masters",))
    node_flags = [
        # A real cluster's admission: pods get their service-account token mounted
        # (the ServiceAccount plugin), kubelets may only touch their own node's objects.
        "--enable-admission-plugins=NodeRestriction",
        "--authorization-mode=Node,RBAC",
        f"--kubelet-client-certificate={kubelet_client.cert}",
        f"--kubelet-client-key={kubelet_client.key}",
        f"--kubelet-certificate-authority={ca.cert}",
        "--kubelet-preferred-address-types=InternalIP",
    ] if address == network.POD_GATEWAY else [
        # No node can join (not root): envtest style, no pods are ever run.
        "--disable-admission-plugins=ServiceAccount",
        "--authorization-mode=RBAC",
    ]
    apiserver = ManagedProcess(
        name="kube-apiserver",
        argv=[
            str(binaries.kube_apiserver),
            f"--etcd-servers={etcd_url}",
            f"--cert-dir={certs}",
            f"--tls-cert-file={serving.cert}",
            f"--tls-private-key-file={serving.key}",
            f"--client-ca-file={ca.cert}",
            f"--secure-port={secure_port}",
            f"--bind-address={address}",
            f"--advertise-address={address}",
            f"--service-cluster-ip-range={network.SERVICE_CIDR}",
            "--allow-privileged=true",
            *node_flags,
            f"--token-auth-file={tokens}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={sa_pub}",
            f"--service-account-signing-key-file={sa_key}",
            "--v=1",
        ],
        log_path=home / "kube-apiserver.log",
    )
    server = f"https://{address}:{secure_port}"
    kubeconfig_path = home / "kubeconfig"
    ca_file = ca.cert
    kubeconfig_path.write_text(yaml.safe_dump(kubeconfig(server=server, token=token,
                                                         ca_file=ca_file)))
    api = ApiServer(server=server, kubeconfig_path=kubeconfig_path, token=token,
                    ca_file=ca_file, etcd_url=etcd_url, etcd=etcd, apiserver=apiserver,
                    address=address, ca=ca, service_account_key=sa_key)
    # etcd must answer before the API server starts, or it exits after retries.
    wait_until(lambda: tcp_open("127.0.0.1", client_port), timeout=30, proc=etcd,
               what=f"listening on {etcd_url}")
    apiserver.start()
    return api


def _listen_address() -> str:
    """The pod gateway when the pod network can be set up (root), else 127.0.0.1."""
    if os.geteuid() != 0:
        return "127.0.0.1"
    try:
        network.ensure_pod_network()
    except (network.PodNetworkError, OSError) as exc:
        log.warning("kube-apiserver listens on 127.0.0.1: no node can join (%s)", exc)
        return "127.0.0.1"
    return network.POD_GATEWAY


def external(kubeconfig_path: str) -> ApiServer:
    """An existing API server, reached through an admin kubeconfig.

    Its health is checked through the kubernetes client, which understands every
    kind of credential and CA a kubeconfig can carry.
    """
    config = yaml.safe_load(Path(kubeconfig_path).read_text())
    context_name = config["current-context"]
    context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    return ApiServer(server=cluster["server"], kubeconfig_path=Path(kubeconfig_path))
