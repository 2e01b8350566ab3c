"""Full rebuild of every feature table: time per table and peak memory, per database.

Not a test: prints numbers. The goal (medium world, 2 cores): a full rebuild under 3 minutes
and 2 GB of peak RSS, on SQLite and on PostgreSQL.

One world is generated (or reused with --world DIR, a `liftline generate` output) and ingested
once per database with the real ingest (setup, not timed; its time is printed). Each measured
rebuild (`build_features(full_refresh=True)`) then runs in its own process, so ru_maxrss is its
own peak; the median over --repeat runs is reported, per table and in total.

    python benchmarks/bench_features.py --scale medium --repeat 3
    python benchmarks/bench_features.py --scale small --repeat 1 --databases sqlite

PostgreSQL defaults to postgresql+psycopg://postgres@127.0.0.1:5432/test (or
LIFTLINE_BENCH_POSTGRES_URL); its bench schema `bench_<uuid>` is dropped afterwards, and it is
skipped with a message when the server does not answer.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

CHILD = r"""
import json, resource, sys, time
from liftline.features import build_features
from liftline.warehouse import get_engine
engine = get_engine(sys.argv[1])
timings = {}
started = time.perf_counter()
for outcome in build_features(engine, run_id="bench", full_refresh=True, log=lambda _: None):
    timings[outcome.table] = {"mode": outcome.mode, "rows": outcome.rows,
                              "detail": outcome.detail}
total = time.perf_counter() - started
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"total": total, "peak_mb": peak_mb, "tables": timings}))
"""


def ingest_world(world: Path, url: str) -> float:
    """Deliver and ingest the world into `url` (the real ingest); returns seconds."""
    from liftline.contract import SOURCES
    from liftline.ingest import DIMENSION_SOURCES, ingest_source
    from liftline.warehouse import create_schema, dispose_engines, get_engine

    home = Path(tempfile.mkdtemp(prefix="bench_features_home_"))
    try:
        for source in SOURCES:
            if (world / source).is_dir():
                shutil.copytree(world / source, home / "landing" / source)
        engine = get_engine(url)
        create_schema(engine)
        started = time.perf_counter()
        order = list(DIMENSION_SOURCES) + [s for s in SOURCES if s not in DIMENSION_SOURCES]
        for source in order:
            ingest_source(source, home=home, engine=engine, settle_seconds=0,
                          log=lambda _: None, run_id="bench_ingest")
        elapsed = time.perf_counter() - started
        dispose_engines()
        return elapsed
    finally:
        shutil.rmtree(home, ignore_errors=True)


def rebuild(url: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, url], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"rebuild failed on {url.split('@')[-1]}: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def postgres_url(base: str, schema: str) -> str | None:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    from liftline.warehouse import normalize_url

    url = normalize_url(base)
    try:
        with create_engine(url).begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except OperationalError as exc:
        print(f"PostgreSQL skipped: {str(exc).splitlines()[0]}")
        return None
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False)


def drop_schema(base: str, schema: str) -> None:
    from sqlalchemy import create_engine

    from liftline.warehouse import normalize_url

    with create_engine(normalize_url(base)).begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def report(database: str, ingest_s: float, runs: list[dict]) -> None:
    total = statistics.median(r["total"] for r in runs)
    peak = statistics.median(r["peak_mb"] for r in runs)
    print(f"\n{database}: ingest (setup) {ingest_s:.0f} s; full rebuild median of {len(runs)}: "
          f"{total:.1f} s, peak RSS {peak:.0f} MB "
          f"(runs: {', '.join(format(r['total'], '.1f') for r in runs)} s)")
    for name, first in runs[0]["tables"].items():
        seconds = [_seconds(r["tables"][name]["detail"]) for r in runs]
        print(f"  {name:28s} {first['rows']:>12,} rows  {statistics.median(seconds):7.1f} s")


def _seconds(detail: str) -> float:
    # build_table ends each outcome's detail with "<seconds> s".
    return float(detail.rsplit(";", 1)[-1].strip().split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--world", type=Path, help="reuse a generated world")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warehouse", action="append", default=[], metavar="NAME=URL",
                        help="measure on an already ingested warehouse instead (repeatable)")
    parser.add_argument("--postgres-url",
                        default=os.environ.get("LIFTLINE_BENCH_POSTGRES_URL", DEFAULT_PG))
    args = parser.parse_args()

    if args.warehouse:
        for spec in args.warehouse:
            name, _, url = spec.partition("=")
            report(name, float("nan"), [rebuild(url) for _ in range(args.repeat)])
        return
    work = Path(tempfile.mkdtemp(prefix="bench_features_"))
    try:
        world = args.world
        if world is None:
            from liftline.synth import generate

            world = work / "world"
            generate(world, scale=args.scale, seed=args.seed, progress=False)
        print(f"world: {world} ({args.scale if args.world is None else 'reused'})")
        for database in args.databases.split(","):
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            if database == "sqlite":
                url = f"sqlite:///{work / 'warehouse.db'}"
            else:
                url = postgres_url(args.postgres_url, schema)
                if url is None:
                    continue
            try:
                ingest_s = ingest_world(world, url)
                runs = [rebuild(url) for _ in range(args.repeat)]
                report(database, ingest_s, runs)
            finally:
                if database != "sqlite":
                    drop_schema(args.postgres_url, schema)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
