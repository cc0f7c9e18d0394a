"""Ask the witness by hand, signed as a site (for the runbook's forced failover/failback):

    python -m hotline_operators.witness.client --url URL --site site-a --key-file KEY \\
        takeover site-b | release site-b TOKEN | leases

Prints the witness's answer (JSON) and exits 0 only if it granted or released.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import requests

from hotline_operators.failover.adapters import WitnessClient
from hotline_operators.failover.models import WitnessAnswer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the witness, http(s)://host:port")
    parser.add_argument("--site", required=True, help="the site you act for")
    parser.add_argument("--key-file", type=Path, required=True,
                        help="that site's witness key (its entry of witness.keysSecret)")
    commands = parser.add_subparsers(dest="command", required=True)
    takeover = commands.add_parser("takeover", help="ask for the lease on a failed site")
    takeover.add_argument("failed_site")
    release = commands.add_parser("release", help="give a lease back (failback)")
    release.add_argument("failed_site")
    release.add_argument("token", type=int)
    commands.add_parser("leases", help="which site holds which lease, with its token")
    args = parser.parse_args(argv)
    try:
        key = args.key_file.read_bytes().strip()
    except OSError as exc:
        parser.error(f"--key-file: {exc}")
    client = WitnessClient(args.url, args.site, key)
    if args.command == "leases":
        answer = requests.get(client.url + "/leases", timeout=client.timeout)
        print(json.dumps(answer.json(), indent=2))
        return 0 if answer.ok else 1
    if args.command == "takeover":
        verdict, token, reason = client.request_takeover(args.site, args.failed_site)
        print(json.dumps({"answer": verdict.value, "token": token, "reason": reason}))
        return 0 if verdict is WitnessAnswer.GRANTED else 1
    released = client.release(args.failed_site, args.token)
    print(json.dumps({"released": released}))
    return 0 if released else 1


if __name__ == "__main__":
    sys.exit(main())
