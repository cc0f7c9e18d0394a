"""``python -m hotline_streams worker -l info``: the Faust worker with every capability."""

import sys

from hotline_streams.app import prepare_topics
from hotline_streams.wiring import app


def main() -> None:
    if "worker" in sys.argv[1:]:
        prepare_topics()
    app.main()


if __name__ == "__main__":
    main()
