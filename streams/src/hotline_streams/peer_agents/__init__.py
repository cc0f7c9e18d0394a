"""The peer site's agents, as its mirrored agent and call events tell: restored here when
their desktop reconnects, and logged out here once they logged in at the peer later."""
