"""Queues: ContactCenterQueue objects rendered into the streams' per-tenant configuration."""
