"""`python -m hotline_operators.witness --etcd http://HOST:2379[,…] --keys-dir DIR
[--prefix /hotline/witness] [--peer-timeout 5] [--port 8443]`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from aiohttp import web

from hotline_operators.witness.logic import DEFAULT_PREFIX, MIN_PEER_TIMEOUT_S, Keys
from hotline_operators.witness.service import make_app
from hotline_operators.witness.signing import load_keys
from hotline_operators.witness.store import parse_endpoints


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Hotline's failover witness: leases and fencing tokens kept in etcd "
                    "at the third location")
    parser.add_argument("--etcd", required=True, metavar="URL[,URL…]",
                        help="etcd client endpoints, http://host:port, comma-separated")
    parser.add_argument("--prefix", default=DEFAULT_PREFIX,
                        help="where the witness's keys live in etcd (default %(default)s)")
    parser.add_argument("--peer-timeout", type=int, default=5,
                        help="whole seconds without a heartbeat before a site counts as "
                             f"lost (the etcd lease TTL; at least {MIN_PEER_TIMEOUT_S})")
    parser.add_argument("--etcd-timeout", type=float, default=1.0,
                        help="seconds to wait for one etcd request before trying the "
                             "next endpoint or answering 503")
    parser.add_argument("--keys-dir", type=Path, metavar="DIR",
                        help="one file per site, named by the site, holding the key that "
                             "signs its requests (a mounted Secret)")
    parser.add_argument("--insecure-unsigned", action="store_true",
                        help="accept unsigned requests: anyone who reaches the port can "
                             "take a site over (never in production)")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8443)
    args = parser.parse_args()
    try:
        endpoints = parse_endpoints(args.etcd)
        Keys(args.prefix)
        if args.peer_timeout < MIN_PEER_TIMEOUT_S:
            raise ValueError(f"--peer-timeout must be at least {MIN_PEER_TIMEOUT_S} s")
        if args.keys_dir is None and not args.insecure_unsigned:
            raise ValueError("--keys-dir is required (each site's request-signing key); "
                             "--insecure-unsigned accepts anyone's requests instead")
        keys = load_keys(args.keys_dir) if args.keys_dir is not None else None
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    web.run_app(make_app(endpoints, peer_timeout_s=args.peer_timeout, prefix=args.prefix,
                         site_keys=keys, etcd_timeout_s=args.etcd_timeout),
                host=args.host, port=args.port, print=lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()
