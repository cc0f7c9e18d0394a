"""Hotline's event contract: event types, JSON Schemas, the topic catalog and (de)serialisation."""
