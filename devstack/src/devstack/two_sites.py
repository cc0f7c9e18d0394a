"""Two sites of Hotline on the dev node, the witness, a carrier, and the drill's faults.

Each site is one release of the chart in its own namespace, on its own Kafka (the two
mirrored both ways by MirrorMaker 2) and its own Cassandra datacenter; the witness is
a third party: stateless witness processes over one etcd, one per site's link to it,
so cutting a site's network cuts its link to the witness too. A carrier (Kamailio)
delivers calls to both sites' edges and retries the other site on a timeout or 503.

Faults, as an SRE would meet them:
- ``go_dark(site)``: the site's pods killed (grace 0), its Kafka broker and Cassandra
  node killed, and every port and address of it dropped, all at once;
- ``cut_link()``: the link between the sites (mirroring and the peers' probes), while
  both still reach the witness;
- ``kill_witness()``: the witness processes, restarted by ``start_witness()``.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from devstack import carrier as carrier_mod
from devstack.cassandra import CassandraNode
from devstack.faults import Cut, Firewall
from devstack.images import Image
from devstack.kafka import KafkaCluster
from devstack.mirrormaker import MirrorMaker
from devstack.network import POD_GATEWAY
from devstack.process import ManagedProcess, wait_for, wait_until
from devstack.site_release import HelmError, Release, SitePorts, free_node_port, site_values
from devstack.witness_store import write_site_keys

log = logging.getLogger("devstack.two_sites")

SITES = ("site-a", "site-b")
DATACENTERS = {"site-a": "dc-a", "site-b": "dc-b"}
# The drill's timings: a peer silent for 3 s is suspected; back for 20 s, it gets its
# traffic back.
POD_UID = 10001  # every Hotline image runs as this user (images/)
TIMINGS = {"heartbeatIntervalSeconds": 1, "peerTimeoutSeconds": 3, "holdDownSeconds": 20}


def peer_of(site: str) -> str:
    return next(s for s in SITES if s != site)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class NodeSite:
    """One installed site and how to reach it."""

    name: str
    release: Release
    ports: SitePorts
    values: dict[str, Any]
    kafka: KafkaCluster
    cassandra: CassandraNode
    witness_port: int
    workers: int

    @property
    def datacenter(self) -> str:
        return DATACENTERS[self.name]

    @property
    def probe_url(self) -> str:
        """What the peer probes: the media nodes' readiness."""
        return f"http://{POD_GATEWAY}:{self.ports.media_health}/readyz"

    @property
    def streams_url(self) -> str:
        return f"http://{POD_GATEWAY}:{self.ports.streams}"

    @property
    def witness_url(self) -> str:
        return f"http://127.0.0.1:{self.witness_port}"

    def site_object(self) -> dict[str, Any]:
        return dict(json.loads(self.release.kubectl_run(
            "get", "contactcentersite", self.name, "-o", "json")))

    def status(self) -> dict[str, Any]:
        return dict(self.site_object().get("status") or {})

    def condition(self, kind: str) -> dict[str, Any] | None:
        return next((c for c in self.status().get("conditions") or []
                     if c["type"] == kind), None)

    def condition_is(self, kind: str, wanted: str) -> bool:
        found = self.condition(kind)
        return found is not None and found["status"] == wanted

    def operator_log(self, since: float | None = None) -> str:
        """The operator's log: its last 400 lines, or everything since ``since``."""
        window = (["--since-time", datetime.fromtimestamp(since, UTC).isoformat(
            timespec="seconds").replace("+00:00", "Z")] if since else ["--tail", "400"])
        try:
            return self.release.kubectl_run("logs", f"deploy/{self.release.name}-"
                                            f"{self.name}-operator", *window)
        except HelmError as err:
            return str(err)

    def dark(self) -> Cut:
        """Everything of this site: its pods' ports, Kafka, Cassandra, its witness link."""
        kafka_port = int(self.kafka.bootstrap.rsplit(":", 1)[1])
        return Cut(name=f"dark-{self.name}",
                   ports=(*self.ports.all(self.workers), kafka_port, self.witness_port),
                   addresses=(self.cassandra.address,))

    def describe(self) -> str:
        parts = [f"--- {self.name} ({self.release.namespace})"]
        for args in (("get", "pods,deploy", "-o", "wide"),
                     ("get", "contactcentersite", self.name, "-o", "jsonpath={.status}")):
            try:
                parts.append(self.release.kubectl_run(*args))
            except HelmError as err:
                parts.append(str(err))
        parts.append(quiet(self.operator_log())[-3000:])
        # The peer's intervals this site adopts; the stream workers' agents and routing.
        for component in ("interval-adoption", "stream-workers"):
            try:
                parts.append(f"- {component}:\n" + quiet(self.release.kubectl_run(
                    "logs", "-l", f"app.kubernetes.io/component={component}", "--tail",
                    "300"))[-3000:])
            except HelmError as err:
                parts.append(str(err))
        return "\n".join(parts)


NOISE = ("GET /healthz", "GET /readyz", "GET /ready ", "Timer 'repair' succeeded")


def quiet(log: str) -> str:
    """A log without the probes' and timers' routine lines."""
    return "\n".join(line for line in log.splitlines() if not any(n in line for n in NOISE))


@dataclass
class TwoSites:
    """Both sites, their witness links and the carrier; see the module's docstring."""

    sites: dict[str, NodeSite]
    mirrormaker: MirrorMaker
    etcd: str
    home: Path
    token_key: str  # the caller-token key, the same on both sites (BI joins across them)
    witness_timeout_s: int = TIMINGS["peerTimeoutSeconds"]
    firewall: Firewall = field(default_factory=Firewall)
    witnesses: dict[str, ManagedProcess] = field(default_factory=dict)
    carrier: carrier_mod.Carrier | None = None
    dark: set[str] = field(default_factory=set)  # the sites go_dark cut off

    # -- set up ---------------------------------------------------------------------

    @property
    def witness_keys_dir(self) -> Path:
        return self.home / "witness-keys"

    @property
    def witness_keys(self) -> dict[str, str]:
        """Site → the key that signs its requests to the witness (made once per drill)."""
        return write_site_keys(self.witness_keys_dir, self.sites)

    def start_witness(self) -> None:
        """One witness process per site link, all on the same etcd (the witness keeps
        nothing itself, so any of them answers for every site)."""
        write_site_keys(self.witness_keys_dir, self.sites)  # before a witness reads them
        for name, site in self.sites.items():
            process = ManagedProcess(
                name=f"witness-{name}",
                argv=[sys.executable, "-m", "hotline_operators.witness", "--etcd", self.etcd,
                      "--host", "127.0.0.1", "--port", str(site.witness_port),
                      "--peer-timeout", str(self.witness_timeout_s),
                      "--keys-dir", str(self.witness_keys_dir)],
                log_path=self.home / f"witness-{name}.log")
            process.start()
            self.witnesses[name] = process
        for name, process in self.witnesses.items():
            if name in self.dark:
                continue  # its link to the witness is cut: nothing answers from there
            url = self.sites[name].witness_url + "/healthz"
            wait_until(partial(http_ok, url), timeout=30, proc=process,
                       what=f"answering on {url}")

    def kill_witness(self) -> None:
        for process in self.witnesses.values():
            process.kill()

    def leases(self) -> dict[str, Any]:
        site = next(s for name, s in self.sites.items() if name not in self.dark)
        url = site.witness_url + "/leases"
        with urllib.request.urlopen(url, timeout=3) as response:
            return dict(json.loads(response.read()))

    def install(self, timeout_s: int = 600) -> None:
        """Both releases, then the carrier in front of their edges. The second starts
        once the first one's setup Job is done: both create the shared callbacks
        keyspace, and concurrent schema changes in two datacenters can fail."""
        for site in self.sites.values():
            # Each site's operator gets its own witness key, the witnesses every key.
            site.release.create_namespace_and_secrets(
                self.token_key, {site.name: self.witness_keys[site.name]})
        first, *others = self.sites.values()
        with concurrent.futures.ThreadPoolExecutor(len(self.sites)) as pool:
            installs = [pool.submit(first.release.install, first.values, timeout_s)]
            wait_for(lambda: True if installs[0].done() or first.release.kubectl_run(
                "get", "deploy", "-o", "name").strip() else None,
                f"{first.name}'s setup Job done (its Deployments created)",
                timeout=timeout_s, interval=1)
            installs += [pool.submit(site.release.install, site.values, timeout_s)
                         for site in others]
            for done in installs:
                done.result()
        self.carrier = carrier_mod.start({n: s.ports.edge for n, s in self.sites.items()},
                                         free_node_port(), self.home / "carrier")
        self.carrier.wait_ready()

    # -- faults ---------------------------------------------------------------------

    def go_dark(self, name: str) -> None:
        """A data centre goes dark: nothing of ``name`` answers any more."""
        site = self.sites[name]
        self.dark.add(name)
        self.firewall.cut(site.dark())
        site.release.kubectl_run("delete", "pods", "--all", "--grace-period=0", "--force",
                                 "--wait=false")
        if site.kafka.process is not None:
            site.kafka.process.kill()
        if site.cassandra.process is not None:
            site.cassandra.process.kill()

    def restore(self, name: str) -> None:
        """The data centre is back: its servers start, its network answers, its pods
        start afresh (no crash-loop back-off left from the outage)."""
        site = self.sites[name]
        self.firewall.heal(site.dark().name)
        self.dark.discard(name)
        for process in (site.kafka.process, site.cassandra.process):
            if process is not None and not process.alive():
                process.start()
        site.kafka.wait_ready()
        site.cassandra.wait_ready()
        keyspace = str(site.values["callbacks"]["keyspace"])
        if not site.cassandra.knows_keyspace(keyspace):
            peer = self.sites[peer_of(name)].cassandra
            peer.renew_keyspace(keyspace)
            wait_until(partial(site.cassandra.knows_keyspace, keyspace), timeout=60,
                       proc=site.cassandra.process,
                       what=f"serving keyspace {keyspace} again")
        site.release.kubectl_run("delete", "pods", "--all", "--grace-period=0", "--force",
                                 "--wait=false")

    def link(self) -> Cut:
        """The link between the sites: each one's probe of the other, sent by the
        operators (the pods' user; the kubelet's readiness probes still pass), and the
        mirroring, which stops with MirrorMaker."""
        return Cut(name="link", ports=tuple(s.ports.media_health for s in self.sites.values()),
                   uid=POD_UID)

    def cut_link(self) -> None:
        self.firewall.cut(self.link())
        if self.mirrormaker.process is not None:
            self.mirrormaker.process.kill()

    def heal_link(self) -> None:
        self.firewall.heal(self.link().name)
        if self.mirrormaker.process is not None and not self.mirrormaker.process.alive():
            self.mirrormaker.process.start()
        self.mirrormaker.wait_ready()

    def uninstall(self, timeout_s: int = 120) -> None:
        """Both releases gone, in parallel: each runs its operator's pre-delete hook,
        and their pods end in the background (no one reuses their ports: each drill
        takes fresh ones). A site left dark gets its servers back first, for whoever
        uses them next. Best effort: a failure is logged, never raised."""
        for name in list(self.dark):
            try:
                self.restore(name)
            except Exception as err:  # a teardown goes on with the rest
                log.warning("restoring %s before uninstalling failed: %s", name, err)

        def uninstall(site: NodeSite) -> None:
            try:
                site.release.uninstall(timeout_s, wait=False)
                site.release.kubectl_run("delete", "namespace", site.release.namespace,
                                         "--wait=false")
            except HelmError as err:
                log.warning("uninstalling %s failed: %s; namespace %s may be left behind",
                            site.name, err, site.release.namespace)
        with concurrent.futures.ThreadPoolExecutor(len(self.sites)) as pool:
            list(pool.map(uninstall, self.sites.values()))

    def close(self) -> None:
        """Heal every fault and stop what this object started (not the releases)."""
        self.firewall.close()
        if self.carrier is not None:
            self.carrier.stop()
        for process in self.witnesses.values():
            process.stop(grace=5)

    def describe(self) -> str:
        return "\n".join(site.describe() for site in self.sites.values())


def prepare(*, kafka: Mapping[str, KafkaCluster], cassandra: Mapping[str, CassandraNode],
            mirrormaker: MirrorMaker, etcd: str, images: Mapping[str, Image],
            kubeconfig: Path, helm: Path, kubectl: Path, home: Path, suffix: str,
            token_key: str, agent_uri_template: str, keyspace: str,
            workers: int = 1, dial_uri_template: str | None = None) -> TwoSites:
    """The two sites' values and releases (namespaces ``<site>-<suffix>``), not yet
    installed. Both share the caller-token key (BI joins across sites) and one
    callbacks keyspace replicated to both datacenters."""
    ports = {name: SitePorts.free() for name in SITES}
    witness_ports = {name: free_node_port() for name in SITES}
    sites: dict[str, NodeSite] = {}
    for name in SITES:
        peer = peer_of(name)
        release = Release(name=f"hotline-{name[-1]}", namespace=f"{name}-{suffix}",
                          kubeconfig=kubeconfig, helm=helm, kubectl=kubectl,
                          workdir=home / name)
        values = site_values(
            site=name, peers=[peer], kafka=kafka[name].bootstrap,
            cassandra=cassandra[DATACENTERS[name]].contact_point,
            datacenter=DATACENTERS[name], images=images, node_ip=POD_GATEWAY,
            ports=ports[name], workers=workers, agent_uri_template=agent_uri_template,
            witness=f"http://127.0.0.1:{witness_ports[name]}",
            peer_probes={peer: f"http://{POD_GATEWAY}:{ports[peer].media_health}/readyz"},
            traffic_share=50, timings=TIMINGS, replication={"dc-a": 1, "dc-b": 1},
            keyspace=keyspace, dial_uri_template=dial_uri_template)
        sites[name] = NodeSite(name=name, release=release, ports=ports[name], values=values,
                               kafka=kafka[name], cassandra=cassandra[DATACENTERS[name]],
                               witness_port=witness_ports[name], workers=workers)
    return TwoSites(sites=sites, mirrormaker=mirrormaker, etcd=etcd, home=home,
                    token_key=token_key)
