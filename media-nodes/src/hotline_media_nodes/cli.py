"""``hotline-media-nodes``: install prompts, validate flows, run a worker."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hotline_media_nodes.edge.chart import write_chart_file
from hotline_media_nodes.ivr.loader import FlowError, load_flow
from hotline_media_nodes.ivr.validate import FlowRejected, validate_flow
from hotline_media_nodes.prompts import MissingPrompts, durations, install_prompts, load_prompts
from hotline_media_nodes.recording.adapters import open_sealed
from hotline_media_nodes.recording.logic import (
    RecordingKeyMissing,
    RecordingUnreadable,
    recording_key,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hotline-media-nodes")
    sub = parser.add_subparsers(dest="command", required=True)
    install = sub.add_parser("prompts", help="prompt audio")
    install.add_argument("action", choices=["install"])
    install.add_argument("flows", nargs="+", type=Path)
    install.add_argument("--cache", type=Path, default=None)
    check = sub.add_parser("validate", help="check flows (3 levels, 30 s) on cached prompts")
    check.add_argument("flows", nargs="+", type=Path)
    check.add_argument("--cache", type=Path, default=None)
    rec = sub.add_parser("recording", help="sealed call recordings")
    rec.add_argument("action", choices=["decrypt"])
    rec.add_argument("sealed", type=Path, help="a .wav.aesgcm file")
    rec.add_argument("--out", type=Path, required=True, help="where to write the WAV")
    sub.add_parser("edge-chart-config",
                   help="write the Helm chart's kamailio.cfg from the edge renderer")
    args = parser.parse_args(argv)
    if args.command == "recording":
        return decrypt(args.sealed, args.out)
    if args.command == "edge-chart-config":
        print(f"wrote {write_chart_file()}")
        return 0
    status = 0
    for path in args.flows:
        try:
            flow = load_flow(path)
            prompts = (install_prompts(flow, args.cache) if args.command == "prompts"
                       else load_prompts(flow, args.cache))
            validate_flow(flow, durations(prompts))
            total = sum(p.seconds for p in prompts.values())
            print(f"{path}: {flow.tenant} ok, {len(prompts)} prompts ({total:.1f} s of audio)")
        except (FlowError, FlowRejected, MissingPrompts) as err:
            print(f"{path}: {err}", file=sys.stderr)
            status = 1
    return status


def decrypt(sealed: Path, out: Path) -> int:
    """Open a sealed recording with the key from the environment (as the worker reads it)."""
    try:
        recording_id = open_sealed(sealed, recording_key(), out)
    except (RecordingKeyMissing, RecordingUnreadable, OSError) as err:
        print(f"{sealed}: not decrypted: {err}", file=sys.stderr)
        return 1
    print(f"{sealed}: recording {recording_id} written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
