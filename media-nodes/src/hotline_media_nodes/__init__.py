"""Hotline's stateless pjsua2 SIP media nodes: IVR, queueing, bridging, recording."""
