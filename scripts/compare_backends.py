"""The whole pipeline on SQLite and on PostgreSQL, on the same files: the same warehouse after.

    python scripts/compare_backends.py --postgres postgresql+psycopg://postgres@127.0.0.1/test

Generates the small world with its bad deliveries, delivers it into two LIFTLINE_HOMEs and runs
`liftline run` and `liftline report` in each, one with the default SQLite warehouse, one with a
PostgreSQL database made for the purpose (`liftline_ci_compare`, dropped first, on the server of
`--postgres`, reached as a role of its own with a password). Then every `clean_`, `feat_`, `ml_`
and `ops_` table is compared: row count and a checksum of its sorted rows, floats to six
significant digits, the columns no two runs share left out (`liftline.warehouse.compare`). A
difference prints the table, both counts and the first row only each side has.

The same runs are the secret check: both send their alerts to a fake Slack on loopback with a
known fake bot token, and the PostgreSQL warehouse URL carries a known password; neither may
appear in any file under either LIFTLINE_HOME (run logs, Airflow's task logs and metadata DB,
reports, the registry's cards, quarantine reasons), in the commands' output, or in any text
column of either warehouse.

Exit status 0 when the warehouses agree and no secret leaked, 1 otherwise, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "include"))
sys.path.insert(0, str(REPO / "tests" / "alerts"))  # the loopback fake Slack of the alert tests

from fake_slack import FakeSlack  # noqa: E402
from sqlalchemy import String, Text, create_engine, inspect, select  # noqa: E402
from sqlalchemy.engine import URL, Engine  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from liftline.cli.main import deliver_world  # noqa: E402
from liftline.synth import generate  # noqa: E402
from liftline.warehouse import normalize_url  # noqa: E402
from liftline.warehouse.compare import (  # noqa: E402
    EXCLUDED_COLUMNS,
    KNOWN_DIFFERENCES,
    SIGNIFICANT_DIGITS,
    compare_warehouses,
)

DATABASE = "liftline_ci_compare"
ROLE = "liftline_ci_compare"
# Known fakes: they must reach the code (the Slack client, the warehouse driver) and no output.
FAKE_SLACK_TOKEN = "xoxb-4242-4242-FakeTokenForTheSecretCheck"
FAKE_DB_PASSWORD = "FakePasswordForTheSecretCheck4242"  # letters and digits: unescaped in URLs
CHANNEL = "#liftline-ci"


@dataclass
class Backend:
    name: str
    home: Path
    url: str | None  # None: the default SQLite warehouse under home
    seconds: float = 0.0

    def engine(self) -> Engine:
        return create_engine(self.url or f"sqlite:///{self.home / 'warehouse.db'}",
                             poolclass=NullPool)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("LIFTLINE_TEST_POSTGRES_URL"),
                        help="a URL of the PostgreSQL server allowed to create databases and "
                             "roles (default: LIFTLINE_TEST_POSTGRES_URL)")
    parser.add_argument("--work", type=Path,
                        help="folder for the world and both homes (default: a temporary one, "
                             "kept when something differs)")
    parser.add_argument("--sequential", action="store_true",
                        help="run the two backends one after the other (default: at once)")
    args = parser.parse_args(argv)
    if not args.postgres:
        print("compare_backends: no PostgreSQL: pass --postgres or set "
              "LIFTLINE_TEST_POSTGRES_URL", file=sys.stderr)
        return 2

    start = time.perf_counter()
    work = args.work or Path(tempfile.mkdtemp(prefix="liftline-compare-"))
    world = work / "world"
    generate(world, scale="small", faults=True, progress=False)
    admin = create_engine(normalize_url(args.postgres), poolclass=NullPool,
                          isolation_level="AUTOCOMMIT")
    pg_url = fresh_database(admin)
    sqlite, postgres = (Backend("sqlite", work / "home-sqlite", None),
                        Backend("postgresql", work / "home-postgresql", pg_url))
    # A fake Slack each: Slack's receipts (file ids) count uploads, and the two runs must not
    # share a counter for their alerts to be the same.
    slacks = [FakeSlack().start(), FakeSlack().start()]
    try:
        failed = run_backends([sqlite, postgres], world, slacks, args.sequential)
        if failed:
            return report_and_keep(work, 1)
        problems = compare(sqlite, postgres) + leaked_secrets([sqlite, postgres])
        print("alerts posted to the fake Slack: "
              + ", ".join(f"{b.name} {len(s.posted())}" for b, s in zip((sqlite, postgres), slacks,
                                                                      strict=True)))
    finally:
        for slack in slacks:
            slack.stop()
    print(f"compare_backends: {time.perf_counter() - start:.0f} s in all "
          f"(sqlite run {sqlite.seconds:.0f} s, postgresql run {postgres.seconds:.0f} s)")
    if problems:
        return report_and_keep(work, 1)
    drop_database(admin)
    admin.dispose()
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    print("compare_backends: the same warehouse on both backends (but for the known "
          f"differences: {', '.join(KNOWN_DIFFERENCES) or 'none'}); no secret in any output")
    return 0


def report_and_keep(work: Path, status: int) -> int:
    print(f"compare_backends: FAILED; both homes are kept in {work}", file=sys.stderr)
    return status


# --- PostgreSQL -------------------------------------------------------------------------------

def fresh_database(admin: Engine) -> str:
    """An empty database owned by a role with the known password; its URL, password shown."""
    drop_database(admin)
    with admin.connect() as conn:
        # DDL takes no bound parameters; both names and the password are this script's constants.
        conn.exec_driver_sql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{FAKE_DB_PASSWORD}'")
        conn.exec_driver_sql(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
    server: URL = admin.url
    return server.set(username=ROLE, password=FAKE_DB_PASSWORD, database=DATABASE) \
        .render_as_string(hide_password=False)


def drop_database(admin: Engine) -> None:
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.exec_driver_sql(f"DROP ROLE IF EXISTS {ROLE}")


# --- the runs ---------------------------------------------------------------------------------

def run_backends(backends: list[Backend], world: Path, slacks: list[FakeSlack],
                 sequential: bool) -> bool:
    """`liftline run` then `liftline report` in each backend's home; True when one failed."""
    for backend in backends:
        deliver_world(world, backend.home / "landing")
    with ThreadPoolExecutor(max_workers=1 if sequential else len(backends)) as pool:
        statuses = list(pool.map(run_one, backends, slacks))
    return any(statuses)


def run_one(backend: Backend, slack: FakeSlack) -> int:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("LIFTLINE_", "AIRFLOW_CONN_", "AIRFLOW__", "AIRFLOW_HOME"))}
    env |= {"LIFTLINE_HOME": str(backend.home), "LIFTLINE_SLACK_CHANNEL": CHANNEL,
            "PYTHONPATH": str(REPO / "include"),
            "AIRFLOW_CONN_SLACK_API_DEFAULT": json.dumps({
                "conn_type": "slack", "password": FAKE_SLACK_TOKEN,
                "extra": {"base_url": slack.base_url}})}
    if backend.url:
        env["LIFTLINE_WAREHOUSE_URL"] = backend.url
    start = time.perf_counter()
    for command in ("run", "report"):
        # The commands' own output is kept in the home, so the secret check reads it too.
        with open(backend.home / f"{command}.out", "wb") as out:
            proc = subprocess.run([sys.executable, "-m", "liftline.cli.main", command], env=env,
                                  stdout=out, stderr=subprocess.STDOUT, timeout=3600)
        if proc.returncode:
            print(f"{backend.name}: liftline {command} exited {proc.returncode}:\n"
                  + (backend.home / f"{command}.out").read_text()[-4000:], file=sys.stderr)
            return proc.returncode
    backend.seconds = time.perf_counter() - start
    print(f"{backend.name}: liftline run + report in {backend.seconds:.0f} s", flush=True)
    return 0


# --- the comparison ---------------------------------------------------------------------------

def compare(left: Backend, right: Backend) -> list[str]:
    print(f"comparing the warehouses (floats to {SIGNIFICANT_DIGITS} significant digits; "
          f"left out: {', '.join(EXCLUDED_COLUMNS)})")
    one, other = left.engine(), right.engine()
    try:
        snapshots, differences = compare_warehouses(one, other, left_home=str(left.home),
                                                    right_home=str(right.home))
    finally:
        one.dispose()
        other.dispose()
    # A known difference still fails when the row counts differ: rows lost or doubled are
    # never float noise.
    known = {d.table for d in differences if d.known and d.left_count == d.right_count}
    failing = [d for d in differences if d.table not in known]
    marks = {d.table: ("KNOWN DIFFERENCE" if d.table in known else "DIFFERS")
             for d in differences}
    for snap in snapshots:
        print(f"  {snap.name:<28} {snap.count:>8} rows  {snap.digest[:12]}  "
              f"{marks.get(snap.name, 'same')}")
    for difference in differences:
        print(difference.text(left.name, right.name),
              file=sys.stdout if difference.table in known else sys.stderr)
    for table in sorted(set(KNOWN_DIFFERENCES) - {d.table for d in differences}):
        print(f"{table} is in KNOWN_DIFFERENCES but no longer differs: remove it", file=sys.stderr)
    return [f"table {d.table} differs" for d in failing]


# --- the secret check -------------------------------------------------------------------------

def leaked_secrets(backends: list[Backend]) -> list[str]:
    """Where the fake token or password appear: files under each home, warehouse text."""
    secrets = {"the Slack token": FAKE_SLACK_TOKEN, "the database password": FAKE_DB_PASSWORD}
    found = []
    for backend in backends:
        files = [p for p in backend.home.rglob("*") if p.is_file() and not p.is_symlink()]
        for path in files:
            data = path.read_bytes()
            found += [f"{what} in {path}" for what, secret in secrets.items()
                      if secret.encode() in data]
        engine = backend.engine()
        try:
            found += [f"{what} in {backend.name} {where}"
                      for what, secret in secrets.items()
                      for where in text_columns_holding(engine, secret)]
        finally:
            engine.dispose()
        print(f"secret check: {len(files)} files under {backend.name}'s home and its warehouse's "
              "text columns searched")
    for line in found:
        print(f"SECRET LEAKED: {line}", file=sys.stderr)
    return found


def text_columns_holding(engine: Engine, secret: str) -> list[str]:
    """`table.column` of every text column of the warehouse with a value containing `secret`."""
    from sqlalchemy import column, table

    hits = []
    inspector = inspect(engine)
    with engine.connect() as conn:
        for name in inspector.get_table_names():
            for col in inspector.get_columns(name):
                if not isinstance(col["type"], String | Text):
                    continue
                found = conn.execute(
                    select(column(col["name"])).select_from(table(name))
                    .where(column(col["name"]).contains(secret, autoescape=True)).limit(1)
                ).first()
                if found is not None:
                    hits.append(f"{name}.{col['name']}")
    return hits


if __name__ == "__main__":
    sys.exit(main())
