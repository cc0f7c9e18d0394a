"""Accuracy of the wait estimator (``hotline_streams.estimates``) against actual waits.

    uv run python benchmarks/streams_estimates.py [--seed 7] [--hours 4] [--agents 20]
                                                  [--utilisation 0.9 0.95]

A generated run: a seeded discrete-event simulation of one queue (Poisson arrivals,
log-normal handle times around AHT 180 s, first come first served to the longest idle
agent). When each caller joins, the estimator is asked what the streams would
announce: position and estimated wait from the agents' expected free times and the
recent AHT (as ``queue_stats.logic`` calls it). Each estimate is compared with the
caller's actual wait; Asterisk's announcement (an exponential average of past holds,
ignoring position) is scored on the same callers as the bar to beat. Prints mean
absolute error, p90 absolute error and mean bias, in seconds, per utilisation.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import statistics

from hotline_streams.estimates.logic import estimate, ewma, expected_free_at
from hotline_streams.estimates.models import Server, Waiting

SKILL = frozenset({"cards"})


def simulate(seed: int, hours: float, agents: int, utilisation: float,
             aht: float = 180.0) -> tuple[list[float], list[float], list[float]]:
    """(actual waits, streams estimates, Asterisk-style estimates) per answered caller."""
    rng = random.Random(seed)
    rate = utilisation * agents / aht  # arrivals per second
    sigma = 0.6
    mu = math.log(aht) - sigma**2 / 2  # log-normal with mean ``aht``
    end = hours * 3600
    events: list[tuple[float, int, str, int]] = []  # (time, seq, kind, id)
    seq = 0
    t = 0.0
    while t < end:
        t += rng.expovariate(rate)
        seq += 1
        heapq.heappush(events, (t, seq, "arrive", seq))
    busy_since: dict[int, float | None] = {a: None for a in range(agents)}
    idle_since: dict[int, float] = {a: 0.0 for a in range(agents)}
    queue: list[tuple[int, float]] = []  # (caller, arrived)
    predicted: dict[int, tuple[float, float]] = {}
    actual: dict[int, float] = {}
    aht_avg: float | None = None
    hold_avg: float | None = None

    def start(agent: int, caller: int, arrived: float, now: float) -> None:
        nonlocal seq, hold_avg
        busy_since[agent] = now
        actual[caller] = now - arrived
        hold_avg = ewma(hold_avg, now - arrived)
        seq += 1
        heapq.heappush(events, (now + rng.lognormvariate(mu, sigma), seq, "done", agent))

    while events:
        now, _, kind, ident = heapq.heappop(events)
        if kind == "arrive":
            known_aht = aht_avg or aht
            servers = [Server(f"a{a}", SKILL, expected_free_at(busy_since[a], known_aht, now))
                       for a in range(agents)]
            line = [Waiting(f"c{c}", "cards", SKILL, at) for c, at in queue]
            line.append(Waiting(f"c{ident}", "cards", SKILL, now))
            mine = estimate(line, servers, {"cards": known_aht}, now)[-1]
            predicted[ident] = (mine.wait_s, hold_avg or 0.0)
            free = [a for a in range(agents) if busy_since[a] is None]
            if free and not queue:
                start(min(free, key=lambda a: idle_since[a]), ident, now, now)
            else:
                queue.append((ident, now))
        else:  # an agent finished a call
            aht_avg = ewma(aht_avg, now - (busy_since[ident] or now), weight=0.05)
            busy_since[ident] = None
            idle_since[ident] = now
            if queue:
                caller, arrived = queue.pop(0)
                start(ident, caller, arrived, now)
    callers = sorted(actual)
    return ([actual[c] for c in callers], [predicted[c][0] for c in callers],
            [predicted[c][1] for c in callers])


def score(actual: list[float], predicted: list[float]) -> tuple[float, float, float]:
    errors = [abs(p - a) for a, p in zip(actual, predicted, strict=True)]
    p90 = statistics.quantiles(errors, n=10)[-1]
    bias = statistics.fmean(p - a for a, p in zip(actual, predicted, strict=True))
    return statistics.fmean(errors), p90, bias


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hours", type=float, default=4.0)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--utilisation", type=float, nargs="+", default=[0.85, 0.9, 0.95])
    args = parser.parse_args()
    print(f"seed {args.seed}, {args.hours:g} h, {args.agents} agents, AHT 180 s (log-normal)")
    print(f"{'util':>5} {'callers':>8} {'mean wait':>10} | {'streams MAE':>11} {'p90':>7} "
          f"{'bias':>7} | {'asterisk MAE':>12} {'p90':>7} {'bias':>7}")
    for util in args.utilisation:
        actual, ours, asterisk = simulate(args.seed, args.hours, args.agents, util)
        mae, p90, bias = score(actual, ours)
        a_mae, a_p90, a_bias = score(actual, asterisk)
        print(f"{util:>5.2f} {len(actual):>8} {statistics.fmean(actual):>9.1f}s | "
              f"{mae:>10.1f}s {p90:>6.1f}s {bias:>+6.1f}s | {a_mae:>11.1f}s {a_p90:>6.1f}s "
              f"{a_bias:>+6.1f}s")


if __name__ == "__main__":
    main()
