"""A ContactCenterSite's spec as plain data (the API server already validated it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Profile = Literal["normal", "failover"]
PullPolicy = Literal["Always", "IfNotPresent", "Never"]

DEFAULT_MEDIA_IMAGE = "ghcr.io/hotline/media-node:latest"
DEFAULT_STREAMS_IMAGE = "ghcr.io/hotline/streams:latest"


@dataclass(frozen=True)
class Replicas:
    normal: int
    failover: int

    def for_profile(self, profile: Profile) -> int:
        return self.failover if profile == "failover" else self.normal


@dataclass(frozen=True)
class MediaNetwork:
    """hostNetwork: SIP/RTP on the node's ports (no NAT, one node per pod and port).
    loadBalancer: a UDP Service exposing SIP and the RTP range (portable, NAT'd)."""

    mode: Literal["hostNetwork", "loadBalancer"] = "loadBalancer"
    sip_port: int = 5060
    rtp_port_start: int = 20000
    rtp_port_end: int = 20199


@dataclass(frozen=True)
class SecretKey:
    """One key of a Secret (its value never appears in a spec)."""

    secret: str
    key: str


@dataclass(frozen=True)
class Flows:
    """The IVR flows as data: a ConfigMap whose keys are flow YAML files."""

    config_map: str
    files: tuple[str, ...]
    checksum: str | None = None


@dataclass(frozen=True)
class Recordings:
    volume: Literal["emptyDir", "persistentVolumeClaim"] = "emptyDir"
    claim_name: str | None = None


@dataclass(frozen=True)
class Scheduling:
    """Copied verbatim into a pod (resources into its container); None: not set."""

    resources: Mapping[str, Any] | None = None
    node_selector: Mapping[str, str] | None = None
    tolerations: tuple[Mapping[str, Any], ...] | None = None
    affinity: Mapping[str, Any] | None = None

    @classmethod
    def from_part(cls, part: Mapping[str, Any]) -> Scheduling:
        tolerations = part.get("tolerations")
        return cls(resources=part.get("resources"), node_selector=part.get("nodeSelector"),
                   tolerations=None if tolerations is None else tuple(tolerations),
                   affinity=part.get("affinity"))


@dataclass(frozen=True)
class MediaPool:
    """How a media-node pod runs its pool (``python -m hotline_media_nodes.pool``)."""

    workers: int = 2  # pjsua2 workers per pod
    sip_port_base: int = 5070  # worker i listens on base+i
    health_port: int = 8080  # the pool's /healthz /readyz /metrics
    flows: Flows | None = None
    trunks: tuple[str, ...] = ()  # CIDRs allowed to call (--allow)
    agent_uri_template: str | None = None
    dial_uri_template: str | None = None
    drain_seconds: int = 30
    recordings: Recordings | None = None
    scheduling: Scheduling = field(default_factory=Scheduling)

    @classmethod
    def from_part(cls, media: Mapping[str, Any]) -> MediaPool:
        flows = media.get("flows")
        recordings = media.get("recordings")
        return cls(
            workers=int(media.get("workers", 2)),
            sip_port_base=int(media.get("sipPortBase", 5070)),
            health_port=int(media.get("healthPort", 8080)),
            flows=None if not flows else Flows(flows["configMap"], tuple(flows["files"]),
                                               flows.get("checksum") or None),
            trunks=tuple(media.get("trunks") or ()),
            agent_uri_template=media.get("agentUriTemplate"),
            dial_uri_template=media.get("dialUriTemplate"),
            drain_seconds=int(media.get("drainSeconds", 30)),
            recordings=None if recordings is None else Recordings(
                recordings.get("volume", "emptyDir"), recordings.get("claimName")),
            scheduling=Scheduling.from_part(media),
        )


@dataclass(frozen=True)
class EdgeDestination:
    """A media-node worker an edge may send calls to, and the site it belongs to."""

    site: str
    address: str  # host:port
    name: str  # the dispatcher duid
    max_load: int = 4


@dataclass(frozen=True)
class EdgeSpec:
    """The Kamailio edge's dispatcher list the operator writes (in this namespace)."""

    config_map: str
    key: str = "dispatcher.list"
    destinations: tuple[EdgeDestination, ...] = ()


@dataclass(frozen=True)
class SiteSpec:
    name: str  # the object's name; owned objects are named after it
    namespace: str
    uid: str
    site: str
    peers: tuple[str, ...]
    peer_probes: dict[str, str]  # peer site → probe URL
    kafka_bootstrap: str
    kafka_secret: str | None
    cassandra_contact_points: tuple[str, ...]
    cassandra_datacenter: str
    cassandra_secret: str | None
    media_nodes: Replicas
    media_image: str
    media_network: MediaNetwork
    stream_workers: Replicas
    streams_image: str
    traffic_share: int
    recording_key_secret: str | None
    witness_url: str
    heartbeat_interval_s: int
    peer_timeout_s: int
    hold_down_s: int
    edge: EdgeSpec | None = None
    image_pull_policy: PullPolicy = "IfNotPresent"
    host_network: bool = False  # stream workers and interval adoption on the node's network
    caller_token_key: SecretKey | None = None
    media_pool: MediaPool = field(default_factory=MediaPool)
    streams_port: int = 6066
    streams_scheduling: Scheduling = field(default_factory=Scheduling)

    @classmethod
    def from_resource(cls, body: Mapping[str, Any]) -> SiteSpec:
        meta, spec = body["metadata"], body["spec"]
        media = spec.get("mediaNodes", {})
        streams = spec.get("streamWorkers", {})
        timings = spec.get("timings", {})
        token = spec.get("callerTokenKey")

        def replicas(part: Mapping[str, Any]) -> Replicas:
            r = part.get("replicas", {})
            return Replicas(int(r.get("normal", 2)), int(r.get("failover", 4)))

        return cls(
            name=meta["name"], namespace=meta["namespace"], uid=meta["uid"],
            site=spec["site"], peers=tuple(spec["peers"]),
            peer_probes={p["site"]: p["url"] for p in spec.get("peerProbes", [])},
            kafka_bootstrap=spec["kafka"]["bootstrapServers"],
            kafka_secret=spec["kafka"].get("secretRef"),
            cassandra_contact_points=tuple(spec["cassandra"]["contactPoints"]),
            cassandra_datacenter=spec["cassandra"]["localDatacenter"],
            cassandra_secret=spec["cassandra"].get("secretRef"),
            media_nodes=replicas(media), media_image=media.get("image", DEFAULT_MEDIA_IMAGE),
            media_network=MediaNetwork(
                mode=media.get("network", {}).get("mode", "loadBalancer"),
                sip_port=int(media.get("network", {}).get("sipPort", 5060)),
                rtp_port_start=int(media.get("network", {}).get("rtpPortStart", 20000)),
                rtp_port_end=int(media.get("network", {}).get("rtpPortEnd", 20199)),
            ),
            stream_workers=replicas(streams),
            streams_image=streams.get("image", DEFAULT_STREAMS_IMAGE),
            traffic_share=int(spec.get("trafficShare", 50)),
            recording_key_secret=spec.get("recording", {}).get("keySecretRef"),
            witness_url=spec["witness"]["url"],
            heartbeat_interval_s=int(timings.get("heartbeatIntervalSeconds", 1)),
            peer_timeout_s=int(timings.get("peerTimeoutSeconds", 5)),
            hold_down_s=int(timings.get("holdDownSeconds", 120)),
            edge=_edge(spec.get("edge")),
            image_pull_policy=spec.get("imagePullPolicy", "IfNotPresent"),
            host_network=bool(spec.get("hostNetwork", False)),
            caller_token_key=None if not token else SecretKey(
                token["secretRef"], token.get("key", "token-key")),
            media_pool=MediaPool.from_part(media),
            streams_port=int(streams.get("port", 6066)),
            streams_scheduling=Scheduling.from_part(streams),
        )


def _edge(edge: Mapping[str, Any] | None) -> EdgeSpec | None:
    if not edge:
        return None
    return EdgeSpec(
        config_map=edge["dispatcherConfigMap"], key=edge.get("dispatcherKey", "dispatcher.list"),
        destinations=tuple(EdgeDestination(d["site"], d["address"], d["name"],
                                           int(d.get("maxLoad", 4)))
                           for d in edge.get("destinations", [])))
