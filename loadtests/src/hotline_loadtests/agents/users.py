"""The Locust user that plays an agent at a desktop (``AgentUser``): log in through the
streams' agent API (HTTP), go ready, let the SIP phone answer what is offered (the
shared SIPp UAS the media nodes ring for every agent), wrap up, go ready again.

Locust's statistics get the API requests (login, ready, assignment, wrap-up-done,
logout) and one "agent" sample per handled call: from seeing it busy to wrap-up.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from typing import Any

from locust import HttpUser, constant, task

from hotline_loadtests.agents import logic
from hotline_loadtests.settings import RunSettings, from_options

log = logging.getLogger("hotline.loadtests.agents")
LOGGED_IN_WITHIN_S = 60.0  # login event → the streams' routing state shows the agent
_numbers = itertools.count(1)
_run = uuid.uuid4().hex[:6]


class AgentUser(HttpUser):
    """An agent; ``--host`` is the streams' web address, ``fixed_count`` ``--hotline-agents``."""

    fixed_count = 1
    wait_time = constant(1.0)  # the desktop refreshes its assignment every second

    def on_start(self) -> None:
        self.settings: RunSettings = from_options(self.environment.parsed_options)
        s = self.settings
        self.agent_id = f"lt-{_run}-agent-{next(_numbers):04d}"
        self.base = f"/tenants/{s.mix.tenant}/agents/{self.agent_id}"
        self.wrap_up_seen_at: float | None = None
        self.busy_seen_at: float | None = None
        self.ready_requested_at: float | None = None
        skills = logic.all_skills(q.skills for q in s.mix.queues)
        self._post("login", {"skills": skills, "languages": ["en"]})
        deadline = time.monotonic() + LOGGED_IN_WITHIN_S
        while self._agent_state(quiet=True) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"agent {self.agent_id} of {s.mix.tenant} not in the "
                                   f"streams' routing state {LOGGED_IN_WITHIN_S:.0f} s after "
                                   "login: is the stream worker consuming cc.agent.events?")
            time.sleep(0.5)  # gevent-patched; polling the API with a deadline
        self._post("ready")
        self.ready_requested_at = time.monotonic()

    def on_stop(self) -> None:
        self._post("logout")

    def _post(self, action: str, body: dict[str, Any] | None = None) -> bool:
        with self.client.post(f"{self.base}/{action}", json=body or {}, name=action,
                              catch_response=True) as response:
            if response.status_code != 202:
                response.failure(f"{action} for {self.agent_id}: HTTP {response.status_code} "
                                 f"{response.text[:300]}")
                return False
            return True

    def _agent_state(self, quiet: bool = False) -> str | None:
        name = "assignment (logging in)" if quiet else "assignment"
        with self.client.get(f"{self.base}/assignment", name=name,
                             catch_response=True) as response:
            if response.status_code == 404:
                if quiet:
                    response.success()  # not in the routing state yet
                else:
                    response.failure(f"agent {self.agent_id} is no longer logged in")
                return None
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code} {response.text[:300]}")
                return None
            state = response.json().get("agent", {}).get("state")
            return state if isinstance(state, str) else None

    @task
    def desktop(self) -> None:
        state = self._agent_state()
        now = time.monotonic()
        if state in ("busy", "reserved") and self.busy_seen_at is None:
            self.busy_seen_at = now
        if state == "wrap-up" and self.wrap_up_seen_at is None:
            self.wrap_up_seen_at = now
            if self.busy_seen_at is not None:
                self.environment.events.request.fire(
                    request_type="agent", name="call handled (busy→wrap-up)",
                    response_time=(now - self.busy_seen_at) * 1000, response_length=0,
                    exception=None, context={})
            self.busy_seen_at = None
        step = logic.desktop_step(state, self.wrap_up_seen_at, now, self.settings.wrap_up_s,
                                  self.ready_requested_at)
        if step == "wrap-up-done" and self._post("wrap-up-done"):
            self.wrap_up_seen_at = None
        elif step == "ready":
            self._post("ready")
            self.ready_requested_at = now
