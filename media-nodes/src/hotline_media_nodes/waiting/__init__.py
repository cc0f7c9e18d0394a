"""While a caller waits in a queue: position / estimated-wait announcements from the
streams' estimates, and the callback offer when the wait is too long.

``models`` is the plain state, ``logic`` decides what to say and publish (pure); the
worker's controller plays it and reads the estimates (``bridging.adapters``).
"""
