"""Two stream workers of one app share the tenants' partitions; a tenant's pages are the
same on both (the worker that does not hold the tenant forwards to the one that does),
so a wallboard behind the workers' Service never shows an empty queue by bad luck.
Faust's own pages that list the tables' contents and the workers are not served."""

from __future__ import annotations

import json
import urllib.error
from typing import Any

import pytest

from devstack.process import wait_for
from helpers.streams_worker import agent_states
from hotline_events.envelope import Event
from hotline_events.models.agents import AgentLoggedIn, AgentReady, SkillLevel

pytestmark = pytest.mark.integration

SOURCE = "//hotline/site-a/test/streams-workers"
TENANTS = [f"tenant-{n}" for n in range(8)]  # spread over the six partitions


def test_every_tenant_page_is_the_same_on_both_workers(streams: Any) -> None:
    first = streams.worker
    first.start()
    streams.publish([Event(data=AgentLoggedIn(
        agent_id=f"{t}-a1", tenant=t, site="site-a",
        skills=(SkillLevel(skill="cards", proficiency=3),)), source=SOURCE) for t in TENANTS]
        + [Event(data=AgentReady(agent_id=f"{t}-a1", tenant=t), source=SOURCE)
           for t in TENANTS])
    for tenant in TENANTS:  # one worker holds every tenant
        streams.wait_view(lambda v, t=tenant: agent_states(v) == {f"{t}-a1": "ready"},
                          f"{tenant}'s ready agent", tenant=tenant)

    second = first.sibling("second")
    try:
        second.start()
        # The first rebalances when the second joins: both ready, both hold partitions
        # and the tenants they took over are recovered from the changelog.
        wait_for(lambda: True if first.ready() and second.ready() else None,
                 "both workers ready after the rebalance", timeout=90, error=AssertionError)
        for tenant in TENANTS:
            pages = [json.loads(w.get(f"/tenants/{tenant}/agents")) for w in (first, second)]
            assert pages[0] == pages[1], (tenant, pages)
            assert [(a["agent_id"], a["state"]) for a in pages[0]["agents"]] == [
                (f"{tenant}-a1", "ready")], pages[0]
        # Screen pops and routing state are not readable through Faust's /table pages,
        # nor the workers' addresses through /router (forwarding does not need them).
        for worker in (first, second):
            for path in ("/table/", "/table/call-context/", "/router/"):
                with pytest.raises(urllib.error.HTTPError) as refused:
                    worker.get(path)
                assert refused.value.code == 404, path
    finally:
        second.stop()
