"""The failover controller: a kopf daemon per ContactCenterSite, thin around logic.

Every heartbeat interval it publishes this site's heartbeat (Kafka, and the
witness), reads the peers' mirrored heartbeats, probes them directly, and acts on
failover.logic's decision: ask the witness, fail over (status, traffic share,
failover profile, event), or fail back after the hold-down.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import kopf
from kubernetes import client

from hotline_events.envelope import source
from hotline_events.models.sites import SiteFailback, SiteFailover, SiteHeartbeat
from hotline_events.producer import EventProducer
from hotline_operators import crds
from hotline_operators.failover.adapters import PeerHeartbeats, WitnessClient, probe
from hotline_operators.failover.logic import decide, peer_healthy, split_after_failover
from hotline_operators.failover.models import Action, PeerView, Timings
from hotline_operators.site.handlers import reconcile_site
from hotline_operators.site.logic import condition, merge_conditions, now_text
from hotline_operators.site.models import SiteSpec


def _patch_status(spec: SiteSpec, status: dict[str, Any]) -> dict[str, Any]:
    patched: Any = client.CustomObjectsApi().patch_namespaced_custom_object_status(
        crds.GROUP, crds.VERSION, spec.namespace, crds.SITES, spec.name, {"status": status})
    return dict(patched)


class Controller:
    """One site's view of its peers; ``step()`` runs once per heartbeat interval."""

    def __init__(self, body: kopf.Body, logger: logging.Logger | logging.LoggerAdapter[Any]):
        self.body = body
        self.logger = logger
        spec = SiteSpec.from_resource(dict(body))
        self.timings = Timings(spec.heartbeat_interval_s, spec.peer_timeout_s, spec.hold_down_s)
        # librdkafka's own complaints go through logging, not raw stderr.
        self.producer = EventProducer(spec.kafka_bootstrap,
                                      source(spec.site, "operator", socket.gethostname()),
                                      config={"logger": logging.getLogger("hotline.kafka")})
        self.peers = PeerHeartbeats(spec.kafka_bootstrap, spec.peers)
        self.witness = WitnessClient(spec.witness_url)
        self.sequence = 0
        self.healthy_since: dict[str, float | None] = {}

    def step(self) -> None:
        spec = SiteSpec.from_resource(dict(self.body))
        status = dict(self.body.get("status") or {})
        failed = list(status.get("failedPeers") or [])
        token = int(status.get("fencingToken") or 1)
        share = int(status.get("trafficShare", spec.traffic_share))
        self.sequence += 1
        self.producer.publish(SiteHeartbeat(
            site=spec.site, sequence=self.sequence,
            state="failed-over" if failed else "active",
            serving=(spec.site, *failed), traffic_share=share / 100, fencing_token=token))
        self.witness.heartbeat(spec.site)
        last = self.peers.poll()
        now = time.time()
        for peer in spec.peers:
            view = PeerView(now, last.get(peer), probe(spec.peer_probes.get(peer)),
                            self.healthy_since.get(peer))
            healthy = peer_healthy(view, self.timings)
            if not healthy:
                self.healthy_since[peer] = None
            elif self.healthy_since.get(peer) is None:
                self.healthy_since[peer] = now
            view = PeerView(now, view.last_heartbeat, view.probe_ok, self.healthy_since[peer])
            decision = decide(view, self.timings, failed_over=peer in failed)
            if decision.action is Action.ASK_WITNESS:
                answer, granted, reason = self.witness.request_takeover(spec.site, peer)
                decision = decide(view, self.timings, failed_over=False, witness=answer)
                if decision.action is Action.FAIL_OVER:
                    self.fail_over(spec, status, peer, granted, share)
                else:
                    self.logger.warning("peer %s looks down but no failover: %s (%s)",
                                        peer, decision.reason, reason)
            elif decision.action is Action.FAIL_BACK:
                self.fail_back(spec, status, peer, token, now)
            self._peer_condition(spec, status, peer, healthy)
        self.producer.flush(5)

    def _peer_condition(self, spec: SiteSpec, status: dict[str, Any], peer: str,
                        healthy: bool) -> None:
        old = list(status.get("conditions") or [])
        current = next((c for c in old if c["type"] == "PeerHealthy"), None)
        wanted = "True" if healthy else "False"
        if current is None or current["status"] != wanted:
            conditions = merge_conditions(old, [condition(
                "PeerHealthy", healthy, "Heartbeats" if healthy else "Silent",
                f"peer {peer} {'answers' if healthy else 'is silent and fails its probes'}",
                now_text())])
            _patch_status(spec, {"conditions": conditions})

    def fail_over(self, spec: SiteSpec, status: dict[str, Any], peer: str, token: int,
                  share: int) -> None:
        # Steps in order, each idempotent, FailedOver=True last: a restarted operator
        # that finds the peer in failedPeers without the condition finishes the job.
        shares = split_after_failover({spec.site: share, peer: 100 - share}, spec.site, [peer])
        patched = _patch_status(spec, {
            "failedPeers": sorted({*status.get("failedPeers", []), peer}),
            "trafficShare": shares[spec.site], "fencingToken": token})
        reconcile_site(patched, self.logger)  # scale to the failover profile
        self.producer.publish(SiteFailover(
            site=peer, taken_over_by=spec.site, fencing_token=token,
            votes=(spec.site, "witness"), reason="heartbeats stopped and probes failed"))
        self.producer.flush(5)
        conditions = merge_conditions(list(patched["status"].get("conditions") or []), [
            condition("FailedOver", True, "PeerLost", f"took over {peer} with lease {token}",
                      now_text())])
        _patch_status(spec, {"conditions": conditions})
        kopf.warn(self.body, reason="FailedOver",
                  message=f"{spec.site} took over {peer} (lease {token}); traffic share now "
                          f"{shares[spec.site]}%")

    def fail_back(self, spec: SiteSpec, status: dict[str, Any], peer: str, token: int,
                  now: float) -> None:
        self.witness.release(peer, token)
        remaining = [p for p in status.get("failedPeers", []) if p != peer]
        conditions = merge_conditions(list(status.get("conditions") or []), [condition(
            "FailedOver", bool(remaining), "PeerRecovered",
            f"handed {peer}'s traffic back after the hold-down", now_text())])
        patched = _patch_status(spec, {"failedPeers": remaining,
                                       "trafficShare": spec.traffic_share,
                                       "conditions": conditions})
        reconcile_site(patched, self.logger)  # back to the normal profile
        since = self.healthy_since.get(peer) or now
        self.producer.publish(SiteFailback(site=peer, handed_back_by=spec.site,
                                           fencing_token=token, healthy_for_seconds=now - since))
        kopf.info(self.body, reason="FailedBack",
                  message=f"{peer} healthy for {now - since:.0f}s; its traffic is handed back")

    def close(self) -> None:
        self.peers.close()
        self.producer.flush(5)


@kopf.daemon(crds.GROUP, crds.VERSION, crds.SITES, cancellation_timeout=10,
             backoff=2)
def watch_peers(stopped: kopf.DaemonStopped, body: kopf.Body, logger: kopf.Logger,
                **_: Any) -> None:
    controller = Controller(body, logger)
    try:
        while not stopped:
            started = time.monotonic()
            try:
                controller.step()
            except Exception:
                logger.exception("failover step failed; retrying at the next heartbeat")
            interval = controller.timings.heartbeat_interval_s
            stopped.wait(max(0.0, interval - (time.monotonic() - started)))
    finally:
        controller.close()

