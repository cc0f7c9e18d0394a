"""A site's workloads: media nodes and stream workers, owned by its ContactCenterSite."""
