"""Estimated wait and position of each waiting contact ("you are number 3, about 2 minutes")."""
