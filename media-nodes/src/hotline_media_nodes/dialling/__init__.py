"""The outbound dialling primitive for callbacks: on a ``DialCallback`` for this site,
dial the customer, report dialling / connected / failed, and once they answer put
the call in its queue with its original enqueue time, so routing reserves an agent
and the bridging that follows is the inbound one (``bridging``).

``logic`` decides (pure); the worker's controller dials with pjsua2 and reads the
commands with a consumer group shared by the site's workers (one dial per command).
"""
