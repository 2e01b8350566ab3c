"""The daily cycle and the weekly training on one world: time per stage and peak memory.

Not a test: prints numbers. The goals (medium world, 2 cores, SQLite): the daily cycle (one new
day's delivery: ingest, incremental features, scoring, monitoring) under 3 minutes; the weekly
training of every model under 20 minutes.

Set-up (timed and printed, not part of the goals): the world's history but its last day is
generated and ingested, every feature table built, and every model trained once (so scoring has
champions) and scored and monitored once (the day before). The last day is generated as its own delivery (`liftline generate --start --days 1`,
the same world). Each measured run then starts from a copy of that warehouse and registry, in
its own process (so ru_maxrss is its own peak); medians over --repeat runs are reported.

    python benchmarks/bench_cycle.py --scale medium --repeat 3 --work /tmp/bench_cycle
    python benchmarks/bench_cycle.py --scale small --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from bench_features import ingest_world

# One process per measured run: the stages as the DAG tasks call them, in the DAGs' order.
TRAIN = r"""
import json, resource, sys, time
from liftline.forecast import train_forecasts, training_regions
from liftline.mmm import fit_and_write_mmm, fit_keys, load_spec
from liftline.promo import train_promo_lift
from liftline.warehouse import get_engine
engine, quiet, timings = get_engine(sys.argv[1]), (lambda _: None), {}
def timed(name, call):
    started = time.perf_counter(); call(); timings[name] = time.perf_counter() - started
for region in training_regions(engine):
    timed(f"forecast[{region or 'all'}]",
          lambda: train_forecasts(engine, "bench_train", region=region or None, log=quiet))
for key in fit_keys(engine, load_spec()):
    timed(f"mmm[{key['country']}/{key['segment']}]",
          lambda: fit_and_write_mmm(engine, "bench_train", log=quiet, **key))
timed("promo_lift", lambda: train_promo_lift(engine, "bench_train", log=quiet))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"total": sum(timings.values()), "peak_mb": peak, "stages": timings}))
"""

CYCLE = r"""
import json, resource, sys, time
from pathlib import Path
from liftline.contract import SOURCES
from liftline.features import FEATURE_SPECS, build_table
from liftline.forecast import score_forecasts
from liftline.ingest import DIMENSION_SOURCES, ingest_source
from liftline.monitor.lift import monitor_lift
from liftline.promo import score_promotions
from liftline.warehouse import get_engine
import liftline.monitor as monitor
engine, home, quiet, timings = get_engine(sys.argv[1]), Path(sys.argv[2]), (lambda _: None), {}
def timed(name, call):
    started = time.perf_counter(); call(); timings[name] = time.perf_counter() - started
order = list(DIMENSION_SOURCES) + [s for s in SOURCES if s not in DIMENSION_SOURCES]
timed("ingest", lambda: [ingest_source(s, home=home, engine=engine, settle_seconds=0,
                                       log=quiet, run_id="bench_day") for s in order])
for spec in FEATURE_SPECS:
    timed(f"features:{spec.table}",
          lambda: build_table(engine, spec.table, "bench_day", log=quiet))
timed("score_forecasts", lambda: score_forecasts(engine, "bench_day", log=quiet))
timed("score_promotions", lambda: score_promotions(engine, "bench_day", log=quiet))
timed("monitor_lift", lambda: monitor_lift(engine, "bench_day", log=quiet))
if hasattr(monitor, "check_model_health"):
    timed("model_health", lambda: monitor.check_model_health(engine, "bench_day", log=quiet))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"total": sum(timings.values()), "peak_mb": peak, "stages": timings}))
"""


def generate(out: Path, scale: str, seed: int, start=None, days: int | None = None) -> None:  # noqa: ANN001
    if out.exists():
        return
    command = [sys.executable, "-m", "liftline.cli.main", "generate", "--out", str(out),
               "--scale", scale, "--seed", str(seed), "--quiet"]
    if start is not None:
        command += ["--start", str(start)]
    if days is not None:
        command += ["--days", str(days)]
    subprocess.run(command, check=True, capture_output=True)


def measured(child: str, *args: str, registry: Path) -> dict:
    env = {**os.environ, "LIFTLINE_REGISTRY_URL": str(registry)}
    done = subprocess.run([sys.executable, "-c", child, *args], capture_output=True, text=True,
                          check=False, env=env)
    if done.returncode != 0:
        raise SystemExit(f"measured run failed: {done.stderr.strip()[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def copy_state(work: Path, source: str, target: str) -> tuple[Path, Path]:
    db, registry = work / f"{target}.db", work / f"{target}_registry"
    for leftover in (f"{target}.db-wal", f"{target}.db-shm"):  # an interrupted run's journal
        (work / leftover).unlink(missing_ok=True)
    shutil.copyfile(work / f"{source}.db", db)
    shutil.rmtree(registry, ignore_errors=True)
    if (work / f"{source}_registry").exists():
        shutil.copytree(work / f"{source}_registry", registry)
    else:
        registry.mkdir()
    return db, registry


def report(title: str, runs: list[dict], goal_s: float) -> None:
    total = statistics.median(r["total"] for r in runs)
    peak = statistics.median(r["peak_mb"] for r in runs)
    each = ", ".join(f"{r['total']:.1f}" for r in runs)
    print(f"\n{title}: median {total:.1f} s over {len(runs)} run(s) ({each}); "
          f"goal < {goal_s:.0f} s: "
          f"{'met' if total < goal_s else 'MISSED'}; peak RSS {peak:,.0f} MB")
    stages = runs[0]["stages"]
    for name in sorted(stages, key=lambda n: -statistics.median(r["stages"][n] for r in runs)):
        seconds = statistics.median(r["stages"][name] for r in runs)
        print(f"  {name:40s} {seconds:8.1f} s  {seconds / total:6.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_cycle"),
                        help="kept between runs: the world and the prepared warehouse")
    parser.add_argument("--skip-training", action="store_true",
                        help="measure the daily cycle only (the set-up still trains once)")
    args = parser.parse_args()
    from liftline.synth.config import EPOCH, SCALES

    work = args.work / args.scale
    work.mkdir(parents=True, exist_ok=True)
    history = SCALES[args.scale].history_days
    last_day = EPOCH + timedelta(days=history - 1)
    started = time.perf_counter()
    generate(work / "world", args.scale, args.seed, days=history - 1)
    generate(work / "day", args.scale, args.seed, start=last_day, days=1)
    print(f"world: {args.scale}, seed {args.seed}, history to {last_day - timedelta(days=1)}; "
          f"the delivery of {last_day} is measured ({time.perf_counter() - started:.0f} s to "
          "generate)")
    if not (work / "trained.db").exists():
        prepare(work)
    if not args.skip_training:
        runs = []
        for i in range(args.repeat):
            db, registry = copy_state(work, "featured", f"train_{i}")
            runs.append(measured(TRAIN, f"sqlite:///{db}", registry=registry))
        report("weekly training of every model", runs, 20 * 60)
    runs = []
    for i in range(args.repeat):
        db, registry = copy_state(work, "trained", f"cycle_{i}")
        home = work / f"cycle_{i}_home"
        shutil.rmtree(home, ignore_errors=True)
        shutil.copytree(work / "day", home / "landing", ignore=shutil.ignore_patterns("_truth"))
        runs.append(measured(CYCLE, f"sqlite:///{db}", str(home), registry=registry))
    report("daily cycle (one day's delivery)", runs, 3 * 60)


def prepare(work: Path) -> None:
    """Ingest the history, build every feature table and train every model once."""
    from liftline.features import build_features
    from liftline.warehouse import create_schema, dispose_engines, get_engine

    db = work / "featured.db"
    db.unlink(missing_ok=True)
    url = f"sqlite:///{db}"
    create_schema(get_engine(url))
    print(f"set-up: ingest {ingest_world(work / 'world', url):.0f} s", flush=True)
    started = time.perf_counter()
    build_features(get_engine(url), run_id="bench_setup", full_refresh=True, log=lambda _: None)
    dispose_engines()
    print(f"set-up: features {time.perf_counter() - started:.0f} s", flush=True)
    trained, registry = copy_state(work, "featured", "trained")
    result = measured(TRAIN, f"sqlite:///{trained}", registry=registry)
    print(f"set-up: training {result['total']:.0f} s", flush=True)
    # Yesterday's cycle (nothing delivered): scoring and the monitor have run before today's.
    (work / "empty_home" / "landing").mkdir(parents=True, exist_ok=True)
    result = measured(CYCLE, f"sqlite:///{trained}", str(work / "empty_home"),
                      registry=registry)
    print(f"set-up: the previous day's scoring and monitoring {result['total']:.0f} s",
          flush=True)


if __name__ == "__main__":
    main()
