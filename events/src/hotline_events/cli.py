"""``hotline-events``: generate schemas and docs, check compatibility, release, create topics."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from hotline_events import compat, paths, schemas
from hotline_events.errors import CatalogError


def _schemas(args: argparse.Namespace) -> int:
    if args.check:
        problems = schemas.stale(args.dir)
        for line in problems:
            print(f"stale schema {line}")
        if problems:
            print("run `uv run hotline-events schemas generate` and commit the result")
        return 1 if problems else 0
    changed = schemas.write(args.dir)
    print(f"{len(changed)} schema file(s) written in {args.dir}: {', '.join(changed) or 'none'}")
    return 0


def _docs(args: argparse.Namespace) -> int:
    from hotline_events.catalog import load
    from hotline_events.docs import render

    text = render(load())
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run `uv run hotline-events docs generate`")
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


def _compat(args: argparse.Namespace) -> int:
    release = compat.latest_release(args.released)
    if release is None:
        print(f"no release in {args.released}: nothing to be compatible with")
        return 0
    problems = compat.compare(schemas.load_dir(release), schemas.load_dir(args.schemas))
    for problem in problems:
        print(f"BREAKING {problem}")
    if problems:
        print(f"{len(problems)} breaking change(s) against release {release.name}: keep the "
              "released type and add a new major version (…v2) instead")
        return 1
    print(f"compatible with release {release.name}")
    return 0


def _release(args: argparse.Namespace) -> int:
    stale = schemas.stale(args.schemas)
    if stale:
        print("schemas are stale, run `hotline-events schemas generate` first: " + "; ".join(stale))
        return 1
    if _compat(args) != 0:
        return 1
    target = compat.release(args.schemas, args.released, args.version)
    print(f"released {args.version}: {target}")
    return 0


def _topics_create(args: argparse.Namespace) -> int:
    from hotline_events.topics import ensure_topics

    plan = ensure_topics(args.bootstrap, replication_factor=args.replication_factor,
                         timeout=args.timeout, dry_run=args.dry_run)
    for line in plan.lines(done=not args.dry_run):
        print(line)
    return 1 if plan.mismatches else 0


def _catalog_check(_args: argparse.Namespace) -> int:
    from hotline_events.catalog import load

    catalog = load()
    print(f"catalog ok: {len(catalog.topics)} topics (+ dead-letter topics), "
          f"{sum(len(t.types) for t in catalog.topics)} event types")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hotline-events", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("schemas", help="JSON Schemas from the models")
    s.add_argument("action", choices=["generate"])
    s.add_argument("--check", action="store_true", help="fail if the files are stale")
    s.add_argument("--dir", type=Path, default=paths.SCHEMAS_DIR)
    s.set_defaults(func=_schemas)

    d = sub.add_parser("docs", help="docs/topics.md from the catalog and schemas")
    d.add_argument("action", choices=["generate"])
    d.add_argument("--check", action="store_true", help="fail if the file is stale")
    d.add_argument("--out", type=Path, default=paths.TOPICS_DOC)
    d.set_defaults(func=_docs)

    for name, func, text in (("compat", _compat, "fail on breaking changes vs the last release"),
                             ("release", _release, "snapshot the schemas as a release")):
        c = sub.add_parser(name, help=text)
        if name == "release":
            c.add_argument("version", help="MAJOR.MINOR.PATCH")
        c.add_argument("--schemas", type=Path, default=paths.SCHEMAS_DIR)
        c.add_argument("--released", type=Path, default=paths.RELEASED_DIR)
        c.set_defaults(func=func)

    t = sub.add_parser("topics", help="Kafka topics from the catalog")
    t.add_argument("action", choices=["create"])
    t.add_argument("--bootstrap", required=True, help="host:port of the site's Kafka")
    t.add_argument("--replication-factor", type=int, default=-1,
                   help="default: the broker's default.replication.factor")
    t.add_argument("--timeout", type=float, default=30.0)
    t.add_argument("--dry-run", action="store_true", help="only print what would change")
    t.set_defaults(func=_topics_create)

    k = sub.add_parser("catalog", help="validate events/catalog.yaml")
    k.add_argument("action", choices=["check"])
    k.set_defaults(func=_catalog_check)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CatalogError as exc:
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
