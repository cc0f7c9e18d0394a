"""The one agent of the tenant topic: routing, then service levels, per record."""
