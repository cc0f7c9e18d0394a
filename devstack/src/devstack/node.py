"""A real Kubernetes node on this machine: pods run here, under containerd and runc.

It joins a devstack-started API server (``kubernetes.start``, run as root, so that
it listens on the pod bridge's gateway) and adds what envtest leaves out:
kube-controller-manager (garbage collection, namespaces, service-account tokens,
``kube-root-ca.crt``), kube-scheduler, a kubelet on containerd, and kube-proxy
(iptables mode). Every component authenticates with a client certificate from the
API server's per-run CA; the API server authorizes the kubelet with Node,RBAC and
kubelets accept only that CA's certificates or webhook-checked tokens.

Nothing can be pulled: images are imported from OCI archives (``ctr images
import``), and pods must use ``imagePullPolicy: Never`` (an admission policy
refuses any other).

Addresses (``devstack.network``): pods on bridge ``hotline0`` (10.244.0.0/24,
gateway and node IP 10.244.0.1, no default route, no masquerade), Services in
10.0.0.0/24 (routed onto the bridge), blackhole routes for 10.244.0.0/16 and
10.0.0.0/16 around them. One node per machine: the bridge, the pod range and
kube-proxy's iptables rules are shared.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import subprocess
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import requests
import urllib3
import yaml

from devstack import artifacts, network
from devstack.kubernetes import ApiServer, kubernetes_stamps
from devstack.network import PortAllocator
from devstack.pki import Authority, KeyPair
from devstack.process import ManagedProcess, ServerError, wait_until
from devstack.settings import KUBERNETES_VERSION, cache_dir, runs_dir

log = logging.getLogger(__name__)

NODE_NAME = "devstack"
CNI_BIN_DIR = Path("/usr/lib/cni")  # Debian's containernetworking-plugins
# Debian packages by the command (or file) each provides.
DEBIAN_PACKAGES: dict[str, str] = {
    "containerd": "containerd",
    "containerd-shim-runc-v2": "containerd",
    "ctr": "containerd",
    "runc": "runc",
    "iptables": "iptables",
    "conntrack": "conntrack",
    str(CNI_BIN_DIR / "bridge"): "containernetworking-plugins",
    "buildah": "buildah",              # the fallback pause image
    "busybox": "busybox-static",
}
# The kubelet sets these kernel tunables when it starts (it has no switch to leave
# them alone, only one to fail instead); they are put back when the node stops.
_KUBELET_SYSCTLS = ("vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic",
                    "kernel/panic_on_oops", "kernel/keys/root_maxkeys",
                    "kernel/keys/root_maxbytes")
_SHIM = "containerd-shim-runc-v2"
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes; containerd adds ".ttrpc"


class NodeError(ServerError):
    """The node could not start or is unhealthy; the message says what to do."""


@dataclass(frozen=True)
class Binaries:
    kubelet: Path
    kube_scheduler: Path
    kube_controller_manager: Path
    kube_proxy: Path


def install() -> Binaries:
    """The Debian packages and the four node binaries (built once, cached)."""
    artifacts.debian_packages(DEBIAN_PACKAGES)

    def build(name: str) -> Path:
        return artifacts.go_binary("kubernetes", f"k8s.io/kubernetes/cmd/{name}", name,
                                   KUBERNETES_VERSION, kubernetes_stamps())

    return Binaries(kubelet=build("kubelet"), kube_scheduler=build("kube-scheduler"),
                    kube_controller_manager=build("kube-controller-manager"),
                    kube_proxy=build("kube-proxy"))


# -- images ---------------------------------------------------------------------------

def busybox_pause_image() -> tuple[str, Path]:
    """A pause image from Debian's static busybox: ``(ref, OCI archive)``, cached.

    busybox stays at /bin/busybox running ``sleep infinity`` (named /pause, busybox
    would look for an applet "pause" and exit 127). Pods can use it as a tiny
    busybox image too (``command: [/bin/busybox, ...]``).
    """
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        raise NodeError("/bin/busybox is missing; apt-get install busybox-static")
    linked = subprocess.run(["ldd", str(busybox)], capture_output=True, text=True, check=False)
    if "not a dynamic executable" not in linked.stdout + linked.stderr:
        raise NodeError("/bin/busybox is dynamically linked (package busybox, not "
                        "busybox-static); apt-get install busybox-static")
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "busybox-static"],
                             capture_output=True, text=True, check=False).stdout.strip()
    tag = "busybox-" + "".join(c if c.isalnum() or c in "._-" else "-" for c in version)
    ref = f"localhost/hotline/devstack-pause:{tag}"
    archive = cache_dir() / "images" / f"devstack-pause-{tag}.tar"
    if archive.exists():
        return ref, archive
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".partial")
    partial.unlink(missing_ok=True)

    def buildah(*args: str) -> str:
        done = subprocess.run(["buildah", *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise NodeError(f"buildah {' '.join(args)} failed:\n{done.stderr[-2000:]}")
        return done.stdout.strip()

    container = buildah("from", "scratch")
    try:
        buildah("copy", container, str(busybox), "/bin/busybox")
        buildah("config", "--entrypoint", '["/bin/busybox", "sleep", "infinity"]',
                "--cmd", "", container)
        buildah("commit", "-q", container, ref)
    finally:
        buildah("rm", container)
    buildah("push", ref, f"oci-archive:{partial}:{ref}")
    partial.rename(archive)
    return ref, archive


def default_images() -> tuple[str, dict[str, Path]]:
    """The sandbox image: ``(pause_ref, {pause_ref: archive})``.

    The busybox pause image, which needs nothing but Debian's busybox-static: the
    node does not wait for the platform's images (devstack.images, minutes to build
    cold). Whoever runs those imports them (``Node.import_images``).
    """
    ref, archive = busybox_pause_image()
    return ref, {ref: archive}


class ImageArchive(Protocol):
    """What devstack.images.Image offers: a ref and the OCI archive holding it."""

    @property
    def ref(self) -> str: ...

    @property
    def archive(self) -> Path: ...


def archives_by_ref(images: Mapping[str, Path] | Mapping[str, ImageArchive]
                    | Iterable[ImageArchive]) -> dict[str, Path]:
    """``{ref: archive}`` from either that, or images (``devstack.images.build_all()``)."""
    if isinstance(images, Mapping):
        values = list(images.items())
        if all(isinstance(v, Path) for _, v in values):
            return {str(k): Path(v) for k, v in values}
        return {v.ref: Path(v.archive) for _, v in values if not isinstance(v, Path)}
    return {image.ref: Path(image.archive) for image in images}


# -- configuration files ----------------------------------------------------------------

def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def containerd_config(home: Path, socket: Path, pause_ref: str) -> str:
    q = _toml_string
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""\
version = 2
root = {q(str(home / "root"))}
state = {q(str(home / "state"))}

[grpc]
  address = {q(str(socket))}

[plugins."io.containerd.internal.v1.opt"]
  path = {q(str(home / "opt"))}

[{cri}]
  sandbox_image = {q(pause_ref)}
  # Root here lacks CAP_SYS_RESOURCE: runc cannot set the sandbox's oom_score_adj
  # (-998) and every pod fails with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  # Network namespaces under our state dir, not /var/run/netns: stop unmounts them.
  netns_mounts_under_state_dir = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  # Else the shim keeps runc's state in /run/containerd/runc, shared with the host's.
  Root = {q(str(home / "runc"))}

[{cri}.cni]
  bin_dir = {q(str(CNI_BIN_DIR))}
  conf_dir = {q(str(home / "cni"))}
"""


def cni_config(ipam_dir: Path) -> dict[str, object]:
    return {
        "cniVersion": "1.0.0",
        "name": "hotline",
        "plugins": [{
            "type": "bridge",
            "bridge": network.POD_BRIDGE,
            # The gateway address is already on the bridge (network.ensure_pod_network);
            # isGateway would also switch on ip_forward for every interface.
            "isGateway": False,
            "isDefaultGateway": False,
            "ipMasq": False,
            "hairpinMode": True,
            "ipam": {
                "type": "host-local",
                "dataDir": str(ipam_dir),
                "ranges": [[{"subnet": network.POD_SUBNET, "gateway": network.POD_GATEWAY}]],
                # Pods need only the bridge's subnet (connected) and the Services, which
                # kube-proxy DNATs on the host; no default route: nothing leaves.
                "routes": [{"dst": network.SERVICE_CIDR}],
            },
        }],
    }


def cert_kubeconfig(server: str, ca: Path, pair: KeyPair, user: str) -> dict[str, object]:
    return {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "devstack",
                      "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": {"client-certificate": str(pair.cert),
                                          "client-key": str(pair.key)}}],
        "contexts": [{"name": "devstack", "context": {"cluster": "devstack", "user": user}}],
        "current-context": "devstack",
    }


def kubelet_config(*, home: Path, socket: Path, ca: Path, serving: KeyPair, port: int,
                   healthz_port: int) -> dict[str, object]:
    disk_never_full = {"nodefs.available": "0%", "nodefs.inodesFree": "0%",
                       "imagefs.available": "0%", "imagefs.inodesFree": "0%"}
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "containerRuntimeEndpoint": f"unix://{socket}",
        "address": network.POD_GATEWAY,  # local only; the API server calls it here
        "port": port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": healthz_port,
        "tlsCertFile": str(serving.cert),
        "tlsPrivateKeyFile": str(serving.key),
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": str(ca)}},
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": "cgroupfs",  # no systemd here; cgroups v1
        "failSwapOn": False,
        "oomScoreAdj": 0,  # -999 needs CAP_SYS_RESOURCE
        # A nearly full disk must not evict the test's pods or delete its images.
        "evictionHard": {"memory.available": "100Mi", **disk_never_full},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "clusterDomain": "cluster.local",
        "podLogsDir": str(home / "pod-logs"),
        "volumePluginDir": str(home / "volume-plugins"),
        "serializeImagePulls": False,
        "registerNode": True,
        "maxPods": 110,
    }


def kube_proxy_config(*, kubeconfig: Path, healthz_port: int,
                      metrics_port: int) -> dict[str, object]:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "hostnameOverride": NODE_NAME,
        "bindAddress": network.POD_GATEWAY,  # also its node IP: no wait for the Node
        "healthzBindAddress": f"127.0.0.1:{healthz_port}",
        "metricsBindAddress": f"127.0.0.1:{metrics_port}",
        "mode": "iptables",
        "clusterCIDR": network.CLUSTER_CIDR,
        # NodePorts on the gateway only: nothing listens for the outside on eth0.
        "nodePortAddresses": [f"{network.POD_GATEWAY}/32"],
        "oomScoreAdj": 0,
        # Leave the kernel's conntrack table size and timeouts as they are.
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s",
                      "tcpCloseWaitTimeout": "0s", "udpTimeout": "0s",
                      "udpStreamTimeout": "0s"},
        "iptables": {"localhostNodePorts": False, "masqueradeAll": False,
                     "syncPeriod": "30s", "minSyncPeriod": "1s"},
    }


# -- the machine-wide pieces --------------------------------------------------------------

def _lock_machine() -> IO[str]:
    path = cache_dir() / "node.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        owner = lock.read().strip() or "unknown"
        lock.close()
        raise NodeError(
            f"another devstack node runs on this machine ({owner}); the bridge, pod range "
            "and kube-proxy rules are machine-wide, so only one can. Stop that stack, or "
            "point this one at it (HOTLINE_KUBECONFIG).") from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"pid {os.getpid()}\n")
    lock.flush()
    return lock


def _iptables_forward_guard() -> None:
    """Forwarded traffic from the bridge goes back onto the bridge, nowhere else."""
    rule = ["FORWARD", "-i", network.POD_BRIDGE, "!", "-o", network.POD_BRIDGE,
            "-m", "comment", "--comment", "hotline: pod traffic stays on this machine",
            "-j", "DROP"]
    if subprocess.run(["iptables", "-w", "-C", *rule], capture_output=True,
                      check=False).returncode == 0:
        return
    done = subprocess.run(["iptables", "-w", "-I", *rule], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise NodeError(f"could not add the iptables guard {' '.join(rule)}: {done.stderr}")


def _proc_cmdlines() -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                found[int(entry.name)] = [a.decode(errors="replace") for a in argv if a]
    return found


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                # The parent pid is the 2nd field after the parenthesised command.
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
                tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _shims(belongs: Callable[[str], bool]) -> list[int]:
    pids = []
    for pid, argv in _proc_cmdlines().items():
        if argv and Path(argv[0]).name == _SHIM and "-address" in argv:
            address = argv[argv.index("-address") + 1] if argv.index("-address") + 1 < len(
                argv) else ""
            if belongs(address):
                pids.append(pid)
    return pids


def _kill_shims(belongs: Callable[[str], bool], timeout: float = 20.0) -> None:
    """SIGKILL the shims whose containerd address ``belongs``, and their containers.

    A shim outlives containerd by design, and a container outlives its shim (it is
    re-parented), so the containers go first: every descendant of each shim.
    """
    shims = _shims(belongs)
    if not shims:
        return
    tree = _children()
    doomed: list[int] = []
    todo = list(shims)
    while todo:
        pid = todo.pop()
        doomed.append(pid)
        todo += tree.get(pid, [])
    victims = [p for p in doomed if p not in shims] + shims
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while any(Path(f"/proc/{p}").exists() for p in victims):
        if time.monotonic() > deadline:
            left = [p for p in victims if Path(f"/proc/{p}").exists()]
            raise NodeError(f"containers/shims {left} survived SIGKILL for {timeout:.0f}s")
        time.sleep(0.05)  # waiting for the kernel to reap them; no event to wait on


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root).rstrip("/") + "/"
    points = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split()[4].replace("\\040", " ")
            if point.startswith(prefix) or point == prefix.rstrip("/"):
                points.append(point)
    return points


def _unmount_under(root: Path) -> list[str]:
    """Unmount everything mounted under ``root``, deepest first; return what stays."""
    for point in sorted(set(_mounts_under(root)), key=len, reverse=True):
        done = subprocess.run(["umount", point], capture_output=True, check=False)
        if done.returncode != 0:  # busy: detach it now, the kernel frees it when idle
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    return _mounts_under(root)


def _reap_orphans(own_socket: Path) -> None:
    """Containers and mounts that an earlier, killed run left behind.

    Runs while holding the machine lock, so every other devstack node is dead: a
    SIGKILLed test session takes containerd and the kubelet with it (parent-death
    signal) but not the shims and containers.
    """
    bases = (str(runs_dir()) + "/", str(runs_dir().resolve()) + "/")
    _kill_shims(lambda address: address.startswith(bases) and address != str(own_socket))
    for run in runs_dir().iterdir() if runs_dir().exists() else ():
        node_home = run / "node"
        if node_home.is_dir() and _mounts_under(node_home.resolve()):
            log.warning("unmounting what a killed run left under %s", node_home)
            _unmount_under(node_home.resolve())


def _read_sysctls() -> dict[str, str]:
    values = {}
    for name in _KUBELET_SYSCTLS:
        with contextlib.suppress(OSError):
            values[name] = Path("/proc/sys", name).read_text().strip()
    return values


# -- the node ---------------------------------------------------------------------------------

@dataclass
class Node:
    """The node's processes, where they listen, and how to stop them cleanly."""

    name: str
    home: Path
    containerd_socket: Path
    kubeconfig_path: Path  # admin (the API server's)
    api: ApiServer
    containerd: ManagedProcess
    controller_manager: ManagedProcess
    scheduler: ManagedProcess
    kubelet: ManagedProcess
    kube_proxy: ManagedProcess
    ports: dict[str, int]
    pause_ref: str
    _lock: IO[str] | None = None
    _sysctls: dict[str, str] = field(default_factory=dict)
    stopped: bool = False

    # -- health ------------------------------------------------------------------------------
    def processes(self) -> list[ManagedProcess]:
        return [self.containerd, self.controller_manager, self.scheduler, self.kube_proxy,
                self.kubelet]

    def _ctr(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ctr", "--address", str(self.containerd_socket),
                               "--namespace", "k8s.io", *args],
                              capture_output=True, text=True, timeout=timeout, check=False)

    def _containerd_answers(self) -> bool:
        return self._ctr("version", timeout=10).returncode == 0

    def _healthz(self, port_name: str, *, tls: bool) -> bool:
        scheme = "https" if tls else "http"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            # Self-signed serving certificates of scheduler and controller-manager, on
            # loopback; only their health is asked, with no credentials sent.
            answer = requests.get(f"{scheme}://127.0.0.1:{self.ports[port_name]}/healthz",
                                  timeout=3, verify=False)
        return answer.status_code == 200

    def ready_condition(self) -> dict[str, Any] | None:
        answer = self.api.get(f"/api/v1/nodes/{self.name}")
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        conditions = answer.json().get("status", {}).get("conditions", [])
        return next((c for c in conditions if c.get("type") == "Ready"), None)

    def is_ready(self) -> bool:
        condition = self.ready_condition()
        return condition is not None and condition.get("status") == "True"

    def _probes(self) -> list[tuple[ManagedProcess, str, Any]]:
        return [
            (self.containerd, "answering on its socket", self._containerd_answers),
            (self.controller_manager, "healthy (/healthz)",
             lambda: self._healthz("controller-manager", tls=True)),
            (self.scheduler, "healthy (/healthz)", lambda: self._healthz("scheduler", tls=True)),
            (self.kubelet, "healthy (/healthz)", lambda: self._healthz("kubelet-healthz",
                                                                        tls=False)),
            (self.kube_proxy, "healthy (/healthz)", lambda: self._healthz("kube-proxy-healthz",
                                                                           tls=False)),
            (self.kubelet, f"registered as node {self.name} and Ready", self.is_ready),
        ]

    def check(self) -> None:
        for proc in self.processes():
            if not proc.alive():
                raise proc.failure("is not running")
        for proc, what, probe in self._probes():
            try:
                ok = probe()
            except Exception as exc:
                raise proc.failure(f"is not {what}: {exc}") from exc
            if not ok:
                detail = ""
                if probe == self.is_ready:
                    detail = f" (Ready condition: {self.ready_condition()})"
                raise proc.failure(f"is not {what}{detail}")

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        for proc, what, probe in self._probes():
            wait_until(probe, timeout=max(1.0, deadline - time.monotonic()), proc=proc,
                       what=what)
        # A pod can only be admitted once its namespace's ServiceAccount exists.
        wait_until(lambda: self.api.get(
            "/api/v1/namespaces/default/serviceaccounts/default").status_code == 200,
            timeout=max(1.0, deadline - time.monotonic()), proc=self.controller_manager,
            what="creating the default ServiceAccount")

    # -- images --------------------------------------------------------------------------------
    def image_refs(self) -> set[str]:
        listed = self._ctr("images", "ls", "-q")
        if listed.returncode != 0:
            raise NodeError(f"ctr images ls failed: {listed.stderr.strip()}")
        return set(listed.stdout.split())

    def import_images(self, images: Mapping[str, Path] | Mapping[str, ImageArchive]
                      | Iterable[ImageArchive]) -> None:
        """Import OCI archives into containerd's k8s.io namespace, the kubelet's.

        ``images`` is ``{ref: archive}`` or what ``devstack.images.build_all()``
        returns; refs already there are skipped.
        """
        present = self.image_refs()
        for ref, archive in archives_by_ref(images).items():
            if ref in present:
                continue
            started = time.monotonic()
            # containerd names an image after the index's io.containerd.image.name
            # annotation; an archive without it (plain `buildah push`) is named by
            # --index-name instead.
            for extra in ([], ["--index-name", ref]):
                done = self._ctr("images", "import", *extra, str(archive), timeout=600)
                if done.returncode != 0:
                    raise NodeError(f"importing {archive} into containerd failed: "
                                    f"{done.stderr.strip()}")
                if ref in self.image_refs():
                    break
            else:
                raise NodeError(f"{archive} was imported but holds no image named {ref}; "
                                f"write it with `buildah push <image> oci-archive:{archive}:"
                                f"{ref}`")
            log.info("imported %s in %.1fs", ref, time.monotonic() - started)

    # -- stopping --------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop every component, kill this node's containers and shims, unmount."""
        if self.stopped:
            return
        clients = [self.kubelet, self.kube_proxy, self.scheduler, self.controller_manager]
        for proc in clients:
            proc.terminate()
        for proc in clients:
            proc.wait_stopped(grace=15)
        # kube-proxy's rules would keep DNATing Service addresses to pods that are gone.
        cleanup = subprocess.run([self.kube_proxy.argv[0], "--cleanup"], capture_output=True,
                                 text=True, timeout=60, check=False)
        if cleanup.returncode != 0:  # it also tries IPVS's ipsets, which are not used here
            log.debug("kube-proxy --cleanup: %s", cleanup.stderr[-1000:])
        socket = str(self.containerd_socket)
        _kill_shims(lambda address: address == socket)
        self.containerd.stop(grace=15)
        _kill_shims(lambda address: address == socket)  # any started while stopping
        left = _unmount_under(self.home.resolve())
        if left:
            log.warning("still mounted under %s: %s", self.home, left)
        else:
            # Image content and snapshots are large and useless after the run; the
            # logs and configs stay for post-mortems.
            shutil.rmtree(self.home / "containerd" / "root", ignore_errors=True)
        for name, value in self._sysctls.items():
            with contextlib.suppress(OSError):
                if Path("/proc/sys", name).read_text().strip() != value:
                    Path("/proc/sys", name).write_text(value + "\n")
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        self.stopped = True

    @property
    def description(self) -> str:
        return (f"node {self.name}: node IP {network.POD_GATEWAY}, pods {network.POD_SUBNET} "
                f"on {network.POD_BRIDGE}, Services {network.SERVICE_CIDR}; containerd "
                f"{self.containerd_socket}")


def start(run_dir: Path, ports: PortAllocator, api: ApiServer, *, pause_ref: str,
          images: Mapping[str, Path]) -> Node:
    """Spawn the node's components; call wait_ready() afterwards.

    ``images`` (``{ref: OCI archive}``) are imported before the kubelet starts and
    must include ``pause_ref``, the sandbox image.
    """
    if not api.node_capable or api.ca is None or api.service_account_key is None:
        raise NodeError(
            f"{api.name} does not listen on the pod gateway {network.POD_GATEWAY}, so no "
            "node can join it: devstack starts it there only as root with CAP_NET_ADMIN "
            "(see the warning in its start-up log), and never for an external API server.")
    if pause_ref not in images:
        raise NodeError(f"the pause image {pause_ref} is not among the images to import "
                        f"({', '.join(images) or 'none'})")
    binaries = install()
    home = run_dir / "node"
    ctr_home = home / "containerd"
    socket = ctr_home / "containerd.sock"
    if len(str(socket)) > _SOCKET_PATH_MAX:
        raise NodeError(f"containerd's socket path {socket} is too long for a unix socket; "
                        "set HOTLINE_RUNS_DIR to a shorter directory")
    for d in (ctr_home / "cni", home / "pki", home / "kubelet", home / "cni-ipam"):
        d.mkdir(parents=True, exist_ok=True)
    lock = _lock_machine()
    try:
        network.ensure_pod_network()  # idempotent: routes or bridge may have been removed
        _iptables_forward_guard()
        _reap_orphans(socket)
        node = _spawn(home, ctr_home, socket, ports, api, binaries, pause_ref, images)
    except BaseException:
        lock.close()
        raise
    node._lock = lock
    return node


def _spawn(home: Path, ctr_home: Path, socket: Path, ports: PortAllocator, api: ApiServer,
           binaries: Binaries, pause_ref: str, images: Mapping[str, Path]) -> Node:
    assert api.ca is not None and api.service_account_key is not None
    ca: Authority = api.ca
    pki = home / "pki"
    # Identities the API server's default RBAC (and the Node authorizer) know.
    identities = {
        "kube-controller-manager": ca.issue("kube-controller-manager",
                                            common_name="system:kube-controller-manager"),
        "kube-scheduler": ca.issue("kube-scheduler", common_name="system:kube-scheduler"),
        "kubelet": ca.issue(f"kubelet-{NODE_NAME}", common_name=f"system:node:{NODE_NAME}",
                            organizations=("system:nodes",)),
        "kube-proxy": ca.issue("kube-proxy", common_name="system:kube-proxy"),
    }
    serving = ca.issue(f"kubelet-{NODE_NAME}-serving", common_name=f"system:node:{NODE_NAME}",
                       client=False, server=True, ips=(network.POD_GATEWAY,),
                       dns=(NODE_NAME,))
    kubeconfigs: dict[str, Path] = {}
    for component, pair in identities.items():
        path = pki / f"{component}.kubeconfig"
        user = f"system:node:{NODE_NAME}" if component == "kubelet" else component
        path.write_text(yaml.safe_dump(cert_kubeconfig(api.server, ca.cert, pair, user)))
        kubeconfigs[component] = path
    port = {name: ports.take() for name in (
        "controller-manager", "scheduler", "kubelet", "kubelet-healthz",
        "kube-proxy-healthz", "kube-proxy-metrics")}

    (ctr_home / "config.toml").write_text(containerd_config(ctr_home, socket, pause_ref))
    (ctr_home / "cni" / "10-hotline.conflist").write_text(
        json.dumps(cni_config(home / "cni-ipam"), indent=2))
    kubelet_yaml = home / "kubelet-config.yaml"
    kubelet_yaml.write_text(yaml.safe_dump(kubelet_config(
        home=home, socket=socket, ca=ca.cert, serving=serving, port=port["kubelet"],
        healthz_port=port["kubelet-healthz"])))
    proxy_yaml = home / "kube-proxy-config.yaml"
    proxy_yaml.write_text(yaml.safe_dump(kube_proxy_config(
        kubeconfig=kubeconfigs["kube-proxy"], healthz_port=port["kube-proxy-healthz"],
        metrics_port=port["kube-proxy-metrics"])))

    containerd = ManagedProcess(
        name="containerd", argv=["containerd", "--config", str(ctr_home / "config.toml")],
        log_path=home / "containerd.log")

    def control_plane(name: str, binary: Path, extra: list[str]) -> ManagedProcess:
        kubeconfig = kubeconfigs[name]
        return ManagedProcess(name=name, log_path=home / f"{name}.log", argv=[
            str(binary), f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1", f"--secure-port={port[name.removeprefix('kube-')]}",
            "--leader-elect=false", "--v=1", *extra])

    controller_manager = control_plane("kube-controller-manager",
                                       binaries.kube_controller_manager, [
        "--cluster-name=devstack",
        f"--service-account-private-key-file={api.service_account_key}",
        f"--root-ca-file={ca.cert}",  # published to every namespace as kube-root-ca.crt
        "--use-service-account-credentials=true",
        f"--service-cluster-ip-range={network.SERVICE_CIDR}",
        "--allocate-node-cidrs=false",  # the CNI config holds the node's fixed subnet
        f"--cluster-signing-cert-file={ca.cert}", f"--cluster-signing-key-file={ca.key}",
    ])
    scheduler = control_plane("kube-scheduler", binaries.kube_scheduler, [])
    kubelet = ManagedProcess(name="kubelet", log_path=home / "kubelet.log", argv=[
        str(binaries.kubelet), f"--config={kubelet_yaml}",
        f"--kubeconfig={kubeconfigs['kubelet']}", f"--root-dir={home / 'kubelet'}",
        f"--hostname-override={NODE_NAME}", f"--node-ip={network.POD_GATEWAY}", "--v=1"])
    kube_proxy = ManagedProcess(name="kube-proxy", log_path=home / "kube-proxy.log", argv=[
        str(binaries.kube_proxy), f"--config={proxy_yaml}", "--v=1"])

    node = Node(name=NODE_NAME, home=home, containerd_socket=socket,
                kubeconfig_path=api.kubeconfig_path, api=api, containerd=containerd,
                controller_manager=controller_manager, scheduler=scheduler, kubelet=kubelet,
                kube_proxy=kube_proxy, ports=port, pause_ref=pause_ref,
                _sysctls=_read_sysctls())
    containerd.start()
    controller_manager.start()
    scheduler.start()
    kube_proxy.start()
    try:
        wait_until(node._containerd_answers, timeout=30, proc=containerd,
                   what=f"answering on {socket}")
        # The sandbox image must be there before the kubelet creates any pod.
        node.import_images(images)
    except BaseException:
        node.stop()
        raise
    kubelet.start()
    return node
