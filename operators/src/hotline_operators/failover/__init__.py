"""Failover: when a site takes over its peer's traffic, and when it hands it back."""
