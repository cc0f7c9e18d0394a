"""Open SLA intervals of a failed peer site, finished by the survivor.

A small standalone consumer (plain confluent-kafka, like the callbacks scheduler):
it follows the peer's call topic as MirrorMaker 2 mirrors it here
(``<peer>.cc.call.events``), keeps the peer's intervals in shadow with the SLA
stream's own pure functions (``ledger.logic``, ``service_levels``), and once the
operator publishes ``SiteAdoptionRequested`` naming this site as adopter it publishes
the peer's open intervals on this site's SLA topic (``adopted_from`` = the peer),
provisional at once and final when each closes, until the peer's traffic is handed
back.
"""
