"""``python -m hotline_streams worker -l info``: the Faust worker with the app."""

from hotline_streams.app import app


def main() -> None:
    app.main()


if __name__ == "__main__":
    main()
