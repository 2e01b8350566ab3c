"""The quarter plan against the synthetic world's truth: joint, separate, business as usual, oracle.

Not a test: prints numbers. A small (or medium) world is generated and run through the pipeline
once (or an existing LIFTLINE_HOME of a run on that world is reused with --home), then for the
13 weeks after the last sales day:

- business as usual: last year's spend pattern and promotion cadence, the planned calendar;
- separate: the media optimised ignoring promotions and the promotions chosen ignoring media
  (what the mix-model optimiser and the promotion recommender give, each on its own);
- media only / promotions only: one lever optimised, the other as usual;
- joint: both together on the fitted models (what `liftline plan` writes);
- oracle: the same optimiser on the world's true response (synth.TrueResponses);
- oracle_separate: the separate modes on the true response (so oracle - oracle_separate is the
  most that planning media and promotions together can add in this world).

Every plan is judged by `synth.simulate_plan`, which re-runs the world's own demand code with the
plan's spend and promotions: true margin = gross margin - media spend - promotion cost (a line of
business as usual's promotions its share of that promotion's cost; a new line, a promotion of
its own: the type's fixed cost and one store's charge). The goal: joint beats business as usual and separate,
and reaches at least 85% of the oracle's incremental margin over business as usual.

    python benchmarks/bench_plan.py --scale small
    python benchmarks/bench_plan.py --home /path/to/LIFTLINE_HOME --scale small --seed 42
        (works on a copy of that home's warehouse and registry)
    python benchmarks/bench_plan.py --scale medium --timing-only --repeat 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from liftline.cli.main import deliver_world
from liftline.plan import Plan, PlanRequest
from liftline.plan.bau import business_as_usual
from liftline.plan.fitted import FittedResponses, promotion_candidates
from liftline.plan.optimize import evaluate_plan, optimise_plan
from liftline.plan.pipeline import plan_quarter, plan_start
from liftline.synth import TrueResponses, generate, simulate_plan
from liftline.warehouse import get_engine

MODES = ("separate", "media_only", "promotions_only", "joint")
GOAL_SHARE_OF_ORACLE = 0.85


def prepared_home(args: argparse.Namespace) -> Path:
    """A LIFTLINE_HOME holding a pipeline run on the world of (scale, seed)."""
    if args.home:
        source = Path(args.home).resolve()
        if not (source / "warehouse.db").exists():
            sys.exit(f"bench_plan: {source} holds no warehouse.db: run the pipeline there first")
        return copied_home(source)
    home = Path(tempfile.mkdtemp(prefix=f"liftline-plan-{args.scale}-"))
    print(f"generating the {args.scale} world (seed {args.seed}) and running the pipeline in "
          f"{home} ...", flush=True)
    world = home / "world"
    generate(world, scale=args.scale, seed=args.seed, progress=False,
             lift_post_weeks=args.lift_post_weeks)
    deliver_world(world, home / "landing")
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "liftline"), "run"], check=True,
                   env={**os.environ, "LIFTLINE_HOME": str(home)}, stdout=subprocess.DEVNULL)
    print(f"pipeline: {time.perf_counter() - started:.0f} s", flush=True)
    return home


def copied_home(source: Path) -> Path:
    """A copy of the home's warehouse and registry: the plans are written there, not into
    `source` (a demo home others read)."""
    home = Path(tempfile.mkdtemp(prefix="liftline-plan-copy-"))
    with sqlite3.connect(source / "warehouse.db") as live, \
            sqlite3.connect(home / "warehouse.db") as copy:
        live.backup(copy)  # consistent even with a write-ahead log beside it
    if (source / "registry").exists():
        shutil.copytree(source / "registry", home / "registry")
    print(f"working on a copy of {source} in {home}", flush=True)
    return home


def true_margin(plan: Plan, request: PlanRequest, truth: TrueResponses, scale: str, seed: int
                ) -> tuple[float, float]:
    """(margin, revenue) of the plan in the world: simulated sales, less spend and cost."""
    sold = simulate_plan(plan, request, scale, seed)
    cost = float(truth.promotion_increments(plan.promotions)["cost"].sum()) \
        if len(plan.promotions) else 0.0
    margin = float(sold["gross_margin"].sum()) - float(plan.media["spend"].sum()) - cost
    return margin, float(sold["revenue"].sum())


def timed_plan(engine, request: PlanRequest, repeat: int, challengers: bool  # noqa: ANN001
               ) -> list[float]:
    seconds = []
    for i in range(repeat):
        started = time.perf_counter()
        plan_quarter(engine, request, run_id=f"bench_plan_{i}", log=lambda _m: None,
                     challengers=challengers)
        seconds.append(time.perf_counter() - started)
    return seconds


def channel_changes(plans: dict) -> pd.DataFrame:
    """Each plan's quarter spend per channel (countries summed) as % change from business as
    usual: where a plan moves the money, beside where the oracle does."""
    totals = pd.DataFrame({name: plan.media.groupby("channel")["spend"].sum()
                           for name, plan in plans.items()})
    usual = totals.pop("business_as_usual")
    return ((totals.div(usual, axis=0) - 1.0) * 100).round(1).assign(
        business_as_usual=usual.round(0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small", choices=["small", "medium", "large"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--home", help="an existing LIFTLINE_HOME with a run on that world")
    parser.add_argument("--weeks", type=int, default=13)
    parser.add_argument("--lift-post-weeks", type=int,
                        help="without --home: the world's lift-test post-period (liftline "
                             "generate --lift-post-weeks; default the generator's)")
    parser.add_argument("--repeat", type=int, default=1, help="timings of `liftline plan`")
    parser.add_argument("--champions-only", action="store_true",
                        help="plan with champions only, as `liftline plan` does (default: a model "
                             "without a champion answers with its latest challenger, so a mix "
                             "model that is not yet champion still plans media here)")
    parser.add_argument("--timing-only", action="store_true",
                        help="only time plan_quarter (no truth comparison)")
    args = parser.parse_args(argv)

    home = prepared_home(args)
    os.environ["LIFTLINE_HOME"] = str(home)
    engine = get_engine(f"sqlite:///{home / 'warehouse.db'}")
    request = PlanRequest(start=plan_start(engine), weeks=args.weeks)
    print(f"plan: {args.weeks} weeks from {request.start} ({args.scale} world, seed {args.seed})")

    seconds = timed_plan(engine, request, args.repeat, challengers=not args.champions_only)
    models = "champions only" if args.champions_only else "challengers where no champion"
    print(f"plan_quarter ({models}; load models, optimise, write): median {statistics.median(seconds):.1f} s "
          f"of {len(seconds)} ({', '.join(f'{s:.1f}' for s in seconds)})")
    if args.timing_only:
        return 0

    started = time.perf_counter()
    fitted = FittedResponses.from_warehouse(engine, request, log=lambda _m: None,
                                            challengers=not args.champions_only)
    candidates = promotion_candidates(engine, request, log=lambda _m: None)
    bau = business_as_usual(engine, request, log=lambda _m: None)
    print(f"fitted responses, {len(candidates)} candidates, business as usual: "
          f"{time.perf_counter() - started:.1f} s; missing models: {fitted.missing or 'none'}")
    plans = {"business_as_usual": bau}
    for mode in MODES:
        started = time.perf_counter()
        plans[mode] = optimise_plan(fitted, request, bau, candidates, mode)
        print(f"  {mode}: optimised in {time.perf_counter() - started:.1f} s", flush=True)
    # Business as usual's lines carry their share of their promotion's cost (the extract's);
    # a new line is a promotion of its own under the truth as under the fitted cost model.
    truth = TrueResponses(args.scale, args.seed, known_costs=bau.promotions)
    started = time.perf_counter()
    plans["oracle"] = optimise_plan(truth, request, bau, candidates, "joint")
    print(f"  oracle (same optimiser, true response): {time.perf_counter() - started:.1f} s")
    # What planning the two together can add at most: the separate modes on the truth.
    plans["oracle_separate"] = optimise_plan(truth, request, bau, candidates, "separate")

    rows = []
    for name, plan in plans.items():
        margin, revenue = true_margin(plan, request, truth, args.scale, args.seed)
        predicted = evaluate_plan(fitted, request, plan)
        rows.append({"plan": name, "media_spend": float(plan.media["spend"].sum()),
                     "promotions": len(plan.promotions), "true_revenue": revenue,
                     "true_margin": margin, "predicted_margin": predicted.margin})
    table = pd.DataFrame(rows).set_index("plan")
    usual = table.loc["business_as_usual"]
    table["true_incremental_margin"] = table["true_margin"] - usual["true_margin"]
    table["predicted_incremental_margin"] = table["predicted_margin"] - usual["predicted_margin"]
    table["true_incremental_revenue"] = table["true_revenue"] - usual["true_revenue"]
    print(table.round(0).to_string())

    print("\nmedia spend per channel, change against business as usual:")
    print(channel_changes(plans).to_string())

    joint, oracle = table.loc["joint"], table.loc["oracle"]
    share = (joint["true_incremental_margin"] / oracle["true_incremental_margin"]
             if oracle["true_incremental_margin"] > 0 else float("nan"))
    print(f"joint vs business as usual: {joint['true_incremental_margin']:+,.0f} true margin "
          f"({'beats' if joint['true_incremental_margin'] > 0 else 'does not beat'} it)")
    gap = joint["true_margin"] - table.loc["separate", "true_margin"]
    print(f"joint vs separate: {gap:+,.0f} true margin "
          f"({'beats' if gap > 0 else 'does not beat'} the two tools run each on its own)")
    most = oracle["true_margin"] - table.loc["oracle_separate", "true_margin"]
    print(f"  (on the true response, joint beats separate by {most:+,.0f}: the most planning "
          "the two together can add here)")
    print(f"joint reaches {share:.1%} of the oracle's incremental margin "
          f"({'meets' if share >= GOAL_SHARE_OF_ORACLE else 'misses'} the goal "
          f"{GOAL_SHARE_OF_ORACLE:.0%}); gap {1 - share:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
