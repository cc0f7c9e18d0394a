"""Site-loss drill on the node: two sites from the chart behind a carrier; site-b dies.

    uv run python benchmarks/site_loss.py [--runs 10] [--every 0.5]

Root only (the node). Starts the stack (profile two-site-node: both Kafkas with
MirrorMaker 2, both Cassandra datacenters, the API server, the node, the witness's
etcd), builds and imports the images, installs site-a and site-b from the chart and
puts a carrier (Kamailio) in front of both edges. Each run: callers dial the carrier
every ``--every`` seconds; site-b goes dark at once (pods killed with grace 0, its
Kafka broker and Cassandra node killed, its ports and address dropped); site-a's
status and topics give the timeline; then site-b is restored and handed back after
the hold-down, and the next run starts once both sites are healthy again.

Printed per run and as p50/p95, in seconds after the kill: detection (site-a's
PeerHealthy=False), decision (the witness's lease), edge updated (site-a's
dispatcher list and split), adoption requested, takeover announced, first new call
answered at site-a (its CallOffered), first interval of site-b adopted by site-a,
site-b's waiting callers offered a callback, the callback pending at site-b dialled by
site-a (an agent is ready at site-a; the customer's phone is busy, so each attempt is
one dial); and the counts: calls during the outage, refused (the caller got no
answer), in flight at site-b when it died (lost with its media), callbacks offered or
dialled twice, and the failback time. Then the resident memory of everything running.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from devstack import artifacts, images, kubernetes
from devstack.callers import MENU, BusyPhone, Callers
from devstack.network import POD_GATEWAY
from devstack.process import wait_for
from devstack.settings import ExternalEndpoints
from devstack.site_release import DEMO_TENANT, free_node_port
from devstack.stack import PROFILES, Stack
from devstack.two_sites import NodeSite, TwoSites, prepare
from hotline_events.catalog import default_catalog
from hotline_events.envelope import Event, decode
from hotline_events.models.callbacks import CallbackRequested, CallbackScheduled, DialCallback
from hotline_events.models.calls import CallOffered, CallQueued
from hotline_events.models.identity import CallerIdentified
from hotline_events.models.metrics import SlaInterval
from hotline_events.pii import caller_token
from hotline_events.producer import EventProducer

TOKEN_KEY = f"site-loss-bench-{uuid.uuid4().hex}"
# Callers' numbers differ between processes too: the call topics outlive a run.
NUMBERS = f"+49{uuid.uuid4().int % 900 + 100}"
STEPS = ("detection", "decision", "edge updated", "adoption requested", "announced",
         "first call at site-a", "intervals adopted", "waiting callers offered callbacks",
         "pending callback dialled", "handed back")
WAITING = 1  # callers waiting in site-b's queue when it dies
# A caller who queues at site-b (after the menu's ~35 s) and hangs up at 50 s: an
# abandon in site-b's open interval, which site-a then finishes as adopted.
ABANDON_AFTER_S = 50


def epoch(text: str | None) -> float | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if text else None


def topic_events(site: NodeSite, model: type[Any], since: float,
                 every_model: bool = False) -> list[Event]:
    """Events of ``model``'s topic at ``site`` timed at or after ``since`` (only
    ``model``'s, unless ``every_model``)."""
    topic = default_catalog().topic_for_type(model.TYPE).name
    consumer = Consumer({"bootstrap.servers": site.kafka.bootstrap,
                         "group.id": f"bench-{uuid.uuid4()}", "enable.auto.commit": False})
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        offsets = consumer.offsets_for_times(
            [TopicPartition(topic, p, int(since * 1000)) for p in parts], timeout=10)
        consumer.assign(offsets)
        found: list[Event] = []
        idle = 0
        while idle < 3:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                idle += 1
                continue
            idle = 0
            event = decode(msg.headers(), msg.value())
            if (every_model or isinstance(event.data, model)) and \
                    event.time.timestamp() >= since:
                found.append(event)
        return found
    finally:
        consumer.close()


def queued_calls(site: NodeSite, callers: list[str]) -> dict[str, str]:
    """Caller → call id of those of ``callers`` queued at ``site`` so far."""
    tokens = {caller_token(c, TOKEN_KEY.encode()): c for c in callers}
    events = topic_events(site, CallOffered, time.time() - 600, every_model=True)
    offered = {e.subject: tokens[e.data.caller_token] for e in events
               if isinstance(e.data, CallOffered) and e.data.caller_token in tokens}
    return {offered[e.subject]: str(e.subject) for e in events
            if isinstance(e.data, CallQueued) and e.subject in offered}


def pending_callback(b: NodeSite, n: int) -> str:
    """A callback a caller asked site-b's IVR for (published as site-b's media node
    does), stored by site-b's scheduler; pending, since no agent is ready at site-b."""
    callback_id, call_id = f"cb-{uuid.uuid4()}", f"call-{uuid.uuid4()}"
    number = f"+4930{n:02d}{uuid.uuid4().int % 1_000_000:06d}"  # a valid Berlin number
    token = caller_token(number, TOKEN_KEY.encode())
    media = EventProducer(b.kafka.bootstrap, "//hotline/site-b/media-node/bench")
    for data in (CallerIdentified(call_id=call_id, tenant=DEMO_TENANT, caller_number=number,
                                  caller_token=token),
                 CallbackRequested(callback_id=callback_id, call_id=call_id, tenant=DEMO_TENANT,
                                   queue="general", reason="caller-request", caller_token=token,
                                   original_enqueued_at=datetime.now(UTC))):
        media.publish_event(Event(data=data, source=media.source))
    media.flush(10)
    since = time.time() - 60
    wait_for(lambda: True if any(isinstance(e.data, CallbackScheduled)
                                 and e.data.callback_id == callback_id
                                 for e in topic_events(b, CallbackScheduled, since)) else None,
             "the callback stored at site-b", timeout=60, interval=1)
    return callback_id


def post_agent(site: NodeSite, agent: str, action: str, body: dict[str, Any]) -> int:
    """An agent desktop's POST to the site's agent API; its status (0: unreachable)."""
    request = urllib.request.Request(
        f"{site.streams_url}/tenants/{DEMO_TENANT}/agents/{agent}/{action}", method="POST",
        data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except (urllib.error.URLError, OSError):
        return 0


def one_run(n: int, sites: TwoSites, home: Path, every: float) -> dict[str, float | None]:
    a, b = sites.sites["site-a"], sites.sites["site-b"]
    assert sites.carrier is not None
    pending = pending_callback(b, n)
    callers = Callers(sites.carrier.port, home / f"run-{n}", every_s=every,
                      prefix=f"{NUMBERS}{n:02d}55")
    waiting = Callers(sites.carrier.port, home / f"run-{n}-waiting",
                      prefix=f"{NUMBERS}{n:02d}66")
    in_queue = [waiting.place(service=MENU, stay_s=240, port=b.ports.edge)
                for _ in range(WAITING)]
    abandoner = waiting.place(service=MENU, stay_s=ABANDON_AFTER_S, port=b.ports.edge)
    lost_calls = set(wait_for(
        lambda: found if len(found := queued_calls(b, [c.caller for c in in_queue])) == WAITING
        else None, "callers waiting at site-b", timeout=90, interval=1).values())
    abandoner.proc.wait(ABANDON_AFTER_S + 40)
    callers.start()
    wait_for(lambda: True if len(callers.calls) >= 6 else None, "callers", timeout=30)
    killed = time.time()
    sites.go_dark("site-b")
    wait_for(lambda: True if a.condition_is("FailedOver", "True") else None,
             "site-a taking over", timeout=120, interval=0.5)
    status = a.status()
    progress = status["failovers"]["site-b"]
    peer = next(c for c in status["conditions"] if c["type"] == "PeerHealthy")
    wait_for(lambda: True if len(callers.calls) >= 40 else None, "callers", timeout=60)
    pending_dials = wait_for(
        lambda: [e for e in topic_events(a, DialCallback, killed)
                 if isinstance(e.data, DialCallback) and e.data.callback_id == pending] or None,
        "site-a dialling the callback pending at site-b", timeout=120, interval=1)
    calls = callers.stop()
    during = [c for c in calls if c.started >= killed]
    before = [c for c in calls if c.started < killed]
    tokens = {caller_token(c.caller, TOKEN_KEY.encode()): c for c in during}
    offered = [e for e in topic_events(a, CallOffered, killed)
               if isinstance(e.data, CallOffered) and e.data.caller_token in tokens]
    adopted = [e for e in topic_events(a, SlaInterval, killed)
               if isinstance(e.data, SlaInterval) and e.data.adopted_from == "site-b"]
    offers = [(e.time.timestamp(), e.data) for e in topic_events(a, CallbackRequested, killed)
              if isinstance(e.data, CallbackRequested) and e.data.reason == "site-lost"
              and e.data.call_id in lost_calls]
    for call in in_queue:  # their calls went down with site-b's media
        call.proc.kill()
    lost = [c for c in before if not c.answered]
    refused = [c for c in during if not c.answered]

    sites.restore("site-b")
    back = wait_for(lambda: time.time() if a.condition_is("FailedOver", "False") else None,
                    "site-a handing site-b back", timeout=400, interval=1)
    # Each attempt of a lost caller's callback is one command, from whichever site.
    offered_ids = {o.callback_id for _, o in offers} | {pending}
    dials = [e for site in (a, b) for e in topic_events(site, DialCallback, killed)
             if isinstance(e.data, DialCallback) and e.data.callback_id in offered_ids]
    attempts: dict[tuple[str, int], set[str]] = {}
    for e in dials:
        assert isinstance(e.data, DialCallback)
        attempts.setdefault((e.data.callback_id, e.data.attempt), set()).add(e.id)
    wait_for(lambda: True if b.condition_is("PeerHealthy", "True")
             and a.condition_is("PeerHealthy", "True") else None,
             "both sites healthy again", timeout=300, interval=1)
    at = progress.get("at", {})

    def since(value: float | None) -> float | None:
        return None if value is None else round(value - killed, 2)

    return {
        "detection": since(epoch(peer.get("lastTransitionTime"))),
        "decision": since(epoch(progress.get("decidedAt"))),
        "edge updated": since(epoch(at.get("split-written"))),
        "adoption requested": since(epoch(at.get("adoption-requested"))),
        "announced": since(epoch(at.get("announced"))),
        "first call at site-a": since(min((e.time.timestamp() for e in offered),
                                          default=None)),
        "intervals adopted": since(min((e.time.timestamp() for e in adopted), default=None)),
        "waiting callers offered callbacks": since(max(
            (at for at, _ in offers), default=None)
            if {o.call_id for _, o in offers} == lost_calls else None),
        "pending callback dialled": since(min(e.time.timestamp() for e in pending_dials)),
        "handed back": since(back),
        "calls during outage": len(during),
        "refused": len(refused),
        "in flight at the kill, lost": len(lost),
        "waiting callers without a callback": len(lost_calls - {o.call_id for _, o in offers}),
        "callbacks offered twice": len({o.callback_id for _, o in offers})
        - len({o.call_id for _, o in offers}),
        "callback attempts dialled twice": sum(1 for ids in attempts.values() if len(ids) > 1),
    }


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rss_by_kind() -> dict[str, float]:
    """Resident memory (MiB) of every process, grouped by what it is; the pods are
    everything below a containerd shim."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            commands[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().replace(
                b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue

    def in_pod(pid: int) -> bool:
        while pid > 1:
            if "containerd-shim" in commands.get(pid, ""):
                return True
            pid = parents.get(pid, 0)
        return False

    kinds: list[tuple[str, Callable[[str], bool]]] = [
        ("kafka brokers", lambda c: "kafka.Kafka " in c),
        ("mirrormaker 2", lambda c: "connect.mirror.MirrorMaker" in c),
        ("cassandra (2 datacenters)", lambda c: "CassandraDaemon" in c),
        ("etcd (API server's, witness's)", lambda c: "/etcd-" in c.split(" ")[0]),
        ("API server", lambda c: "kube-apiserver" in c),
        ("node (containerd, kubelet, proxy, scheduler, controllers)",
         lambda c: any(k in c for k in ("kubelet", "kube-proxy", "kube-scheduler",
                                        "kube-controller", "containerd"))),
        ("witness processes, carrier", lambda c: "hotline_operators.witness" in c
         or "carrier.cfg" in c),
    ]
    totals = {name: 0.0 for name, _ in kinds}
    totals["pods of both sites (+ shims)"] = 0.0
    for pid, cmd in commands.items():
        if in_pod(pid):
            totals["pods of both sites (+ shims)"] += rss_mib(pid)
            continue
        for name, match in kinds:
            if match(cmd):
                totals[name] += rss_mib(pid)
                break
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--every", type=float, default=1.0,
                        help="seconds between new calls to the carrier")
    parser.add_argument("--workers", type=int, default=2,
                        help="media workers per site (two legs each)")
    args = parser.parse_args()
    artifacts.debian_packages()  # SIPp for the callers, Kamailio for the carrier
    built = images.build_all()
    stack = Stack(external=ExternalEndpoints.from_environ({}))
    home = Path(tempfile.mkdtemp(prefix="site-loss-"))
    sites: TwoSites | None = None
    customers = BusyPhone(POD_GATEWAY, free_node_port(), home / "customers")
    try:
        stack.up(list(PROFILES["two-site-node"]))
        assert stack.node is not None and stack.kube is not None
        assert stack.mirrormaker is not None and stack.witness_store is not None
        stack.node.import_images(built)
        binaries = kubernetes.install()
        suffix = uuid.uuid4().hex[:6]
        sites = prepare(kafka=stack.kafka, cassandra=stack.cassandra,
                        mirrormaker=stack.mirrormaker, etcd=stack.witness_store.url,
                        images=built, kubeconfig=stack.kube.kubeconfig_path,
                        helm=binaries.helm, kubectl=binaries.kubectl, home=home, suffix=suffix,
                        token_key=TOKEN_KEY,
                        agent_uri_template=f"sip:{{agent_id}}@{POD_GATEWAY}:{free_node_port()}",
                        keyspace=f"hotline_callbacks_{suffix}", workers=args.workers,
                        dial_uri_template=f"sip:{{number}}@{POD_GATEWAY}:{customers.port}")
        customers.start()
        sites.start_witness()
        started = time.monotonic()
        sites.install()
        print(f"both sites installed in {time.monotonic() - started:.0f} s; logs in {home}")
        a, b = sites.sites["site-a"], sites.sites["site-b"]
        wait_for(lambda: True if a.condition_is("PeerHealthy", "True")
                 and b.condition_is("PeerHealthy", "True") else None,
                 "both sites healthy", timeout=300, interval=1)
        # An agent of site-a's general queue is ready: site-a dials the callbacks it
        # adopts (a phone that does not answer would make them not ready, but no caller
        # queues at site-a here and every customer is busy).
        for action, body in (("login", {"skills": {"general": 3}}), ("ready", {})):
            wait_for(lambda action=action, body=body: True if post_agent(  # type: ignore[misc]
                a, "bench-agent", action, body) == 202 else None,
                f"site-a's agent {action}", timeout=60, interval=0.5)
        results = []
        for n in range(1, args.runs + 1):
            result = one_run(n, sites, home, args.every)
            results.append(result)
            print(f"run {n}: " + ", ".join(f"{k} {v}" for k, v in result.items()), flush=True)
        print(f"\n{len(results)} runs, seconds after the kill:")
        for step in STEPS:
            values = [v for r in results if (v := r[step]) is not None]
            if values:
                print(f"  {step:<24} p50 {p(values, 0.5):6.2f}  p95 {p(values, 0.95):6.2f}  "
                      f"max {max(values):6.2f}  ({len(values)}/{len(results)} runs)")
            else:
                print(f"  {step:<24} never seen")
        for count in ("calls during outage", "refused", "in flight at the kill, lost",
                      "waiting callers without a callback", "callbacks offered twice",
                      "callback attempts dialled twice"):
            print(f"  {count:<28} total {sum(int(r[count] or 0) for r in results)}")
        print("\nresident memory of everything running:")
        memory = rss_by_kind()
        for name, mib in memory.items():
            print(f"  {name:<58} {mib:7.0f} MiB")
        print(f"  {'total':<58} {sum(memory.values()):7.0f} MiB")
    finally:
        customers.stop()
        if sites is not None:
            try:
                sites.uninstall()
            finally:
                sites.close()
        stack.down()


if __name__ == "__main__":
    main()
