"""Callbacks that are never lost and never dialled twice: ``logic`` has the scheduling
rules, ``ownership`` who may dial which callback (each site its own, takeovers fenced by
the witness's token), ``store`` the compare-and-set claims, ``scheduler`` and ``runner``
the process."""
