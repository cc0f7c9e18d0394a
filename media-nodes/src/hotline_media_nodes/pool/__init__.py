"""A media node: a supervised pool of pjsua2 worker processes behind the SIP edge.

Run it with ``python -m hotline_media_nodes.pool --help``. The pool starts N workers
(each dies with the pool: PR_SET_PDEATHSIG), restarts a dead one with backoff,
publishes a ``CallCompleted`` (``disposition=media-node-lost``) for every call the
dead worker held, and keeps the Kamailio dispatcher set equal to the workers that
are ready (not starting, draining or dead). Workers tell the pool about their calls
over stdout, one line per event (``logic.call_line``/``logic.parse_line``).
"""
