"""`python -m hotline_operators.witness --port 8443 [--peer-timeout 5]`."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from hotline_operators.witness.service import make_app


def main() -> None:
    parser = argparse.ArgumentParser(description="Hotline's failover witness")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--peer-timeout", type=float, default=5.0,
                        help="seconds without a heartbeat before a site counts as lost")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    web.run_app(make_app(args.peer_timeout), host=args.host, port=args.port,
                print=lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()
