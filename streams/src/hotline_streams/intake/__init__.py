"""Intake: decode and validate the input topics, dead-letter bad records, re-key by tenant."""
