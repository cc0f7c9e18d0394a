"""``python -m hotline_streams worker -l info``: the Faust worker with every capability."""

from hotline_streams.wiring import app


def main() -> None:
    app.main()


if __name__ == "__main__":
    main()
