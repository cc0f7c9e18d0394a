"""Hotline's local real infrastructure.

devstack installs (cached, per version), starts, health-checks and stops the servers
Hotline runs on, as processes on loopback: Apache Kafka (KRaft) for each site,
MirrorMaker 2 between them, Apache Cassandra (one node, or one per site datacenter),
kube-apiserver with etcd, plus helm, kubectl and the Debian tools (SIPp, Kamailio,
espeak-ng, sox). The README's run command, the pytest fixtures and the load tests
all go through :class:`devstack.stack.Stack`.
"""
