"""SIP callers: real calls through the edge, placed by SIPp, one SIPp process per call.

Why one process per call: the local stack carries tens of concurrent calls at most
(two callers per pjsua2 worker), a SIPp process costs ~3 MB and a few ms of CPU to
start, and a call of its own lets each caller hang up at its own moment (patience or
talk time, decided from the call's events) with nothing more than a SIP request to
its own SIPp. A shared SIPp (-inf CSV, -r) would place calls on SIPp's clock, not the
load shape's, and could not end one chosen call.
"""
