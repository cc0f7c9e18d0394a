"""The witness's state machine, as plain data and functions.

Sites heartbeat to the witness. A site asking to take over a peer gets a lease only
if the witness has not heard from that peer within the peer timeout, the asker is
itself alive and not taken over, and no other lease covers either of them. Each
grant carries a fencing token larger than every earlier one, so a stale owner's
writes can be refused downstream (dispatcher sets, callback claims).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Lease:
    holder: str  # the site that took over
    failed_site: str
    token: int
    granted_at: float


@dataclass(frozen=True)
class WitnessState:
    peer_timeout_s: float = 5.0
    last_seen: dict[str, float] = field(default_factory=dict)
    leases: dict[str, Lease] = field(default_factory=dict)  # by failed site
    last_token: int = 0


@dataclass(frozen=True)
class Grant:
    lease: Lease


@dataclass(frozen=True)
class Refusal:
    reason: str


def heartbeat(state: WitnessState, site: str, now: float) -> WitnessState:
    return replace(state, last_seen={**state.last_seen, site: now})


def alive(state: WitnessState, site: str, now: float) -> bool:
    seen = state.last_seen.get(site)
    return seen is not None and now - seen <= state.peer_timeout_s


def request_takeover(state: WitnessState, holder: str, failed_site: str,
                     now: float) -> tuple[WitnessState, Grant | Refusal]:
    existing = state.leases.get(failed_site)
    if existing is not None:
        if existing.holder == holder:
            return state, Grant(existing)  # idempotent: a retried request gets the same lease
        return state, Refusal(f"{existing.holder} already holds {failed_site}'s lease "
                              f"(token {existing.token})")
    if holder in state.leases:
        return state, Refusal(f"{holder} is itself taken over by "
                              f"{state.leases[holder].holder}")
    if not alive(state, holder, now):
        return state, Refusal(f"the witness has no recent heartbeat from {holder}")
    if alive(state, failed_site, now):
        return state, Refusal(f"the witness still hears {failed_site}: only the link "
                              "between the sites is cut")
    lease = Lease(holder, failed_site, state.last_token + 1, now)
    return replace(state, leases={**state.leases, failed_site: lease},
                   last_token=lease.token), Grant(lease)


def release(state: WitnessState, failed_site: str, token: int) -> WitnessState:
    """Failback: the holder returns the lease; a stale token changes nothing."""
    lease = state.leases.get(failed_site)
    if lease is None or lease.token != token:
        return state
    leases = dict(state.leases)
    del leases[failed_site]
    return replace(state, leases=leases)
