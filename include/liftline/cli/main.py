"""The `liftline` command (CONTRACT.md, "Commands").

Exit status 0 on success; on a user mistake or a setup problem, one line on standard error and
status 2. A command that reads or writes the warehouse says so with
`set_defaults(needs_warehouse=True)`: `main` then connects to it (`preflight.connect_warehouse`)
before the command starts, so an unreachable database is one line, not a traceback or a
half-done run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
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
    gen.add_argument("--scenario", default="standard", choices=["standard", "confounded"],
                     help="confounded: a hidden demand driver moves sales and the planners' "
                          "spend; lift tests from geo experiments (_truth/demand_driver.csv)")
    gen.add_argument("--lift-post-weeks", type=int, metavar="WEEKS",
                     help="weeks a reach channel's lift test (TV, OOH, online video) keeps "
                          "counting after its dark weeks (default 8; 0: the dark weeks only)")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(func=cmd_generate)

    run = sub.add_parser("run", help="run the pipeline's DAGs in order over what is in landing/")
    add_run_arguments(run)
    run.set_defaults(func=cmd_run, needs_warehouse=True)

    demo = sub.add_parser("demo", help="the whole flow on a small world in LIFTLINE_HOME")
    demo.add_argument("--scale", default="small", choices=["small", "medium", "large"])
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--history-days", type=positive_int,
                      help="days of history delivered at once (default: the scale's history)")
    demo.add_argument("--days", type=non_negative_int, default=0,
                      help="then deliver this many more days one at a time, running the DAGs "
                           "after each, one line per day (default: 0)")
    demo.add_argument("--no-faults", dest="faults", action="store_false",
                      help="deliver only good files (default: some bad ones, to show quarantine)")
    add_run_arguments(demo, as_of=False)
    demo.set_defaults(func=cmd_demo, needs_warehouse=True)

    evaluate = sub.add_parser("evaluate", help="compare model outputs with a ground truth folder")
    evaluate.add_argument("--truth", type=Path, required=True,
                          help="a world written by liftline generate, or its _truth/ folder")
    evaluate.add_argument("--table", action="store_true",
                          help="print the headline table instead of the JSON metrics")
    evaluate.set_defaults(func=cmd_evaluate, needs_warehouse=True)

    ui = sub.add_parser("airflow", help="start the Airflow UI with this project's DAGs and "
                                        "the report page (Ctrl-C stops it)")
    ui.add_argument("--port", type=int, default=8080, help="the UI's port (default: 8080)")
    ui.set_defaults(func=cmd_airflow)

    promo = sub.add_parser("promo", help="promotion lift: what-if predictions")
    promo_sub = promo.add_subparsers(dest="promo_command", required=True, metavar="ACTION")
    whatif = promo_sub.add_parser(
        "whatif", help="predicted lift, units and margin of a promotion of one SKU in one store")
    whatif.add_argument("--sku", required=True)
    whatif.add_argument("--store", required=True, help="store_id")
    whatif.add_argument("--discount", type=float, required=True, help="discount, percent")
    whatif.add_argument("--days", type=int, required=True, help="run length, days")
    whatif.add_argument("--start", type=iso_date,
                        help="first day (default: the first Monday after the last sales date)")
    whatif.add_argument("--type", dest="promo_type",
                        help="promotion type (default: the spec's recommend.promo_type)")
    whatif.add_argument("--json", action="store_true", help="print the answer as JSON")
    whatif.set_defaults(func=cmd_promo_whatif, needs_warehouse=True)

    report = sub.add_parser("report", help="write the HTML report of the latest outputs")
    report.add_argument("--out", type=Path, help="file to write (default: LIFTLINE_HOME/"
                        "reports/report-<as_of>.html and reports/latest.html)")
    report.add_argument("--as-of", type=iso_date,
                        help="report as of this date (default: the features' as-of)")
    report.set_defaults(func=cmd_report, needs_warehouse=True)

    from liftline.cli.models import add_models_parser

    add_models_parser(sub)
    from liftline.cli.plan import add_plan_parser

    add_plan_parser(sub)
    return parser


def non_negative_int(text: str) -> int:
    return _at_least_zero(text, int, "a whole number")


def _at_least_zero(text: str, kind: type, what: str) -> int | float:
    """`text` as a `kind` >= 0, else an argparse error "'x' is not <what> >= 0"."""
    try:
        value = kind(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what} >= 0")
    return value


def positive_int(text: str) -> int:
    value = non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return value


def non_negative(what: str):  # noqa: ANN201 - an argparse type
    """An argparse type: a number >= 0, else "'x' is not <what> >= 0"."""

    def parse(text: str) -> float:
        return _at_least_zero(text, float, what)

    return parse


seconds = non_negative("a number of seconds")


def model_families(text: str) -> tuple[str, ...]:
    from liftline.registry import FAMILY_SPECS

    chosen = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in chosen if name not in FAMILY_SPECS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown model famil{'ies' if len(unknown) > 1 else 'y'}"
                                         f" {', '.join(unknown)}: choose from "
                                         f"{', '.join(FAMILY_SPECS)}")
    return chosen


def add_run_arguments(parser: argparse.ArgumentParser, as_of: bool = True) -> None:
    from liftline.registry import FAMILY_SPECS

    if as_of:
        parser.add_argument("--as-of", type=iso_date,
                            help="as-of date for features and models (default: the last POS date)")
        parser.add_argument("--models", type=model_families, default=(),
                            help="comma-separated model families to train, score and monitor "
                                 f"({', '.join(FAMILY_SPECS)}; default: all)")
        parser.add_argument("--full-refresh", action="store_true",
                            help="rebuild every feature table whole")
    # 0, unlike the scheduled DAG's 60 s: `run` processes what is in landing/ now.
    parser.add_argument("--settle-seconds", type=seconds, default=0.0,
                        help="leave files modified less than this many seconds ago (default: 0)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also show the tasks' output (it is always in the run log)")


def cmd_generate(args: argparse.Namespace) -> int:
    from liftline.synth import generate

    summary = generate(args.out, scale=args.scale, seed=args.seed, start=args.start,
                       days=args.days, faults=args.faults, fmt=args.fmt,
                       progress=not args.quiet and sys.stderr.isatty(), scenario=args.scenario,
                       lift_post_weeks=args.lift_post_weeks)
    print(summary.text())
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from liftline.cli.run import RunError, run_pipeline

    try:
        run_pipeline(as_of=getattr(args, "as_of", None), settle_seconds=args.settle_seconds,
                     full_refresh=getattr(args, "full_refresh", False),
                     models=getattr(args, "models", ()), verbose=args.verbose)
    except RunError as exc:
        print(f"liftline {args.command}: {exc}", file=sys.stderr)
        return exc.status
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate the demo world, deliver its extracts to landing/ and run the pipeline on them.

    The world (with its ground truth in _truth/) stays in demo_world/; only the extracts are
    copied into landing/, as a delivery would arrive. With `--days N` the next N days of the same
    world follow one at a time, each delivered and run as a live system would (cli/live.py).
    The demo ends with the models measured against the ground truth of everything delivered
    (the JSON kept in evaluation.json), the report, and how to open the Airflow UI. `main` has
    checked the warehouse before the world is generated.
    """
    from liftline.cli.live import LiveError, live_days
    from liftline.evaluate import Truth, truth_folder
    from liftline.synth import generate

    home = settings.liftline_home()
    world = home / "demo_world"
    summary = generate(world, scale=args.scale, seed=args.seed, days=args.history_days,
                       faults=args.faults, progress=sys.stderr.isatty())
    print(summary.text())
    facts = Truth(truth_folder(world)).world()
    try:
        days = live_days(facts, args.days)
    except LiveError as exc:
        raise UserError(str(exc)) from None
    count = deliver_world(world, home / "landing")
    print(f"\ndelivered {count} files to {home / 'landing'}\n")
    status = cmd_run(args)
    if status:
        return status
    if days:
        status = run_live_days(args, days, home, world, facts)
        if status:
            return status
    print()
    evaluate_demo(world, home / "evaluation.json")
    plan_demo_quarter()
    cmd_report(argparse.Namespace(out=None, as_of=None))
    print("the Airflow UI with these runs and the report: make airflow (or liftline airflow)")
    return 0


def run_live_days(args: argparse.Namespace, days: list[date], home: Path, world: Path,
                  facts: dict) -> int:
    """The live days, one line each, then the world's truth extended over them."""
    from liftline.cli.live import extend_truth, replay_live_days
    from liftline.cli.run import RunError
    from liftline.warehouse import get_engine

    print(f"\nlive: {len(days)} more day(s), {days[0]} .. {days[-1]}, each delivered to landing/ "
          f"and run (run logs in {home / 'airflow' / 'logs'})", flush=True)
    start = time.perf_counter()
    try:
        replay_live_days(get_engine(), days, home=home, world=world, scale=args.scale,
                         seed=args.seed, out=sys.stdout)
    except RunError as exc:
        print(f"liftline {args.command}: {exc}", file=sys.stderr)
        return exc.status
    print(f"live: {len(days)} day(s) in {time.perf_counter() - start:.0f} s")
    extend_truth(world, facts, days[-1], args.scale, args.seed, home / "live_staging")
    return 0


def plan_demo_quarter() -> None:
    """The next quarter's plan against business as usual, so the report shows one (what
    `liftline plan` makes and stores)."""
    from liftline.cli.plan import CLI_RUN_ID
    from liftline.plan import plan_next_quarter
    from liftline.warehouse import get_engine

    try:
        found = plan_next_quarter(get_engine(), run_id=CLI_RUN_ID, log=lambda _m: None)
    except ValueError as exc:
        print(f"plan: not made ({exc})")
        return
    if found.get("status") == "skipped":
        print(f"plan: not made ({found['reason']})")
        return
    print(f"plan: the {found['weeks']} weeks from {found['start_date']}: margin "
          f"{found['incremental_margin']:+,.0f} against business as usual, "
          f"{found['promotions']} promotions (`liftline plan` for the plan and what-ifs)")


def evaluate_demo(world: Path, out: Path) -> None:
    """Print the headline table of the models against the world's truth; keep the JSON."""
    from liftline.evaluate import evaluate_models, headline_table
    from liftline.warehouse import get_engine

    result = evaluate_models(get_engine(), world)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"the models against the demo world's ground truth (all metrics: {out}):")
    print(headline_table(result))


def cmd_report(args: argparse.Namespace) -> int:
    from liftline.report import write_report
    from liftline.warehouse import get_engine

    print(f"report: {write_report(get_engine(), out=args.out, as_of=args.as_of)}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from liftline.evaluate import TruthError, evaluate_models, headline_table
    from liftline.warehouse import get_engine

    try:
        result = evaluate_models(get_engine(), args.truth)
    except TruthError as exc:
        raise UserError(str(exc)) from None
    print(headline_table(result) if args.table else json.dumps(result, indent=2))
    return 0


def cmd_airflow(args: argparse.Namespace) -> int:
    from liftline.cli.airflow_ui import serve_airflow
    from liftline.cli.run import RunError

    try:
        return serve_airflow(args.port)
    except RunError as exc:
        raise UserError(str(exc)) from None


def cmd_promo_whatif(args: argparse.Namespace) -> int:
    from liftline.promo import what_if
    from liftline.warehouse import get_engine

    try:
        answer = what_if(get_engine(), args.sku, args.store, args.discount, args.days,
                         start=args.start, promo_type=args.promo_type)
    except (ValueError, FileNotFoundError) as exc:
        raise UserError(str(exc)) from None
    print(json.dumps(answer, indent=2) if args.json else what_if_text(answer))
    return 0


def what_if_text(a: dict) -> str:
    """The what-if answer in a few lines a planner can read."""
    def number(value: float | None, fmt: str) -> str:
        return "unknown" if value is None else format(value, fmt)

    margin = ("unknown (no unit cost or price in clean_products)"
              if a["incremental_margin"] is None else f"{a['incremental_margin']:+,.0f}")
    lines = [
        f"{a['sku']} ({a['category']}) in {a['store_id']}: {a['discount_pct']:g}% "
        f"{a['promo_type']} for {a['duration_days']} days, {a['start']} .. {a['end']}",
        f"predicted lift {number(a['lift_pct'], '+.1f')}% "
        f"({a['interval_level']:.0%} interval {number(a['lift_lower'], '+.1f')} .. "
        f"{number(a['lift_upper'], '+.1f')}), P(any lift) {number(a['p_any_lift'], '.2f')}",
        f"units: baseline {a['baseline_units']:,.0f}, promoted {a['promoted_units']:,.0f}, "
        f"incremental {a['incremental_units']:+,.0f}",
        f"incremental revenue {number(a['incremental_revenue'], '+,.0f')}, "
        f"incremental margin {margin}",
        f"(model {a['model_kind']} {a['model_version']}, data as of {a['as_of']})",
    ]
    if a["extrapolated"]:
        seen = a["trained_discounts"]
        lines.append(f"note: outside the {a['promo_type']} discounts trained on "
                     f"({seen[0]:g}-{seen[1]:g}%): this lift is extrapolated" if seen else
                     f"note: no {a['promo_type']} promotion was trained on: this lift is "
                     "extrapolated")
    return "\n".join(lines)


def deliver_world(world: Path, landing: Path) -> int:
    """Copy a generated world's extracts (not its _truth/) into landing/<source>/."""
    count = 0
    for source_dir in sorted(p for p in world.iterdir() if p.is_dir()):
        if source_dir.name.startswith("_"):
            continue
        target = landing / source_dir.name
        target.mkdir(parents=True, exist_ok=True)
        for file in sorted(p for p in source_dir.iterdir() if p.is_file()):
            shutil.copy2(file, target / file.name)
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    from liftline.cli.preflight import SetupError, connect_warehouse
    from liftline.synth import GenerateError

    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "needs_warehouse", False):
            connect_warehouse()
        return args.func(args)
    except (UserError, SetupError, GenerateError) as exc:
        print(f"liftline {command_name(args)}: {exc}", file=sys.stderr)
        return 2


def command_name(args: argparse.Namespace) -> str:
    """The command as typed, e.g. "promo whatif", for the one-line error's prefix."""
    action = getattr(args, f"{args.command}_command", None)
    return f"{args.command} {action}" if action else args.command


if __name__ == "__main__":
    sys.exit(main())
