"""Skills routing: which waiting contact goes to which ready agent."""
