"""Per-tenant queue and skill configuration, loaded from a YAML file per tenant."""
