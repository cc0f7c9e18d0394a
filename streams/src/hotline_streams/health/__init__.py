"""Health: the worker's readiness page."""
