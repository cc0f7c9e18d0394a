"""Hotline's Locust load tests: SIP callers, agents and an event firehose."""
