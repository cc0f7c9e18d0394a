"""The failover controller: a kopf daemon per ContactCenterSite, thin around logic.

Every heartbeat interval it publishes this site's heartbeat (Kafka, and the
witness), reads the peers' mirrored heartbeats, probes them directly, and acts on
failover.logic's decision: ask the witness, fail over, or fail back after the
hold-down.

A failover is recorded before any side effect (failedPeers, the fencing token and
status.failovers[peer]), then runs its steps in order, recording each one done: a
restarted operator (or the standby replica) finishes a half-done failover instead
of starting over, and the events carry ids derived from (step, peer, token), so a
step repeated after a crash is a duplicate that consumers drop.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import kopf
from kubernetes import client

from hotline_events.envelope import Event, source
from hotline_events.models import EventModel
from hotline_events.models.sites import (
    SiteAdoptionRequested,
    SiteFailback,
    SiteFailover,
    SiteHeartbeat,
    SiteShare,
    SiteTrafficSplit,
)
from hotline_events.producer import EventProducer
from hotline_operators import crds
from hotline_operators.failover.adapters import (
    PeerHeartbeats,
    WitnessClient,
    probe,
    witness_key,
)
from hotline_operators.failover.logic import (
    FAILBACK_STEPS,
    FAILOVER_STEPS,
    decide,
    event_id,
    peer_healthy,
    remaining_steps,
    serving_failed,
)
from hotline_operators.failover.models import Action, PeerView, Timings
from hotline_operators.leadership.adapters import micro_time
from hotline_operators.site.adapters import Applier, SiteStatusStore
from hotline_operators.site.handlers import reconcile_site
from hotline_operators.site.logic import condition, merge_conditions, now_text
from hotline_operators.site.models import SiteSpec
from hotline_operators.traffic.logic import dispatcher_config_map, shares_after
from hotline_operators.witness.signing import KEYS_DIR_ENV

# Test hook: exit right after recording this failover step, or "failback:<step>" (the
# crash-and-resume tests).
EXIT_AFTER_STEP_ENV = "HOTLINE_OPERATOR_EXIT_AFTER_STEP"
EXIT_TEST_HOOK = 75
# Set when the operator exits. Why: kopf sometimes cancels a sync daemon's task without
# setting its ``stopped`` flag (seen when SIGTERM lands during a resumed failover); the
# orphaned thread then looped on and held the process for 30 s until it was killed.
_EXITING = threading.Event()
Step = Callable[[SiteSpec, dict[str, Any], str, int], None]  # (spec, status, peer, lease)


def _patch_status(spec: SiteSpec, status: dict[str, Any]) -> dict[str, Any]:
    patched: Any = client.CustomObjectsApi().patch_namespaced_custom_object_status(
        crds.GROUP, crds.VERSION, spec.namespace, crds.SITES, spec.name, {"status": status})
    return dict(patched)


def _read_site(namespace: str, name: str) -> dict[str, Any] | None:
    return SiteStatusStore().site(namespace, name)


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
        self.witness = WitnessClient(spec.witness_url, spec.site, witness_key(
            spec.site, os.environ.get(KEYS_DIR_ENV)))
        self.sequence = 0
        self.healthy_since: dict[str, float | None] = {}
        self.watched_since: dict[str, float] = {}
        self.steps: dict[str, Step] = {
            "split-written": self._write_split,
            "scaled": self._scale,
            "adoption-requested": self._request_adoption,
            "announced": self._announce,
        }
        self.failback_steps: dict[str, Step] = {
            "split-written": self._write_failback_split,
            "scaled": self._scale,
            "announced": self._announce_failback,
            "released": self._release,
        }

    def step(self) -> None:
        # Read the site afresh: kopf's body lags our own status writes, and a stale
        # one would start a failover that is already under way.
        meta = self.body["metadata"]
        body = _read_site(meta["namespace"], meta["name"])
        if body is None:
            return  # being deleted; the daemon stops soon
        spec = SiteSpec.from_resource(body)
        status = dict(body.get("status") or {})
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
            progress = (status.get("failovers") or {}).get(peer)
            if peer in failed and progress and remaining_steps(list(progress["done"])):
                self.logger.warning("resuming the takeover of %s (lease %s): %s still to do",
                                    peer, progress["token"],
                                    ", ".join(remaining_steps(list(progress["done"]))))
                status = self.resume(spec, status, peer)
            if (status.get("failbacks") or {}).get(peer):
                self.logger.warning("resuming the failback of %s (lease %s): %s still to do",
                                    peer, status["failbacks"][peer]["token"],
                                    ", ".join(remaining_steps(
                                        list(status["failbacks"][peer]["done"]),
                                        FAILBACK_STEPS)) or "forgetting the takeover")
                status = self.resume_failback(spec, status, peer)
                failed = list(status.get("failedPeers") or [])
            view = PeerView(now, last.get(peer), probe(spec.peer_probes.get(peer)),
                            self.healthy_since.get(peer),
                            self.watched_since.setdefault(peer, now))
            healthy = peer_healthy(view, self.timings)
            if not healthy:
                self.healthy_since[peer] = None
            elif self.healthy_since.get(peer) is None:
                self.healthy_since[peer] = now
            view = dataclasses.replace(view, healthy_since=self.healthy_since[peer])
            decision = decide(view, self.timings, failed_over=peer in failed)
            if decision.action is Action.ASK_WITNESS:
                answer, granted, reason = self.witness.request_takeover(spec.site, peer)
                decision = decide(view, self.timings, failed_over=False, witness=answer)
                if decision.action is Action.FAIL_OVER:
                    self.logger.warning("taking over %s: %s (lease %d)", peer,
                                        decision.reason, granted)
                    status = self.fail_over(spec, status, peer, granted)
                else:
                    self.logger.warning("peer %s looks down but no failover: %s (%s)",
                                        peer, decision.reason, reason)
            elif decision.action is Action.FAIL_BACK:
                lease = int(((status.get("failovers") or {}).get(peer) or {}).get("token", token))
                status = self.fail_back(spec, status, peer, lease, now)
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

    # -- failover ------------------------------------------------------------------

    def fail_over(self, spec: SiteSpec, status: dict[str, Any], peer: str,
                  token: int) -> dict[str, Any]:
        # The lease is recorded before any side effect, so whoever runs next (this
        # process after a crash, or the standby replica) knows the takeover started.
        patched = _patch_status(spec, {
            "failedPeers": sorted({*status.get("failedPeers", []), peer}),
            "fencingToken": token,
            "failovers": {peer: {"token": token, "done": [], "decidedAt": micro_time()}}})
        return self.resume(spec, dict(patched.get("status") or {}), peer)

    def resume(self, spec: SiteSpec, status: dict[str, Any], peer: str) -> dict[str, Any]:
        return self._run_steps(spec, status, peer, "failovers", self.steps, FAILOVER_STEPS,
                               "takeover", hook="")

    def _run_steps(self, spec: SiteSpec, status: dict[str, Any], peer: str, record: str,
                   steps: dict[str, Step], order: tuple[str, ...], what: str,
                   hook: str) -> dict[str, Any]:
        """The steps of ``order`` not yet listed in ``status[record][peer]["done"]``, each
        recorded there once it is done: an operator that dies in between is resumed
        after the last recorded step. ``hook``: the test hook's prefix for these steps."""
        progress = status[record][peer]
        token, done = int(progress["token"]), list(progress["done"])
        for name in remaining_steps(done, order):
            started = time.monotonic()
            steps[name](spec, status, peer, token)
            done.append(name)
            patched = _patch_status(spec, {record: {peer: {
                "token": token, "done": done, "at": {name: micro_time()}}}})
            status = dict(patched.get("status") or {})
            self.logger.info("%s of %s (lease %d): %s in %.2fs", what, peer, token, name,
                             time.monotonic() - started)
            if os.environ.get(EXIT_AFTER_STEP_ENV) == hook + name:
                self.logger.critical("test hook %s=%s: exiting mid-%s", EXIT_AFTER_STEP_ENV,
                                     hook + name, record.removesuffix("s"))
                logging.shutdown()
                os._exit(EXIT_TEST_HOOK)
        return status

    def _publish_once(self, data: EventModel, kind: str, failed_site: str, token: int,
                      status: dict[str, Any]) -> None:
        decided_at = str(((status.get("failovers") or {}).get(failed_site) or {})
                         .get("decidedAt", ""))
        self.producer.publish_event(Event(data=data, source=self.producer.source,
                                          id=event_id(kind, failed_site, token, decided_at)))
        self.producer.flush(10)  # the step counts as done only once Kafka has it

    def _write_split(self, spec: SiteSpec, status: dict[str, Any], peer: str,
                     token: int) -> None:
        failed = sorted({*status.get("failedPeers", []), peer})
        self._split(spec, status, failed, token, "failover", peer)

    def _split(self, spec: SiteSpec, status: dict[str, Any], failed: list[str], token: int,
               reason: str, peer: str) -> None:
        shares = shares_after(spec.site, spec.traffic_share, spec.peers, failed)
        destinations = 0
        if spec.edge is not None:
            destinations = sum(1 for d in spec.edge.destinations if d.site not in failed)
            if destinations:
                manifest = dispatcher_config_map(spec, spec.edge, failed, token)
                Applier(client.ApiClient()).apply(manifest)
            else:
                # An empty dispatcher list would refuse every call: keep the edge's list.
                self.logger.error("site %s: spec.edge lists no destinations of %s; the "
                                  "edge's dispatcher list %s is left as it is", spec.site,
                                  spec.site, spec.edge.config_map)
        else:
            self.logger.warning("site %s has no spec.edge: no dispatcher list to rewrite; "
                                "only the split event is published", spec.site)
        _patch_status(spec, {"trafficShare": shares[spec.site]})
        self._publish_once(SiteTrafficSplit(
            site=spec.site, reason="failover" if reason == "failover" else "failback",
            shares=tuple(SiteShare(site=s, share=v / 100) for s, v in sorted(shares.items())),
            fencing_token=token, destinations=destinations), f"split-{reason}", peer, token,
            status)

    def _scale(self, spec: SiteSpec, status: dict[str, Any], peer: str, token: int) -> None:
        reconcile_site({"metadata": {"namespace": spec.namespace, "name": spec.name}},
                       self.logger)  # reads the site afresh: failedPeers → failover profile

    def _request_adoption(self, spec: SiteSpec, status: dict[str, Any], peer: str,
                          token: int) -> None:
        self._publish_once(SiteAdoptionRequested(
            site=peer, adopted_by=spec.site, fencing_token=token,
            scope=("callbacks", "sla-intervals")), "adoption", peer, token, status)

    def _announce(self, spec: SiteSpec, status: dict[str, Any], peer: str, token: int) -> None:
        self._publish_once(SiteFailover(
            site=peer, taken_over_by=spec.site, fencing_token=token,
            votes=(spec.site, "witness"), reason="heartbeats stopped and probes failed"),
            "failover", peer, token, status)
        conditions = merge_conditions(list(status.get("conditions") or []), [
            condition("FailedOver", True, "PeerLost", f"took over {peer} with lease {token}",
                      now_text())])
        _patch_status(spec, {"conditions": conditions})
        share = shares_after(spec.site, spec.traffic_share, spec.peers,
                             status.get("failedPeers", []))[spec.site]
        kopf.warn(self.body, reason="FailedOver",
                  message=f"{spec.site} took over {peer} (lease {token}); traffic share now "
                          f"{share}%")

    # -- failback ------------------------------------------------------------------

    def fail_back(self, spec: SiteSpec, status: dict[str, Any], peer: str, token: int,
                  now: float) -> dict[str, Any]:
        # Recorded before any side effect, like a failover: whoever runs next finishes
        # this hand-back instead of deciding anew. The peer stays in failedPeers until
        # the last step (so no new takeover starts meanwhile), but from here on its
        # traffic and the normal profile are its own (failover.logic.serving_failed).
        since = self.healthy_since.get(peer) or now
        self.logger.warning("handing %s back: healthy for %.0fs (lease %d)", peer,
                            now - since, token)
        patched = _patch_status(spec, {"failbacks": {peer: {
            "token": token, "done": [], "decidedAt": micro_time(),
            "healthyForSeconds": round(now - since, 3)}}})
        return self.resume_failback(spec, dict(patched.get("status") or {}), peer)

    def resume_failback(self, spec: SiteSpec, status: dict[str, Any],
                        peer: str) -> dict[str, Any]:
        token = int(status["failbacks"][peer]["token"])
        status = self._run_steps(spec, status, peer, "failbacks", self.failback_steps,
                                 FAILBACK_STEPS, "failback", hook="failback:")
        # Every step done: the takeover is over (FailedOver=False says so).
        remaining = [p for p in status.get("failedPeers", []) if p != peer]
        conditions = merge_conditions(list(status.get("conditions") or []), [condition(
            "FailedOver", bool(remaining), "PeerRecovered",
            f"handed {peer}'s traffic back after the hold-down (lease {token} released)",
            now_text())])
        patched = _patch_status(spec, {"failedPeers": remaining, "failovers": {peer: None},
                                       "failbacks": {peer: None}, "conditions": conditions})
        return dict(patched.get("status") or {})

    def _serving(self, status: dict[str, Any]) -> list[str]:
        return serving_failed(list(status.get("failedPeers") or []),
                              [p for p, fb in (status.get("failbacks") or {}).items() if fb])

    def _write_failback_split(self, spec: SiteSpec, status: dict[str, Any], peer: str,
                              token: int) -> None:
        self._split(spec, status, self._serving(status), token, "failback", peer)

    def _announce_failback(self, spec: SiteSpec, status: dict[str, Any], peer: str,
                           token: int) -> None:
        healthy_for = float(status["failbacks"][peer].get("healthyForSeconds", 0.0))
        self._publish_once(SiteFailback(site=peer, handed_back_by=spec.site,
                                        fencing_token=token, healthy_for_seconds=healthy_for),
                           "failback", peer, token, status)
        kopf.info(self.body, reason="FailedBack",
                  message=f"{peer} healthy for {healthy_for:.0f}s; its traffic is handed back")

    def _release(self, spec: SiteSpec, status: dict[str, Any], peer: str, token: int) -> None:
        # Last: once released, the witness may grant a new lease for this peer.
        if not self.witness.release(peer, token):
            raise RuntimeError(f"the witness at {self.witness.url} did not take back the "
                               f"lease {token} on {peer}; retrying at the next heartbeat")

    def close(self) -> None:
        self.peers.close()
        self.producer.flush(5)


@kopf.daemon(crds.GROUP, crds.VERSION, crds.SITES, cancellation_timeout=10,
             backoff=2)
def watch_peers(stopped: kopf.DaemonStopped, body: kopf.Body, logger: kopf.Logger,
                **_: Any) -> None:
    controller = Controller(body, logger)
    try:
        while not stopped and not _EXITING.is_set():
            started = time.monotonic()
            try:
                controller.step()
            except Exception:
                logger.exception("failover step failed; retrying at the next heartbeat")
            interval = controller.timings.heartbeat_interval_s
            stopped.wait(max(0.0, interval - (time.monotonic() - started)))
    finally:
        controller.close()


@kopf.on.startup()
def start_watching_peers(**_: Any) -> None:
    """A new operator run (tests run several in one process, one after another)."""
    _EXITING.clear()


@kopf.on.cleanup()
def stop_watching_peers(**_: Any) -> None:
    """The operator exits: every ``watch_peers`` loop ends within a heartbeat."""
    _EXITING.set()
