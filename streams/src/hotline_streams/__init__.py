"""Hotline's Faust stream processors: agent state, skills routing, callbacks, service levels."""
