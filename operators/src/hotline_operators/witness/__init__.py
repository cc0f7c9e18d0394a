"""The witness: a third-location tie-breaker that grants one failover lease at a time."""
