"""``python -m hotline_media_nodes.pool``: a supervised pool of workers (see ``wiring``)."""

from hotline_media_nodes.pool.wiring import main

if __name__ == "__main__":
    raise SystemExit(main())
