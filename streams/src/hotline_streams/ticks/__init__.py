"""Ticks: the passing of time for routing and service levels when no event arrives
(ring-no-answer timeouts, overflow after a wait, intervals closing on time)."""
