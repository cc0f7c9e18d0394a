"""The operator's own HA: one active replica, holding a short coordination.k8s.io Lease."""
