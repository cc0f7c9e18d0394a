"""``python -m hotline_operators.uninstall``: the chart's pre-delete hook.

Deletes the namespace's ContactCenterSites and ContactCenterQueues while the operator
still runs (it removes its finalizer once a site's handlers are done), waits for them
to go, and on timeout (operator gone or stuck) removes the operator's finalizer
itself, so `helm uninstall` never hangs on them. The garbage collector removes what a
site owns; the tenants ConfigMap, which belongs to the namespace, is deleted last.
"""
