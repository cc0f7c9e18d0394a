"""The run report: Locust's statistics beside the service levels the platform published."""
