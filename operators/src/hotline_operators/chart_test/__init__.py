"""``python -m hotline_operators.chart_test``: what `helm test` runs in the cluster.

Three checks, one line each: the edge answers a SIP OPTIONS, the ContactCenterSite
is Ready (its pods are), and every Hotline Deployment of the namespace is fully ready.
"""
