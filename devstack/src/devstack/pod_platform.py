"""Hotline as pods on the dev stack's node (``./hotline run --profile node``).

The same platform as :mod:`devstack.platform` — site-a's edge, media node, stream
worker and callback scheduler on the demo tenant, the agents' SIPp phone and Locust's
steady traffic — but the site is the Helm chart installed on the node, from images
built from this tree (``devstack images build``), as an SRE would install it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

from devstack import images
from devstack.network import POD_GATEWAY
from devstack.node import Node
from devstack.platform import TOKEN_KEY_ENV, Platform, _free_udp_port
from devstack.process import ServerError
from devstack.site_release import HelmError, Release, SitePorts, site_values

NAMESPACE = "hotline-site-a"


@dataclass
class PodPlatform(Platform):
    """Site-a from the chart on the node, with the phones and traffic of ``Platform``."""

    kubeconfig: Path = Path()
    kubectl: Path = Path()
    helm: Path = Path()
    node: Node | None = None  # imports the images into its containerd
    release: Release | None = field(default=None, init=False)

    def up(self) -> None:
        built = images.build_all()
        if self.node is not None:
            self.node.import_images(built)
        self.client_env.setdefault(TOKEN_KEY_ENV, f"hotline-run-{uuid.uuid4().hex}")
        self.client_env["HOTLINE_KAFKA_SITE_A"] = self.bootstrap
        ports = SitePorts.free()
        self.edge_port, self.streams_port = ports.edge, ports.streams
        self.callbacks_port, self.health_port = ports.callbacks, ports.media_health
        # The media-node pods' SIP transport is bound to the node's address and sends
        # nothing to the loopback: the agents' phone listens there too.
        self.phone_host = POD_GATEWAY
        self.phone_port = _free_udp_port(POD_GATEWAY)
        cassandra = self.cassandra_dc_a
        if cassandra is None:
            raise ServerError("the node profile's site needs Cassandra dc-a")
        self.release = Release(name="hotline", namespace=NAMESPACE, kubeconfig=self.kubeconfig,
                               helm=self.helm, kubectl=self.kubectl,
                               workdir=self.run_dir / "platform")
        values = site_values(
            site="site-a", peers=["site-b"], kafka=self.bootstrap, cassandra=cassandra,
            datacenter="dc-a", images=built, node_ip=POD_GATEWAY,
            ports=ports,
            workers=self.workers,
            agent_uri_template=f"sip:{{agent_id}}@{POD_GATEWAY}:{self.phone_port}")
        try:
            self.release.create_namespace_and_secrets(self.client_env[TOKEN_KEY_ENV])
            self.release.install(values, timeout_s=600)
        except HelmError as err:
            raise ServerError(f"installing the chart on the node failed:\n{err}") from err
        self.start_clients()

    @property
    def streams_url(self) -> str:
        return f"http://{POD_GATEWAY}:{self.streams_port}"

    def describe(self) -> str:
        assert self.release is not None
        return "\n".join([
            f"Hotline is running as pods (helm release {self.release.name}, namespace "
            f"{self.release.namespace}, tenant demo-bank, site-a):",
            f"  SIP edge pod (Kamailio, node network): sip:800100@127.0.0.1:{self.edge_port}",
            f"  streams: {self.streams_url}/tenants/demo-bank/routing",
            f"  media node health: http://{POD_GATEWAY}:{self.health_port}/readyz; "
            f"callbacks: http://{POD_GATEWAY}:{self.callbacks_port}/readyz",
            f"  kubectl --kubeconfig {self.kubeconfig} -n {self.release.namespace} get pods",
            *([f"  traffic: Locust, steady shape, live statistics "
               f"http://127.0.0.1:{self.locust_port}"] if self.traffic else []),
            *(f"  {p.name}: pid {p.pid}, log {p.log_path}" for p in self.processes),
        ])

    def down(self) -> None:
        super().down()  # traffic and phones
        if self.release is not None:
            try:
                self.release.uninstall(timeout_s=120)
            except HelmError as err:  # the node goes down next anyway
                print(f"devstack: helm uninstall failed, the node's stop removes the pods:\n"
                      f"{err}")
