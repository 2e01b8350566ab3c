"""Ingest throughput and peak memory per database, beside a raw bulk load of the same rows.

Not a test: prints numbers. The goal (medium world): ingest within 3x of the raw bulk load on the
same database, measured in the same run, and ingest peak RSS under 2 GB.

One world is generated per invocation (or reused with --world DIR: a `liftline generate` output
directory holding <source>/*.csv; its _truth/ is ignored). For every measured run the world is
copied into a fresh LIFTLINE_HOME/landing (not timed) and a fresh database is used: a new SQLite
file, or a new PostgreSQL schema `bench_<uuid>` (selected through search_path, dropped after).
Each measured run is its own process, so its peak RSS (ru_maxrss) is its own; the median over
--repeat runs is reported. Per database and repeat:

- baseline: every extract is read with pandas (dates parsed to datetime, numbers to float; its
  read time is printed separately and not part of the load time) and written with
  `warehouse.bulk_insert` into the source's clean table, one transaction per file, with the
  lineage columns ingest also writes (_file_sha256 is a hash of the file name, not of its
  bytes). macro is melted to the long date,country,indicator,value rows its clean table holds.
  No raw layer, no validation, no upsert: the same rows written once.
- ingest: `pending_sources` then `ingest_source` per source (settle_seconds=0, log silenced),
  i.e. raw layer + validation + clean upsert + bookkeeping, timed as a whole and per source.

rows/s of both divide the rows delivered in the extracts (macro counted as delivered, wide).

    python benchmarks/bench_ingest.py --scale small --repeat 1
    python benchmarks/bench_ingest.py --scale medium --databases sqlite,postgres
    python benchmarks/bench_ingest.py --world /path/to/generated --databases postgres \\
        --postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/test

PostgreSQL defaults to postgresql+psycopg://postgres@127.0.0.1:5432/test (or
LIFTLINE_BENCH_POSTGRES_URL) and is skipped with a message when it does not answer. Temporary
worlds, homes and SQLite files go under $TMPDIR (medium needs a few GB of free disk).
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
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GOAL_RATIO = 3.0
GOAL_RSS_MB = 2048.0
DATABASES = ("sqlite", "postgres")

GENERATE = """
import sys
from liftline.synth import generate
generate(sys.argv[1], scale=sys.argv[2], seed=int(sys.argv[3]), progress=False)
"""

# Shared by both children: argv = mode, landing dir, warehouse URL.
CHILD_COMMON = """
import json, resource, sys, time
from pathlib import Path
from liftline.warehouse import create_schema, get_engine
mode, home, url = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
engine = get_engine(url)
create_schema(engine)  # not timed: both modes start from an empty, migrated warehouse
def report(result):
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))
"""

BASELINE = CHILD_COMMON + """
import datetime as dt, hashlib
import pandas as pd
from liftline.contract import DATE, FLOAT, INT, SOURCES, TIMESTAMP
from liftline.warehouse import bulk_insert, clean_table

def read(path, src):
    header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
    by_lower = {name.lower(): name for name in header}
    extra = [n for n in header if n.lower() not in src.columns]
    known = {by_lower[c]: c for c in src.columns if c in by_lower}
    numeric = {c for c, t in src.columns.items() if t in (FLOAT, INT)}
    if src.open_numeric_columns:
        known.update({n: n for n in extra})
        numeric |= set(extra)
    dtypes = {name: ("float64" if col in numeric else str) for name, col in known.items()}
    frame = pd.read_csv(path, usecols=list(known), dtype=dtypes, encoding="utf-8-sig")
    frame = frame.rename(columns=known)
    for col, logical in src.columns.items():
        if logical in (DATE, TIMESTAMP) and col in frame.columns:
            frame[col] = pd.to_datetime(frame[col], format="ISO8601")
    delivered = len(frame)
    frame.index = pd.RangeIndex(1, delivered + 1)
    if src.open_numeric_columns:  # macro: stored long, empty cells dropped (as ingest does)
        frame = frame.melt(id_vars=["date", "country"], var_name="indicator",
                           value_name="value", ignore_index=False)
        frame = frame[frame["value"].notna()]
    frame["_file_sha256"] = hashlib.sha256(path.name.encode()).hexdigest()
    frame["_row_number"] = frame.index.to_numpy()
    frame["_loaded_at"] = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return frame.reset_index(drop=True), delivered

result = {"read_seconds": 0.0, "seconds": 0.0, "rows": 0, "rows_written": 0, "files": 0,
          "sources": {}}
for name, src in SOURCES.items():
    files = sorted((home / "landing" / name).glob("*.csv"))
    spent = 0.0
    for path in files:
        t = time.perf_counter()
        frame, delivered = read(path, src)
        t_read = time.perf_counter()
        written = bulk_insert(engine, clean_table(name), frame)
        t_load = time.perf_counter()
        result["read_seconds"] += t_read - t
        spent += t_load - t_read
        result["rows"] += delivered
        result["rows_written"] += written
        result["files"] += 1
        del frame
    if files:
        result["sources"][name] = spent
result["seconds"] = sum(result["sources"].values())
report(result)
"""

INGEST = CHILD_COMMON + """
from collections import Counter
from liftline.ingest import ingest_source, pending_sources

quiet = lambda message: None
result = {"rows": 0, "rows_loaded": 0, "rows_rejected": 0, "files": 0, "sources": {},
          "source_rows": {}, "statuses": Counter()}
t0 = time.perf_counter()
for name in pending_sources(home, settle_seconds=0):
    t = time.perf_counter()
    outcome = ingest_source(name, home=home, engine=engine, settle_seconds=0, log=quiet)
    result["sources"][name] = time.perf_counter() - t
    result["source_rows"][name] = sum(f.rows_in for f in outcome.files)
    for f in outcome.files:
        result["rows"] += f.rows_in
        result["rows_loaded"] += f.rows_loaded
        result["rows_rejected"] += f.rows_rejected
        result["files"] += 1
        result["statuses"][f.status] += 1
result["seconds"] = time.perf_counter() - t0
report(result)
"""


# --- the world and fresh homes ---------------------------------------------------------------


def source_names() -> list[str]:
    from liftline.contract import SOURCES

    return list(SOURCES)


def make_world(scale: str, seed: int, into: Path) -> Path:
    print(f"generating the {scale} world (seed {seed}) into {into} ...", flush=True)
    subprocess.run([sys.executable, "-c", GENERATE, str(into), scale, str(seed)], check=True)
    return into


def world_rows(world: Path) -> dict[str, tuple[int, int]]:
    """source -> (files, data rows) of the extracts in `world`."""
    counts = {}
    for name in source_names():
        files = sorted((world / name).glob("*.csv"))
        if files:
            rows = 0
            for path in files:
                with path.open("rb") as handle:
                    rows += sum(1 for _ in handle) - 1
            counts[name] = (len(files), rows)
    return counts


@contextmanager
def fresh_home(world: Path) -> Iterator[Path]:
    """A new LIFTLINE_HOME whose landing/ holds a copy of the world's extracts."""
    with tempfile.TemporaryDirectory(prefix="liftline-bench-") as tmp:
        home = Path(tmp) / "home"
        for name in source_names():
            if (world / name).is_dir():
                shutil.copytree(world / name, home / "landing" / name)
        yield home


# --- databases ------------------------------------------------------------------------------


def postgres_admin(url: str):
    """An engine on the PostgreSQL server, or None (with the reason printed) if it does not answer."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from liftline.warehouse import normalize_url

    try:
        base = normalize_url(url)
        admin = create_engine(base, poolclass=NullPool, connect_args={"connect_timeout": 5})
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return admin
    except Exception as exc:  # any failure means: skip PostgreSQL
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"PostgreSQL skipped: {url} does not answer ({reason})")
        return None


@contextmanager
def fresh_database(database: str, home: Path, admin) -> Iterator[str]:
    """The URL of an empty warehouse: a new SQLite file, or a new PostgreSQL schema."""
    if database == "sqlite":
        yield f"sqlite:///{home / 'warehouse.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    quoted = admin.dialect.identifier_preparer.quote_identifier(schema)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {quoted}")
    try:
        url = admin.url.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {quoted} CASCADE")


def run_child(code: str, mode: str, home: Path, url: str) -> dict:
    env = {**os.environ, "LIFTLINE_HOME": str(home), "LIFTLINE_WAREHOUSE_URL": url}
    proc = subprocess.run([sys.executable, "-c", code, mode, str(home), url],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        raise SystemExit(f"{mode} run failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(database: str, world: Path, admin) -> tuple[dict, dict]:
    """One baseline and one ingest run, each in a fresh home, database and process."""
    results = []
    for mode, code in (("baseline", BASELINE), ("ingest", INGEST)):
        with fresh_home(world) as home, fresh_database(database, home, admin) as url:
            result = run_child(code, mode, home, url)
        print(f"  {database} {mode}: {result['seconds']:.1f} s"
              + (f" (+ {result['read_seconds']:.1f} s reading)" if mode == "baseline" else "")
              + f", {result['rows']:,} rows, peak RSS {result['peak_rss_mb']:.0f} MB", flush=True)
        results.append(result)
    return results[0], results[1]


# --- report ---------------------------------------------------------------------------------


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def per_second(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f}" if seconds > 0 else "-"


def summarize(database: str, baselines: list[dict], ingests: list[dict]) -> dict:
    rows = ingests[0]["rows"]
    if baselines[0]["rows"] != rows:
        print(f"WARNING {database}: baseline wrote {baselines[0]['rows']:,} delivered rows, "
              f"ingest read {rows:,}")
    last = ingests[-1]
    if last["rows_rejected"] or set(last["statuses"]) - {"loaded"}:
        print(f"NOTE {database}: ingest outcomes {dict(last['statuses'])}, "
              f"{last['rows_rejected']:,} rows rejected, {last['rows_loaded']:,} loaded")
    base_s, read_s, ingest_s = (median(baselines, "seconds"), median(baselines, "read_seconds"),
                                median(ingests, "seconds"))
    names = list(last["sources"])
    return {
        "database": database, "rows": rows, "runs": len(ingests),
        "baseline_s": base_s, "read_s": read_s, "ingest_s": ingest_s,
        "ratio": ingest_s / base_s if base_s else float("inf"),
        "ratio_with_read": ingest_s / (base_s + read_s) if base_s + read_s else float("inf"),
        "baseline_rss": median(baselines, "peak_rss_mb"), "rss": median(ingests, "peak_rss_mb"),
        "sources": {
            name: (last["source_rows"][name],
                   statistics.median(b["sources"].get(name, 0.0) for b in baselines),
                   statistics.median(i["sources"][name] for i in ingests))
            for name in names
        },
    }


def print_report(scale: str, counts: dict[str, tuple[int, int]], rows: list[dict]) -> None:
    print()
    print(f"Ingest per source ({scale}; median seconds; baseline = bulk_insert only):")
    header = f"  {'database':<9} {'source':<11} {'files':>5} {'rows':>11} {'baseline s':>10} "
    print(header + f"{'ingest s':>9} {'ingest rows/s':>13} {'ratio':>7}")
    for row in rows:
        for name, (n, base, ingest) in row["sources"].items():
            files = counts.get(name, (0, 0))[0]
            ratio = f"{ingest / base:.1f}x" if base else "-"
            print(f"  {row['database']:<9} {name:<11} {files:>5} {n:>11,} {base:>10.2f} "
                  f"{ingest:>9.2f} {per_second(n, ingest):>13} {ratio:>7}")
    print()
    print(f"Ingest vs raw bulk load ({scale}; medians; goals: ratio <= {GOAL_RATIO:g}x, "
          f"ingest peak RSS < {GOAL_RSS_MB / 1024:g} GB):")
    print(f"  {'database':<9} {'rows':>11} {'baseline s':>10} {'base rows/s':>11} "
          f"{'ingest s':>9} {'ingest rows/s':>13} {'ratio':>7} {'peak RSS MB':>11}  goals")
    for row in rows:
        ratio_ok, rss_ok = row["ratio"] <= GOAL_RATIO, row["rss"] < GOAL_RSS_MB
        goals = (f"3x {'met' if ratio_ok else 'MISSED'}, "
                 f"2 GB {'met' if rss_ok else 'MISSED'}")
        print(f"  {row['database']:<9} {row['rows']:>11,} {row['baseline_s']:>10.1f} "
              f"{per_second(row['rows'], row['baseline_s']):>11} {row['ingest_s']:>9.1f} "
              f"{per_second(row['rows'], row['ingest_s']):>13} {row['ratio']:>6.1f}x "
              f"{row['rss']:>11.0f}  {goals}")
    print()
    for row in rows:
        print(f"  {row['database']}: baseline pandas read {row['read_s']:.1f} s (not in "
              f"baseline s); ingest = {row['ratio_with_read']:.1f}x read+load; "
              f"baseline peak RSS {row['baseline_rss']:.0f} MB; {row['runs']} run(s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--databases", default=",".join(DATABASES),
                        help="comma-separated: sqlite,postgres")
    parser.add_argument("--world", type=Path,
                        help="reuse this generated world instead of generating one (--scale "
                             "and --seed are then ignored)")
    parser.add_argument("--postgres-url",
                        default=os.environ.get("LIFTLINE_BENCH_POSTGRES_URL", "").strip()
                        or DEFAULT_POSTGRES_URL)
    args = parser.parse_args()
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    unknown = [d for d in databases if d not in DATABASES]
    if unknown or not databases:
        parser.error(f"--databases: expected some of {','.join(DATABASES)}, got {args.databases}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    admin = postgres_admin(args.postgres_url) if "postgres" in databases else None
    if "postgres" in databases and admin is None:
        databases.remove("postgres")
    if not databases:
        raise SystemExit("no database to measure")

    with tempfile.TemporaryDirectory(prefix="liftline-bench-world-") as tmp:
        if args.world:
            world, label = args.world.resolve(), f"world {args.world}"
        else:
            world, label = make_world(args.scale, args.seed, Path(tmp) / "world"), args.scale
        counts = world_rows(world)
        if not counts:
            raise SystemExit(f"{world} holds no extracts (<source>/*.csv)")
        total = sum(n for _, n in counts.values())
        print(f"{label}: {total:,} rows in {sum(f for f, _ in counts.values())} files "
              f"(pos {counts.get('pos', (0, 0))[1]:,}, "
              f"inventory {counts.get('inventory', (0, 0))[1]:,})", flush=True)
        rows = []
        for database in databases:
            baselines, ingests = [], []
            for i in range(args.repeat):
                print(f"{database} run {i + 1}/{args.repeat}:", flush=True)
                baseline, ingest = measure(database, world, admin)
                baselines.append(baseline)
                ingests.append(ingest)
            rows.append(summarize(database, baselines, ingests))
    if admin is not None:
        admin.dispose()
    print_report(label, counts, rows)


if __name__ == "__main__":
    main()
