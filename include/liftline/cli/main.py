"""The `liftline` command (CONTRACT.md, "Commands").

Exit status 0 on success; on a user mistake, one line on standard error and status 2.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from liftline import settings


class UserError(Exception):
    """A mistake the user can fix; printed as one line, no stack trace."""


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liftline",
        description="Marketing analytics pipeline: promotions, forecasts, mix models.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = sub.add_parser("generate", help="write a synthetic world as extracts plus its truth")
    gen.add_argument("--out", type=Path, required=True, help="folder for <source>/ and _truth/")
    gen.add_argument("--scale", default="small", choices=["small", "medium", "large"])
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--start", type=iso_date, help="first day of the slice (default: world start)")
    gen.add_argument("--days", type=int, help="days in the slice (default: the scale's history)")
    gen.add_argument("--faults", action="store_true", help="add bad deliveries (_truth/faults.json)")
    gen.add_argument("--format", dest="fmt", default="csv", choices=["csv", "csv.gz", "parquet"])
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(func=cmd_generate)

    demo = sub.add_parser("demo", help="the whole flow on a small world in LIFTLINE_HOME")
    demo.add_argument("--scale", default="small", choices=["small", "medium", "large"])
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(func=cmd_demo)
    return parser


def cmd_generate(args: argparse.Namespace) -> int:
    from liftline.synth import generate

    summary = generate(args.out, scale=args.scale, seed=args.seed, start=args.start,
                       days=args.days, faults=args.faults, fmt=args.fmt,
                       progress=not args.quiet and sys.stderr.isatty())
    print(summary.text())
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate the demo world and prepare the warehouse.

    Ingest, features, models and the report join this flow as they are built; until then the
    demo stops after the world and the warehouse schema, and says so.
    """
    from liftline.synth import generate
    from liftline.warehouse import create_schema, get_engine

    home = settings.liftline_home()
    world = home / "demo_world"
    summary = generate(world, scale=args.scale, seed=args.seed,
                       progress=sys.stderr.isatty())
    print(summary.text())
    try:
        engine = get_engine()
    except ValueError as exc:  # a malformed LIFTLINE_WAREHOUSE_URL
        raise UserError(str(exc)) from None
    version = create_schema(engine)
    print(f"\nwarehouse ready: {engine.url.render_as_string(hide_password=True)} "
          f"(schema version {version})")
    print("not yet built: ingest, features, models, monitoring and the report")
    return 0


def main(argv: list[str] | None = None) -> int:
    from liftline.synth import GenerateError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UserError, GenerateError) as exc:
        print(f"liftline {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
