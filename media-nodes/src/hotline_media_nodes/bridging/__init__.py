"""Bridging a queued caller to the agent routing picked: ring, RONA, talk, hang-ups.

``models`` is the plain state of one caller's way to an agent, ``logic`` the decision
table (which events and SIP actions follow each SIP transition), ``adapters`` reads
routing decisions from Kafka. The worker's controller carries out the effects.
"""
