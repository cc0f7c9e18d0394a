"""The edge follower: keeps Kamailio's dispatcher list equal to the operator's ConfigMap.

Runs next to Kamailio (a sidecar in the edge pod): watches the ConfigMap the operator
writes on failover and failback, writes ``dispatcher.list`` atomically and asks
Kamailio (JSON-RPC over its datagram socket) to reload it. A mounted ConfigMap alone
would reach the file only after the kubelet's sync (up to a minute) and Kamailio
would never reread it.
"""
