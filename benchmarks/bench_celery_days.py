"""Daily deliveries through the Celery stack on loopback: latency per day, and no row lost.

Not a test: prints numbers. The goal (medium world, 2 cores): from a day's files landing to the
last DAG of the chain finishing, and to that day's alerts being in the outbox (ops_alerts), a
median under 5 minutes per day.

The stack is the distributed test's (tests/airflow_procs.py): API server, scheduler, DAG
processor and two Celery workers, Redis broker, PostgreSQL for Airflow's metadata and for the
warehouse (fresh databases, dropped afterwards). Set-up (timed and printed, not part of the
goal): --history-days of the world delivered into landing/, the DAGs unpaused, and the whole
chain run on it by their schedules (models trained, champions scored). Then each of --days days is generated as its own delivery the way
`liftline demo --days` does (liftline.cli.live: the same world, one day at a time), with the
generator's faults injected into it unless --no-faults, copied into landing/, and ingest is
triggered (in production its 30-minute clock starts it; triggering at once measures the
pipeline, not the clock). The rest follows on Assets. A day is over when no run is queued or
running and none has started for --settle seconds.

No row lost, per day: every data row of every delivered file is counted by ingest (rows_in),
each is loaded or rejected (rows_in = rows_loaded + rows_rejected), clean files lose nothing, and
the rows rejected are exactly those the generator's faults.json says its faults spoil.

    python benchmarks/bench_celery_days.py --scale medium --history-days 60 --days 30
    python benchmarks/bench_celery_days.py --scale small --history-days 28 --days 3

Needs PostgreSQL (LIFTLINE_TEST_POSTGRES_URL, default postgresql+psycopg://postgres@127.0.0.1:
5432/test) and Redis (LIFTLINE_TEST_REDIS_URL, default redis://127.0.0.1:6379/13).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "include"), str(REPO / "tests")]
os.environ.setdefault("LIFTLINE_TEST_POSTGRES_URL",
                      "postgresql+psycopg://postgres@127.0.0.1:5432/test")

import airflow_procs as procs  # noqa: E402 - after the path above

from liftline.cli.live import live_days  # noqa: E402
from liftline.cli.main import deliver_world  # noqa: E402

GOAL_S = 300


@dataclass
class Day:
    day: date
    files: int
    to_last_dag_s: float
    to_alerts_s: float | None  # None: the day raised no alert
    alerts: int
    rows: dict  # what reconcile() found


def main() -> int:
    args = parse_args()
    broker = procs.redis_url()
    if why := procs.redis_answers(broker):
        print(f"bench_celery_days: {why}", file=sys.stderr)
        return 2
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    world = work / "history"
    started = time.perf_counter()
    generate_into(world, args.scale, args.seed, None, args.history_days, args.faults)
    facts = json.loads((world / "_truth" / "world.json").read_text())
    days = live_days(facts, args.days)
    print(f"set-up: {args.scale} world, {args.history_days} days of history generated in "
          f"{time.perf_counter() - started:.0f} s; live days {days[0]} .. {days[-1]}")

    root = work / f"stack_{uuid.uuid4().hex[:6]}"
    root.mkdir()
    queue = f"liftline_bench_{uuid.uuid4().hex[:10]}"
    with procs.postgres_database("liftline_bench_meta") as metadata, \
            procs.postgres_database("liftline_bench_wh") as warehouse:
        stack = procs.new_stack(root, metadata, warehouse_url=warehouse,
                                extra_env=procs.celery_environment(metadata, broker, queue))
        try:
            stack.start((*procs.CORE_SERVICES,
                         *(procs.celery_worker(w, root, queue) for w in ("worker-a", "worker-b"))))
            deadline = time.monotonic() + args.timeout
            stack.wait_until_serving(deadline)
            started = time.perf_counter()
            procs.deliver_then_deploy(stack, world, deadline)
            print(f"set-up: history ingested, every model trained and scored in "
                  f"{time.perf_counter() - started:.0f} s")
            results = deliver_days(stack, warehouse, work, days, args)
        except BaseException:
            stack.print_log_tails()
            raise
        finally:
            stack.stop()
            procs.forget_queue(broker, queue)
    return summarize(results)


def deliver_days(stack: procs.Stack, warehouse: str, work: Path, days: list[date],
                 args: argparse.Namespace) -> list[Day]:
    """One day after the other; Ctrl-C (SIGINT) stops after the days done, which are summarized."""
    results = []
    try:
        for day in days:
            results.append(one_day(stack, warehouse, work, day, args))
    except KeyboardInterrupt:
        print(f"interrupted: {len(results)} of {len(days)} days delivered", flush=True)
    return results


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="medium", choices=("small", "medium", "large"))
    parser.add_argument("--history-days", type=int, default=60)
    parser.add_argument("--days", type=int, default=30, help="live days delivered one by one")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-faults", dest="faults", action="store_false",
                        help="deliver clean days (default: the generator's faults every day)")
    parser.add_argument("--settle", type=float, default=15,
                        help="seconds without a new run before a day counts as finished")
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="for the whole run")
    parser.add_argument("--work", default="/tmp/bench_celery_days")
    return parser.parse_args()


def generate_into(out: Path, scale: str, seed: int, start: date | None, days: int,
                  faults: bool) -> None:
    import warnings

    from liftline.synth import generate

    with warnings.catch_warnings():
        # A day every store is closed has no revenue to divide the printed facts by.
        warnings.simplefilter("ignore", RuntimeWarning)
        generate(out, scale=scale, seed=seed, start=start, days=days, faults=faults,
                 progress=False)


def one_day(stack: procs.Stack, warehouse: str, work: Path, day: date,
            args: argparse.Namespace) -> Day:
    staging = work / "days" / day.isoformat()
    generate_into(staging, args.scale, args.seed, day, 1, args.faults)
    before = {r["dag_run_id"] + r["dag_id"] for r in stack.runs()}
    landed = datetime.now(UTC)
    files = deliver_world(staging, Path(stack.env["LIFTLINE_HOME"]) / "landing")
    stack.trigger("ingest_extracts")
    runs = wait_until_quiet(stack, before, args.settle, time.monotonic() + args.timeout)
    failed = [f"{r['dag_id']}:{r['state']}" for r in runs if r["state"] != "success"]
    last_end = max(_utc(r["end_date"]) for r in runs)
    alerts = alerts_since(warehouse, landed)
    result = Day(day, files, (last_end - landed).total_seconds(),
                 (max(alerts) - landed).total_seconds() if alerts else None, len(alerts),
                 reconcile(warehouse, staging))
    print(line(result, runs, failed), flush=True)
    return result


def wait_until_quiet(stack: procs.Stack, before: set[str], settle: float,
                     deadline: float) -> list[dict]:
    """The runs the delivery set off, once none is busy and none has started for `settle` s."""
    quiet_since = None
    while True:
        stack.check_alive()
        runs = [r for r in stack.runs() if r["dag_run_id"] + r["dag_id"] not in before]
        busy = [r for r in runs if r["state"] not in procs.TERMINAL]
        if runs and not busy:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= settle:
                return runs
        else:
            quiet_since = None
        procs.sleep_or_fail(deadline, f"the day's runs: {procs.describe(runs)}", seconds=1)


def alerts_since(warehouse: str, landed: datetime) -> list[datetime]:
    """When each alert recorded after `landed` reached the outbox (ops_alerts)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(warehouse, poolclass=NullPool)
    with engine.connect() as conn:
        found = conn.execute(text("SELECT created_at FROM ops_alerts WHERE created_at >= :t"),
                             {"t": landed.replace(tzinfo=None)}).scalars().all()
    engine.dispose()
    return [_utc(v) for v in found]


def reconcile(warehouse: str, staging: Path) -> dict:
    """The day's rows, file by file, against ops_ingest_log (a delivery is its bytes).

    A file whose bytes were delivered before under another name (an unchanged dimension
    snapshot) brings no new rows and is counted apart. Every other file must be logged, with
    rows_in = its data lines = rows_loaded + rows_rejected; a clean file loads every row; a
    fault file rejects exactly the rows faults.json names (all of them if the file is to be
    quarantined). `problems` names each file that breaks this; `lost` sums delivered rows that
    were neither loaded nor rejected.
    """
    from sqlalchemy import bindparam, create_engine, text
    from sqlalchemy.pool import NullPool

    files = [f for f in sorted(staging.glob("*/*"))
             if f.is_file() and not f.parent.name.startswith("_")]
    delivered = {hashlib.sha256(f.read_bytes()).hexdigest(): (f.name, _data_rows(f))
                 for f in files}
    faults = {Path(f["file"]).name: f for f in json.loads(
        (staging / "_truth" / "faults.json").read_text())}
    engine = create_engine(warehouse, poolclass=NullPool)
    query = text("SELECT file_sha256, file_name, rows_in, rows_loaded, rows_rejected, status "
                 "FROM ops_ingest_log WHERE file_sha256 IN :shas").bindparams(
        bindparam("shas", expanding=True))
    with engine.connect() as conn:
        logged = {row.file_sha256: row for row in conn.execute(query, {"shas": list(delivered)})}
    engine.dispose()
    totals = dict.fromkeys(("delivered", "loaded", "rejected", "fault_rows", "lost",
                            "redelivered_files"), 0)
    problems = []
    for sha, (name, rows) in delivered.items():
        row = logged.get(sha)
        if row is not None and row.file_name != name:
            totals["redelivered_files"] += 1
            continue
        fault = faults.get(name)
        expected = 0 if fault is None else (
            rows if fault["expect"] == "file_quarantined" else len(fault["rows"]))
        loaded, rejected = (0, 0) if row is None else (row.rows_loaded or 0,
                                                       row.rows_rejected or 0)
        totals["delivered"] += rows
        totals["loaded"] += loaded
        totals["rejected"] += rejected
        totals["fault_rows"] += expected
        totals["lost"] += max(rows - loaded - rejected, 0)
        if row is None:
            problems.append(f"{name}: not in the ingest log")
        elif (row.rows_in, loaded + rejected, rejected) != (rows, rows, expected):
            problems.append(f"{name}{' (' + fault['kind'] + ')' if fault else ''}: {rows} "
                            f"delivered, rows_in {row.rows_in}, {loaded} loaded, {rejected} "
                            f"rejected, {expected} expected rejected, status {row.status}")
    return {**totals, "problems": problems}


def _data_rows(path: Path) -> int:
    """Lines after the header, the last one counted even without its newline; of a gzip file,
    those of as much of it as decompresses (a stream cut short keeps its first part)."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = zlib.decompressobj(wbits=31).decompress(data)
    lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    return max(lines - 1, 0)


def _utc(value: str | datetime) -> datetime:
    stamp = datetime.fromisoformat(value) if isinstance(value, str) else value
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def line(d: Day, runs: list[dict], failed: list[str]) -> str:
    r = d.rows
    alerts = f"{d.to_alerts_s:6.0f} s ({d.alerts})" if d.to_alerts_s is not None else "  none"
    ok = "ok" if _reconciled(r) else "MISMATCH: " + "; ".join(r["problems"])
    return (f"{d.day} {d.day:%a} {d.files:3d} files  last DAG {d.to_last_dag_s:6.0f} s  "
            f"alerts {alerts}  {len(runs)} runs{' FAILED ' + ','.join(failed) if failed else ''}"
            f"  rows {r['delivered']:,} = {r['loaded']:,} loaded + {r['rejected']:,} rejected "
            f"(faults: {r['fault_rows']:,})  {ok}")


def _reconciled(r: dict) -> bool:
    return not r["problems"]


def summarize(results: list[Day]) -> int:
    if not results:
        return 0
    to_dag = statistics.median(d.to_last_dag_s for d in results)
    alerted = [d.to_alerts_s for d in results if d.to_alerts_s is not None]
    to_alerts = statistics.median(alerted) if alerted else None
    bad = [d.day.isoformat() for d in results if not _reconciled(d.rows)]
    print(f"\n{len(results)} days: median landing -> last DAG finished {to_dag:.0f} s "
          f"(goal < {GOAL_S} s: {'met' if to_dag < GOAL_S else 'NOT met'}); median landing -> "
          f"alerts in the outbox "
          f"{'n/a' if to_alerts is None else f'{to_alerts:.0f} s'} over {len(alerted)} days "
          "with alerts")
    print("rows: every delivered row loaded or rejected, rejections = faults' rows: "
          + ("yes, every day" if not bad else f"NO on {', '.join(bad)}"))
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
