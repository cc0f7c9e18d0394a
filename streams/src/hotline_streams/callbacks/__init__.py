"""Callbacks that are never lost and never dialled twice (Cassandra + lightweight
transactions); see ``logic`` for the rules, ``store`` for the claims."""
