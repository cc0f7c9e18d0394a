"""Self-service lookups over HTTP (e.g. an order's status by a keyed-in id).

``logic`` builds the request and reads the answer (pure), ``adapters`` does the HTTP
call off the worker's main thread. The IVR state machine drives them (``ivr.machine``).
"""
