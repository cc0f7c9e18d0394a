"""Simulated agent desktops: log in, go ready, wrap up after each call.

``python -m hotline_loadtests.agents --help``. The agents' phones are SIP user agents
(SIPp as UAS in ``./hotline run``); this module only plays the desktop's part on
``cc.agent.events``, as the agent API would.
"""
