"""One pjsua2 SIP endpoint per process: answers allow-listed calls, runs the IVR, and
carries the call path (queue, bridge, survey, recording, callbacks).

Run it with ``python -m hotline_media_nodes.worker --help``. ``logic`` holds the pure
decisions (admission, URIs, event bodies, trace context), ``pjsip`` the thin pjsua2
adapters whose callbacks only queue what happened, ``calls`` the per-call controller
that carries out the decisions of ``ivr.machine``, ``bridging``, ``waiting``,
``dialling``, ``lookups`` and ``recording``, and ``__main__`` the wiring and the
single-threaded event loop.
"""
