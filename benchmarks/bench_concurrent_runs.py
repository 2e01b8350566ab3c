"""Two `liftline run` started at once on one LIFTLINE_HOME: does either die, lose or duplicate?

Not a test (it takes a minute or two): prints what each run did and what the two left behind.
Each round starts from a fresh home (no Airflow metadata DB yet, so both runs race to create
it) whose landing/ holds a small world with faults; only the ingest DAG runs (a DAGs folder
with ingest_extracts alone), since that is where two runs meet on the same files.

Each round runs twice: on a fresh home, and on a home whose Airflow metadata DB already exists
(copied from the single run), where only the ingest can collide.

Checked after both runs: exit codes, every file in ops_ingest_log has an archived path that
exists and landing/ is empty, every partial file keeps its `.rejected.csv` and `reason.json`,
raw_/clean_ row counts equal those of a single run, and the two runs wrote distinct log files.

    python benchmarks/bench_concurrent_runs.py --work /tmp/concur/bench --rounds 2
    python benchmarks/bench_concurrent_runs.py --warehouse-url postgresql+psycopg://.../scratch

The PostgreSQL database must be a scratch one of its own: its public schema is dropped and
recreated before each run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def liftline(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([PYTHON, "-m", "liftline.cli.main", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def make_world(work: Path) -> Path:
    world = work / "world"
    if not world.is_dir():
        env = {**os.environ, "PYTHONPATH": str(ROOT / "include")}
        subprocess.run([PYTHON, "-m", "liftline.cli.main", "generate", "--out", str(world),
                        "--scale", "small", "--faults", "--days", "90", "--quiet"],
                       env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return world


def ingest_only_dags(work: Path) -> Path:
    dags = work / "dags"
    if not dags.is_dir():
        dags.mkdir(parents=True)
        shutil.copy(ROOT / "dags" / "ingest_extracts.py", dags)
        shutil.copy(ROOT / "dags" / ".airflowignore", dags)
        (dags / "liftline_airflow").symlink_to(ROOT / "dags" / "liftline_airflow")
    return dags


def fresh_home(work: Path, world: Path, name: str) -> Path:
    home = work / name
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(world, home / "landing", ignore=shutil.ignore_patterns("_truth"))
    old = time.time() - 600
    for path in (home / "landing").rglob("*"):
        os.utime(path, (old, old))
    return home


def run_env(home: Path, dags: Path, warehouse_url: str | None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "include"), "LIFTLINE_HOME": str(home),
           "LIFTLINE_DAGS_FOLDER": str(dags), "LIFTLINE_REGISTRY_URL": str(home / "registry")}
    env.pop("AIRFLOW_HOME", None)
    if warehouse_url:
        env["LIFTLINE_WAREHOUSE_URL"] = warehouse_url
    return env


def counts(home: Path, warehouse_url: str | None) -> dict:
    """Row counts of raw_*, clean_* and ops_rejected_rows, and the ingest log."""
    if warehouse_url:
        from sqlalchemy import create_engine, inspect, text
        engine = create_engine(warehouse_url)
        with engine.connect() as conn:
            names = [t for t in inspect(conn).get_table_names()
                     if t.startswith(("raw_", "clean_")) or t == "ops_rejected_rows"]
            rows = {t: conn.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar() for t in names}
            log = [tuple(r) for r in conn.execute(text(
                "SELECT source, file_name, status, archived_path FROM ops_ingest_log"))]
        engine.dispose()
        return {"rows": rows, "log": log}
    db = sqlite3.connect(home / "warehouse.db")
    names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
             if r[0].startswith(("raw_", "clean_")) or r[0] == "ops_rejected_rows"]
    rows = {t: db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in names}
    log = db.execute("SELECT source, file_name, status, archived_path FROM ops_ingest_log")
    result = {"rows": rows, "log": log.fetchall()}
    db.close()
    return result


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def problems(home: Path, state: dict) -> list[str]:
    found = []
    for source, name, status, archived in state["log"]:
        if not archived:
            found.append(f"{source}/{name} ({status}): no archived path")
        elif not (home / archived).is_file():
            found.append(f"{source}/{name}: archived path {archived} missing")
        if status == "partial":
            side = list((home / "quarantine" / source).glob(f"{name}*"))
            if not any(p.name.endswith(".rejected.csv") for p in side):
                found.append(f"{source}/{name}: partial without .rejected.csv")
            if not any(p.name.endswith(".reason.json") for p in side):
                found.append(f"{source}/{name}: partial without reason.json")
        if status == "duplicate":
            found.append(f"{source}/{name}: filed as a duplicate")
    left = [p for p in (home / "landing").rglob("*") if p.is_file()]
    if left:
        found.append(f"{len(left)} file(s) left in landing/")
    return found


def one_round(work: Path, world: Path, dags: Path, url: str | None, baseline: dict,
              migrated: bool) -> dict:
    home = fresh_home(work, world, "home")
    if migrated:  # Airflow's metadata DB of the single run: only the ingest meets the other
        shutil.copytree(work / "single" / "airflow", home / "airflow",
                        ignore=shutil.ignore_patterns("logs"))
        marker = home / "airflow" / ".migrated"  # names the DB's path: this home's, now
        marker.write_text(marker.read_text().replace(str(work / "single"), str(home)))
    if url:
        reset_postgres(url)
    env = run_env(home, dags, url)
    started = time.perf_counter()
    runs = [liftline("run", env=env) for _ in range(2)]
    outputs = []
    for proc in runs:
        out, _ = proc.communicate()
        outputs.append((proc.returncode, time.perf_counter() - started, out))
    state = counts(home, url)
    logs = sorted((home / "airflow" / "logs").glob("run-*.log"))
    report = {
        "exit_codes": [o[0] for o in outputs],
        "seconds": [round(o[1], 1) for o in outputs],
        "output_lines": [len(o[2].splitlines()) for o in outputs],
        "run_logs": len(logs),
        "problems": problems(home, state),
        "row_differences": {t: (n, baseline["rows"].get(t)) for t, n in state["rows"].items()
                            if n != baseline["rows"].get(t)},
        # The setup's on the terminal; the ingest's in the task log, within the run log.
        "wait_lines": [line[-160:] for text in [o[2] for o in outputs] + [
            p.read_text(errors="replace") for p in logs]
            for line in text.splitlines() if "waiting for" in line],
    }
    for code, _, out in outputs:
        if code != 0:
            report.setdefault("failed_output_tail", []).append(out.splitlines()[-5:])
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_concurrent_runs"))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--warehouse-url", help="a PostgreSQL warehouse (its public schema is "
                        "dropped and recreated each round)")
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    world, dags = make_world(work), ingest_only_dags(work)
    # A single run on its own home: the row counts two runs must equal.
    single = fresh_home(work, world, "single")
    if args.warehouse_url:
        reset_postgres(args.warehouse_url)
    started = time.perf_counter()
    single_run = liftline("run", env=run_env(single, dags, args.warehouse_url))
    out, _ = single_run.communicate()
    print(f"single run: {time.perf_counter() - started:.1f}s, exit {single_run.returncode}")
    if single_run.returncode:
        sys.exit(out)
    baseline = counts(single, args.warehouse_url)
    for number in range(1, args.rounds + 1):
        for migrated in (False, True):
            report = one_round(work, world, dags, args.warehouse_url, baseline, migrated)
            label = "migrated home" if migrated else "fresh home"
            print(f"round {number}, {label}:", json.dumps(report, indent=2), flush=True)


if __name__ == "__main__":
    main()
