"""Hotline's kopf operator: ContactCenterSite resources and split-brain-safe failover."""
