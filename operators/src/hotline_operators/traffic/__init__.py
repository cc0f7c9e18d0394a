"""The traffic split: which sites' media nodes a site's Kamailio edge sends calls to."""
