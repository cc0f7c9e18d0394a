"""One pjsua2 SIP endpoint per process: answers allow-listed calls and runs the IVR.

Run it with ``python -m hotline_media_nodes.worker --help``. ``logic`` holds the pure
decisions (admission, URIs, event bodies), ``pjsip`` the thin pjsua2 adapters whose
callbacks only queue what happened, ``calls`` the per-call controller and
``__main__`` the wiring and the single-threaded event loop.
"""
