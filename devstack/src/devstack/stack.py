"""The wiring: profiles of servers, started in dependency order, checked, stopped.

A :class:`Stack` grows on demand: a test that needs only site-a's Kafka starts only
that; ``up("two-site")`` adds what is missing. Servers named in the environment
(see ``settings.ENV_OVERRIDES``) are used as they are and only health-checked.
"""

from __future__ import annotations

import atexit
import logging
import os
import shlex
import shutil
import time
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path

from devstack import cassandra, kafka, kubernetes, mirrormaker, node, witness_store
from devstack.network import PortAllocator, cassandra_addresses
from devstack.process import ServerError
from devstack.settings import ExternalEndpoints, cache_dir, runs_dir

log = logging.getLogger(__name__)

SITES = ("site-a", "site-b")
DATACENTERS = {"site-a": "dc-a", "site-b": "dc-b"}
_KEEP_RUNS = 10


class Component(StrEnum):
    KAFKA_SITE_A = "kafka-site-a"
    KAFKA_SITE_B = "kafka-site-b"
    MIRRORMAKER = "mirrormaker2"
    CASSANDRA_DC_A = "cassandra-dc-a"
    CASSANDRA_DC_B = "cassandra-dc-b"
    KUBERNETES = "kube-apiserver"
    NODE = "kube-node"  # a real node: containerd, kubelet, kube-proxy, scheduler, controllers
    WITNESS_STORE = "witness-etcd"  # the failover witness's etcd, at the "third location"


PROFILES: dict[str, tuple[Component, ...]] = {
    "single": (Component.KAFKA_SITE_A, Component.CASSANDRA_DC_A, Component.KUBERNETES),
    "two-site": tuple(c for c in Component if c is not Component.NODE),
    "node": (Component.KAFKA_SITE_A, Component.CASSANDRA_DC_A, Component.KUBERNETES,
             Component.NODE),
    # Both sites as pods on the node, the witness's etcd: the failover drill.
    "two-site-node": tuple(Component),
}

_DEPENDS: dict[Component, tuple[Component, ...]] = {
    Component.MIRRORMAKER: (Component.KAFKA_SITE_A, Component.KAFKA_SITE_B),
    Component.NODE: (Component.KUBERNETES,),
}


def resolve(components: Iterable[Component]) -> list[Component]:
    """The components plus their dependencies, in a valid start order."""
    wanted: set[Component] = set()

    def add(c: Component) -> None:
        for dep in _DEPENDS.get(c, ()):
            add(dep)
        wanted.add(c)

    for c in components:
        add(c)
    return [c for c in Component if c in wanted]


def install(components: Iterable[Component]) -> None:
    """Fetch and build what the components need; cached, so cheap when done."""
    todo = set(resolve(components))
    if todo & {Component.KAFKA_SITE_A, Component.KAFKA_SITE_B, Component.MIRRORMAKER}:
        kafka.install()
    if todo & {Component.CASSANDRA_DC_A, Component.CASSANDRA_DC_B}:
        cassandra.install()
    if Component.KUBERNETES in todo:
        kubernetes.install()
    if Component.WITNESS_STORE in todo:
        witness_store.install()
    if Component.NODE in todo:
        node.install()
        node.busybox_pause_image()  # the sandbox image; the platform's are `devstack images`


def _owner_alive(run: Path) -> bool:
    """Whether the process that made a run directory (``<time>-<pid>``) still runs."""
    pid = run.name.rpartition("-")[2]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _new_run_dir() -> Path:
    base = runs_dir()
    base.mkdir(parents=True, exist_ok=True)
    # Keep the logs of the last few runs for post-mortems; drop older ones.
    old = sorted((p for p in base.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for stale in old[:-_KEEP_RUNS]:
        if not _owner_alive(stale):  # never pull the data out from under a concurrent run
            shutil.rmtree(stale, ignore_errors=True)
    run = base / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    run.mkdir()
    return run


class Stack:
    def __init__(self, external: ExternalEndpoints | None = None,
                 run_dir: Path | None = None) -> None:
        self.external = external or ExternalEndpoints.from_environ()
        self.run_dir = run_dir or _new_run_dir()
        self.ports = PortAllocator()
        self.kafka: dict[str, kafka.KafkaCluster] = {}
        self.cassandra: dict[str, cassandra.CassandraNode] = {}
        self.mirrormaker: mirrormaker.MirrorMaker | None = None
        self.kube: kubernetes.ApiServer | None = None
        self.node: node.Node | None = None
        self.witness_store: witness_store.WitnessStore | None = None
        self._cassandra_addresses: list[str] | None = None
        atexit.register(self.down)

    # -- what is running -------------------------------------------------------
    def servers(self) -> list[kafka.KafkaCluster | cassandra.CassandraNode
                              | mirrormaker.MirrorMaker | kubernetes.ApiServer | node.Node
                              | witness_store.WitnessStore]:
        found: list[kafka.KafkaCluster | cassandra.CassandraNode
                    | mirrormaker.MirrorMaker | kubernetes.ApiServer | node.Node
                    | witness_store.WitnessStore] = []
        found += self.kafka.values()
        if self.mirrormaker:
            found.append(self.mirrormaker)
        found += self.cassandra.values()
        if self.kube:
            found.append(self.kube)
        if self.node:
            found.append(self.node)
        if self.witness_store:
            found.append(self.witness_store)
        return found

    def health(self) -> dict[str, str | None]:
        """Each server's name and its problem, or None when it is healthy."""
        report: dict[str, str | None] = {}
        for server in self.servers():
            try:
                server.check()
                report[server.name] = None
            except ServerError as exc:
                report[server.name] = str(exc)
        return report

    def check(self) -> None:
        problems = [p for p in self.health().values() if p]
        if problems:
            raise ServerError("\n\n".join(problems))

    # -- starting ---------------------------------------------------------------
    def up(self, components: Iterable[Component] | str) -> None:
        if isinstance(components, str):
            components = PROFILES[components]
        wanted = resolve(components)
        install(c for c in wanted if not self.is_external(c))
        started = time.monotonic()
        # Spawn everything independent first (from this thread: children die with
        # it), then wait for all of them. MirrorMaker needs both Kafkas answering; the
        # node's controllers need the API server ready (its RBAC bootstrapped).
        pending = [c for c in wanted if not self._present(c)]
        later = (Component.MIRRORMAKER, Component.NODE)
        for component in pending:
            if component not in later:
                self._spawn(component)
        for component in pending:
            if component not in later:
                self._wait(component)
        for component in later:
            if component in pending:
                self._spawn(component)
                self._wait(component)
        if pending:
            log.info("started %s in %.1fs", ", ".join(pending), time.monotonic() - started)

    def attach_external(self) -> list[Component]:
        """Take in every server named in the environment, without starting any."""
        named = [c for c in Component if self.is_external(c) and not self._present(c)]
        for component in named:
            self._spawn(component)
        return named

    def is_external(self, c: Component) -> bool:
        ext = self.external
        return {
            Component.KAFKA_SITE_A: ext.kafka_site_a is not None,
            Component.KAFKA_SITE_B: ext.kafka_site_b is not None,
            Component.MIRRORMAKER: ext.mirrormaker_external,
            Component.CASSANDRA_DC_A: ext.cassandra_dc_a is not None,
            Component.CASSANDRA_DC_B: ext.cassandra_dc_b is not None,
            Component.KUBERNETES: ext.kubeconfig is not None,
            Component.NODE: False,  # joins only an API server devstack started
            Component.WITNESS_STORE: ext.witness_etcd is not None,
        }[c]

    def _present(self, c: Component) -> bool:
        if c in (Component.KAFKA_SITE_A, Component.KAFKA_SITE_B):
            return _site(c) in self.kafka
        if c in (Component.CASSANDRA_DC_A, Component.CASSANDRA_DC_B):
            return DATACENTERS[_site(c)] in self.cassandra
        if c is Component.MIRRORMAKER:
            return self.mirrormaker is not None
        if c is Component.NODE:
            return self.node is not None
        if c is Component.WITNESS_STORE:
            return self.witness_store is not None
        return self.kube is not None

    def _spawn(self, c: Component) -> None:
        ext = self.external
        if c in (Component.KAFKA_SITE_A, Component.KAFKA_SITE_B):
            site = _site(c)
            bootstrap = ext.kafka_site_a if site == "site-a" else ext.kafka_site_b
            self.kafka[site] = (kafka.KafkaCluster(site=site, bootstrap=bootstrap) if bootstrap
                                else kafka.start(site, self.run_dir, self.ports))
        elif c in (Component.CASSANDRA_DC_A, Component.CASSANDRA_DC_B):
            site = _site(c)
            dc = DATACENTERS[site]
            given = ext.cassandra_dc_a if site == "site-a" else ext.cassandra_dc_b
            if given:
                host, _, port = given.partition(":")
                self.cassandra[dc] = cassandra.CassandraNode(
                    datacenter=dc, address=host, port=int(port or cassandra.NATIVE_PORT))
            else:
                if self._cassandra_addresses is None:
                    self._cassandra_addresses = cassandra_addresses(
                        len(SITES), (cassandra.STORAGE_PORT, cassandra.NATIVE_PORT))
                index = SITES.index(site)
                self.cassandra[dc] = cassandra.start_node(
                    datacenter=dc, address=self._cassandra_addresses[index],
                    seeds=self._cassandra_addresses, index=index, run_dir=self.run_dir)
        elif c is Component.MIRRORMAKER:
            clusters = [self.kafka[s] for s in SITES]
            self.mirrormaker = (
                mirrormaker.MirrorMaker(bootstraps={k.site: k.bootstrap for k in clusters})
                if ext.mirrormaker_external else mirrormaker.start(clusters, self.run_dir))
        elif c is Component.NODE:
            if self.kube is None or ext.kubeconfig:
                raise ServerError("a devstack node joins only an API server devstack started; "
                                  "unset HOTLINE_KUBECONFIG to start both")
            pause_ref, images = node.default_images()
            self.node = node.start(self.run_dir, self.ports, self.kube, pause_ref=pause_ref,
                                   images=images)
        elif c is Component.WITNESS_STORE:
            self.witness_store = (witness_store.WitnessStore(url=ext.witness_etcd)
                                  if ext.witness_etcd
                                  else witness_store.start(self.run_dir, self.ports))
        else:
            self.kube = (kubernetes.external(ext.kubeconfig) if ext.kubeconfig
                         else kubernetes.start(self.run_dir, self.ports))

    def _wait(self, c: Component) -> None:
        if c in (Component.KAFKA_SITE_A, Component.KAFKA_SITE_B):
            self.kafka[_site(c)].wait_ready()
        elif c in (Component.CASSANDRA_DC_A, Component.CASSANDRA_DC_B):
            dc = DATACENTERS[_site(c)]
            node = self.cassandra[dc]
            node.wait_ready()
            others = {d for d in self.cassandra if d != dc}
            if others:
                node.wait_sees(others)
        elif c is Component.MIRRORMAKER:
            assert self.mirrormaker is not None
            self.mirrormaker.wait_ready()
        elif c is Component.NODE:
            assert self.node is not None
            self.node.wait_ready()
        elif c is Component.WITNESS_STORE:
            assert self.witness_store is not None
            self.witness_store.wait_ready()
        else:
            assert self.kube is not None
            self.kube.wait_ready()

    # -- stopping -----------------------------------------------------------------
    def down(self) -> None:
        """Stop everything this stack started, dependants first, in parallel waves."""
        if self.node is not None:
            # Before the API server: the kubelet and controllers are its clients, and
            # the node's containers and shims must not outlive it.
            self.node.stop()
            self.node = None
        started = [p for server in self.servers() for p in server.processes()]
        # Clients of other servers go first so they don't log the others' shutdown.
        first = [p for p in started if p.name in ("mirrormaker2", "kube-apiserver")]
        for wave in (first, [p for p in started if p not in first]):
            for proc in wave:
                proc.terminate()
            for proc in wave:
                proc.wait_stopped(grace=15)
        self.kafka.clear()
        self.cassandra.clear()
        self.mirrormaker = None
        self.kube = None
        self.witness_store = None

    # -- telling clients where things are ---------------------------------------------
    def env(self) -> dict[str, str]:
        """Variables that point clients (and a second devstack) at this stack."""
        kube = str(self.kube.kubeconfig_path) if self.kube else None
        env = ExternalEndpoints(
            kafka_site_a=self.kafka["site-a"].bootstrap if "site-a" in self.kafka else None,
            kafka_site_b=self.kafka["site-b"].bootstrap if "site-b" in self.kafka else None,
            cassandra_dc_a=(self.cassandra["dc-a"].contact_point
                            if "dc-a" in self.cassandra else None),
            cassandra_dc_b=(self.cassandra["dc-b"].contact_point
                            if "dc-b" in self.cassandra else None),
            kubeconfig=kube,
            mirrormaker_external=self.mirrormaker is not None,
            witness_etcd=self.witness_store.url if self.witness_store else None,
        ).to_environ()
        if kube:
            env["KUBECONFIG"] = kube  # for kubectl and helm
        return env

    def write_env_file(self) -> Path:
        path = self.run_dir / "env.sh"
        lines = [f"export {k}={shlex.quote(v)}" for k, v in self.env().items()]
        tools = tools_dir()
        if tools:
            lines.append(f'export PATH={shlex.quote(str(tools))}:"$PATH"')
        path.write_text("\n".join(lines) + "\n")
        return path

    def describe(self) -> str:
        rows = [f"run directory (data, configs, logs): {self.run_dir}"]
        for server in self.servers():
            procs = server.processes()
            where = "; ".join(f"{p.name} pid {p.pid}, log {p.log_path}" for p in procs)
            rows.append(f"  {server.name}: {where or 'external'}")
        return "\n".join(rows)


def _site(c: Component) -> str:
    return "site-a" if c.value.endswith(("site-a", "dc-a")) else "site-b"


def tools_dir() -> Path | None:
    """A directory with helm and kubectl under their plain names, for PATH."""
    try:
        binaries = kubernetes.install()
    except Exception:
        return None
    link_dir = cache_dir() / "tools"
    link_dir.mkdir(parents=True, exist_ok=True)
    for name, target in (("helm", binaries.helm), ("kubectl", binaries.kubectl)):
        link = link_dir / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)
    return link_dir
