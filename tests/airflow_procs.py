"""Real Airflow services for the tests and benchmarks: start them, drive them, stop them by pid.

A `Stack` is Airflow's services on one temporary AIRFLOW_HOME: the API server, scheduler and DAG
processor, plus whatever else a scenario adds (Celery workers). Each service runs in a process
group of its own, so `stop()` ends it and every child it forked (task processes, Celery's pool)
by the group's id, the leader's pid; callers stop in a `finally`.

The LocalExecutor scenario (tests/dags/test_scheduler.py) and the CeleryExecutor one
(tests/dags/test_celery.py, benchmarks/bench_celery_days.py) share the environment, the drive
through the REST API, the in-process reference run and the snapshot of the outputs.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from liftline import settings
from liftline.cli.main import deliver_world
from liftline.cli.run import CHAIN as DAGS

REPO = settings.project_root()
TESTS = Path(__file__).resolve().parent
AIRFLOW = Path(sys.executable).with_name("airflow")
USER = "tester"
CHAMPIONS = "liftline://registry/champions"
TERMINAL = ("success", "failed")
# A Redis database of its own (Redis has 16) so other users of the local server never see these
# queues; each scenario also uses a queue name of its own.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
WORKER_HOSTNAME_ENV = "LIFTLINE_TEST_WORKER_HOSTNAME"


# --- databases and brokers on loopback --------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_base_url() -> str:
    return os.environ.get("LIFTLINE_TEST_POSTGRES_URL", "").strip()


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A SQLAlchemy URL (psycopg 3) of a new, empty PostgreSQL database, dropped afterwards."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from liftline.warehouse import normalize_url

    url = normalize_url(postgres_base_url())
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def metadata_db(root: Path, prefix: str = "airflow_test") -> Iterator[str]:
    """Airflow's metadata DB: a fresh PostgreSQL database when one is configured, else SQLite."""
    if not postgres_base_url():
        yield f"sqlite:///{root / 'airflow.db'}"
        return
    with postgres_database(prefix) as url:
        yield url


def redis_url() -> str:
    return os.environ.get("LIFTLINE_TEST_REDIS_URL", "").strip() or DEFAULT_REDIS_URL


def redis_answers(url: str) -> str | None:
    """None when a Redis server answers PING at `url`, else why not."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        client.close()
    except (redis.RedisError, OSError) as exc:
        return f"no Redis at {url}: {exc}"
    return None


def worker_hostname() -> str:
    """Airflow's hostname callable for a worker that shares its machine with others: the name
    its environment gives it, so task instances tell the workers apart."""
    return os.environ.get(WORKER_HOSTNAME_ENV) or socket.getfqdn()


# --- the Airflow processes --------------------------------------------------------------------

@dataclass(frozen=True)
class Service:
    """One Airflow command to run as a service, with the environment it adds to the stack's."""

    name: str
    args: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)


CORE_SERVICES = (Service("api-server", ("api-server",)), Service("scheduler", ("scheduler",)),
                 Service("dag-processor", ("dag-processor",)))


@dataclass
class Stack:
    """Airflow's services on one temporary AIRFLOW_HOME, and a REST API client."""

    root: Path
    env: dict[str, str]
    port: int
    password: str
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    token: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, services: Sequence[Service] = CORE_SERVICES) -> None:
        migrate = subprocess.run([str(AIRFLOW), "db", "migrate"], env=self.env,
                                 capture_output=True, text=True, timeout=180)
        assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
        for service in services:
            self.launch(service)

    def launch(self, service: Service) -> None:
        log = open(self.root / f"{service.name}.log", "wb")  # noqa: SIM115 - the child writes it
        # A session (process group) of its own: stop() ends the service and its children.
        self.procs[service.name] = subprocess.Popen(
            [str(AIRFLOW), *service.args], env={**self.env, **service.env}, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def stop(self) -> None:
        for proc in self.procs.values():
            signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            signal_group(proc, signal.SIGKILL)  # whatever is left of the group
            proc.wait(timeout=10)

    def print_log_tails(self, lines: int = 60) -> None:
        for name in self.procs:
            path = self.root / f"{name}.log"
            tail = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
            print(f"----- {name} (last {len(tail)} lines of {path}) -----", file=sys.stderr)
            print("\n".join(tail), file=sys.stderr)
        for log in sorted((self.root / "home" / "logs").glob("dag_id=*/**/*.log")):
            text = log.read_text(errors="replace")
            if "[error" in text or "Traceback" in text:
                print(f"----- task log {log} -----", file=sys.stderr)
                print("\n".join(text.splitlines()[-40:]), file=sys.stderr)

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def wait_until_serving(self, deadline: float) -> None:
        while True:
            self.check_alive()
            try:
                self.api("GET", "/api/v2/monitor/health")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                sleep_or_fail(deadline, "the API server did not answer")
        self.token = self.api("POST", "/auth/token",
                              {"username": USER, "password": self.password})["access_token"]

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            assert proc.poll() is None, f"airflow {name} exited with {proc.returncode}"

    def runs(self) -> list[dict]:
        runs = self.api("GET", "/api/v2/dags/~/dagRuns?limit=500&order_by=run_after")["dag_runs"]
        return sorted(runs, key=lambda r: (r["run_after"], r["dag_run_id"]))

    def task_instances(self, run: dict) -> dict[str, dict]:
        path = f"/api/v2/dags/{run['dag_id']}/dagRuns/{quote(run['dag_run_id'])}/taskInstances"
        return {label(ti): ti for ti in self.api("GET", path + "?limit=500")["task_instances"]}

    def consumed(self, run: dict) -> set[str]:
        path = (f"/api/v2/dags/{run['dag_id']}/dagRuns/{quote(run['dag_run_id'])}"
                "/upstreamAssetEvents")
        return {event["uri"] for event in self.api("GET", path)["asset_events"]}

    def trigger(self, dag_id: str, conf: dict | None = None) -> dict:
        return self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns",
                        {"logical_date": None, "conf": conf or {}})

    def unpause(self, dag_ids: Sequence[str]) -> None:
        for dag_id in dag_ids:
            assert self.api("PATCH", f"/api/v2/dags/{dag_id}",
                            {"is_paused": False})["is_paused"] is False

    def wait_for_dags(self, dag_ids: Sequence[str], deadline: float) -> None:
        while {d["dag_id"] for d in self.api("GET", "/api/v2/dags?limit=100")["dags"]} < set(
                dag_ids):
            sleep_or_fail(deadline, "for the DAG processor to parse the DAGs")

    def wait_for(self, what: str, found: Callable[[list[dict]], bool], deadline: float) -> None:
        """Poll the runs until `found(runs)` holds and no run is queued or running."""
        while True:
            self.check_alive()
            runs = self.runs()
            busy = [r for r in runs if r["state"] not in TERMINAL]
            if found(runs) and not busy:
                return
            sleep_or_fail(deadline, f"waiting for {what}; runs so far: {describe(runs)}")


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)  # the group's id is the leader's pid (start_new_session)


def sleep_or_fail(deadline: float, message: str, seconds: float = 2) -> None:
    if time.monotonic() > deadline:
        raise AssertionError(f"timed out {message}")
    time.sleep(seconds)


def quote(run_id: str) -> str:
    return urllib.request.quote(run_id, safe="")


def label(ti: dict) -> str:
    index = ti.get("map_index", -1)
    return ti["task_id"] if index is None or index < 0 else f"{ti['task_id']}[{index}]"


def describe(runs: list[dict]) -> str:
    return ", ".join(f"{r['dag_id']}:{r['run_type']}:{r['state']}" for r in runs) or "none"


def runs_of(runs: list[dict], dag_id: str, *kinds: str) -> list[dict]:
    return [r for r in runs if r["dag_id"] == dag_id and (not kinds or r["run_type"] in kinds)]


def successes(runs: list[dict], dag_id: str) -> list[dict]:
    return [r for r in runs_of(runs, dag_id) if r["state"] == "success"]


def new_stack(root: Path, db_url: str, *, warehouse_url: str | None = None,
              extra_env: dict[str, str] | None = None) -> Stack:
    """A Stack on `root` (not started) with a user who may log in to the REST API."""
    port = free_port()
    password = secrets.token_urlsafe(12)
    password_file = root / "passwords.json"
    password_file.write_text(json.dumps({USER: password}))
    (root / "liftline").mkdir(exist_ok=True)
    env = airflow_environment(root, db_url, port, password_file, warehouse_url)
    return Stack(root, {**env, **(extra_env or {})}, port, password)


def airflow_environment(root: Path, db_url: str, port: int, password_file: Path,
                        warehouse_url: str | None = None) -> dict[str, str]:
    plain = {k: v for k, v in os.environ.items()
             if not k.startswith(("AIRFLOW", "LIFTLINE_", "PYTHONPATH"))}
    base = f"http://127.0.0.1:{port}"
    return {
        **plain,
        "PATH": f"{AIRFLOW.parent}{os.pathsep}{plain.get('PATH', '')}",
        # This checkout's library, whatever the virtualenv has installed.
        "PYTHONPATH": str(REPO / "include"),
        "AIRFLOW_HOME": str(root / "home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
        # Shared by every service: the scheduler signs the tokens the API server checks.
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "LIFTLINE_HOME": str(root / "liftline"),
        "LIFTLINE_WAREHOUSE_URL": warehouse_url or f"sqlite:///{root / 'liftline' / 'warehouse.db'}",
        "LIFTLINE_SETTLE_SECONDS": "0",
    }


# --- the CeleryExecutor ----------------------------------------------------------------------

def celery_environment(metadata_url: str, broker_url: str, queue: str,
                       concurrency: int = 2) -> dict[str, str]:
    """What the compose stack sets for the CeleryExecutor, on loopback: Redis broker, results in
    the metadata database, and every task on `queue` (a name of this scenario's own)."""
    results = "db+" + metadata_url.replace("postgresql+psycopg://", "postgresql://", 1)
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": results,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(concurrency),
        # One task fetched at a time: a waiting task goes to whichever worker is free.
        "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
    }


def celery_worker(name: str, root: Path, queue: str) -> Service:
    """A Celery worker that calls itself `name` to Celery and in its task instances' hostname.

    Workers sharing a machine need their own Celery node name, pid file and no log server (its
    port is one per machine; the task logs are files in the shared AIRFLOW_HOME anyway).
    """
    return Service(
        name,
        ("celery", "worker", "--celery-hostname", f"{name}@%h", "--queues", queue,
         "--pid", str(root / f"{name}.pid"), "--skip-serve-logs", "--without-mingle",
         "--without-gossip"),
        {WORKER_HOSTNAME_ENV: name,
         "AIRFLOW__CORE__HOSTNAME_CALLABLE": "airflow_procs.worker_hostname",
         "PYTHONPATH": os.pathsep.join((str(REPO / "include"), str(TESTS)))})


def forget_queue(url: str, queue: str) -> None:
    """Drop what is left of the scenario's queue in Redis (other keys are not ours to touch)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    client.delete(queue)
    client.close()


# --- driving the chain -------------------------------------------------------------------------

def deploy_then_deliver(stack: Stack, world: Path, deadline: float) -> int:
    """Deploy on an empty landing/, then deliver and trigger ingest by hand; wait for the chain
    and for the rescoring that the new champions set off. Returns how many runs came before the
    delivery."""
    stack.wait_for_dags(DAGS, deadline)
    # The DAGs with a clock (ingest, train, monitor) run their latest tick at once
    # (catchup=False) and must succeed on nothing.
    stack.unpause(DAGS)
    stack.wait_for("the first runs of an empty install",
                   lambda runs: {r["dag_id"] for r in runs} >= CLOCKED, deadline)
    deployed = len(stack.runs())

    # A delivery lands and a person triggers ingest through the API; the rest must follow.
    deliver_world(world, Path(stack.env["LIFTLINE_HOME"]) / "landing")
    stack.trigger("ingest_extracts")
    wait_for_the_chain(stack, deployed, deadline)
    return deployed


def deliver_then_deploy(stack: Stack, world: Path, deadline: float) -> None:
    """Deliver into landing/, then unpause: ingest's clock ingests the delivery (its latest tick
    runs at once, catchup=False) and the rest follows; wait for it and for the rescoring."""
    stack.wait_for_dags(DAGS, deadline)
    deliver_world(world, Path(stack.env["LIFTLINE_HOME"]) / "landing")
    stack.unpause(DAGS)
    wait_for_the_chain(stack, 0, deadline)


CLOCKED = frozenset({"ingest_extracts", "train_models", "monitor_models"})


def wait_for_the_chain(stack: Stack, since: int, deadline: float) -> None:
    """Wait, looking at the runs after the first `since`, for ingest -> features -> score and
    train -> monitor, then for scoring and the monitor again on the new champions."""
    def chain_done(runs: list[dict]) -> bool:
        after = runs[since:]
        return bool(runs_of(after, "monitor_models", "asset_triggered")) and all(
            r["state"] in TERMINAL for r in runs_of(after, "train_models"))

    stack.wait_for("ingest -> features -> score -> monitor", chain_done, deadline)
    assert successes(stack.runs()[since:], "train_models"), (
        f"train_models did not succeed after the delivery: {describe(stack.runs())}")

    def rescored(runs: list[dict]) -> bool:
        # The new champions' Asset starts scoring again, and its outputs the monitor.
        score = [r for r in runs_of(runs[since:], "score_models", "asset_triggered")
                 if r["state"] in TERMINAL and CHAMPIONS in stack.consumed(r)]
        monitor = [r for r in runs_of(runs[since:], "monitor_models", "asset_triggered")
                   if score and r["start_date"] > score[-1]["start_date"]]
        return bool(monitor) and all(r["state"] in TERMINAL for r in monitor)

    stack.wait_for("scoring and the monitor again on the new champions", rescored, deadline)


def run_in_process(world: Path, home: Path) -> None:
    """`liftline run` on `world`'s files in `home`, with SQLite and no Airflow services."""
    deliver_world(world, home / "landing")
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("LIFTLINE_", "AIRFLOW_CONN_", "AIRFLOW__", "AIRFLOW_HOME"))}
    proc = subprocess.run([sys.executable, "-m", "liftline.cli.main", "run"], capture_output=True,
                          text=True, timeout=600,
                          env={**clean, "LIFTLINE_HOME": str(home),
                               "PYTHONPATH": str(REPO / "include")})
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- what a run leaves in the warehouse ---------------------------------------------------------

# Stated tolerance for floats: the same code on the same rows gives the same doubles on SQLite
# and PostgreSQL (both store IEEE doubles); this leaves room for summation order only.
FLOAT_REL_TOL = 1e-6
FLOAT_ABS_TOL = 1e-6


def snapshot(warehouse_url: str) -> dict[str, list[tuple]]:
    """What a run leaves in the warehouse, without run ids, versions and timestamps, on SQLite
    or PostgreSQL: dates as ISO text, booleans as 0/1, numerics as floats, rows sorted."""
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(warehouse_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            def rows(sql: str, **params: object) -> list[tuple]:
                found = [tuple(_plain(v) for v in row) for row in conn.execute(text(sql), params)]
                return sorted(found, key=_sort_key)

            tables = sorted(t for t in inspect(conn).get_table_names()
                            if t.startswith(("clean_", "feat_")) and not t.startswith(
                                "feat_build_"))
            latest = conn.execute(text("SELECT run_id FROM ml_sales_forecast "
                                       "ORDER BY created_at DESC LIMIT 1")).scalar()
            return {
                "ingest_log": rows("SELECT file_sha256, source, file_name, rows_in, "
                                   "rows_loaded, rows_rejected, status FROM ops_ingest_log"),
                "row_counts": [(t, conn.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar())
                               for t in tables],
                "sales_forecast": rows(
                    "SELECT model_name, grain, series_key, store_id, category, date, "
                    "as_of_date, horizon_days, yhat, yhat_lower, yhat_upper, plan_qty "
                    "FROM ml_sales_forecast WHERE run_id = :run_id", run_id=latest or ""),
                "promo_lift": rows("SELECT promo_id, start_date, end_date, predicted_lift_pct, "
                                   "prediction_kind, actual_lift_pct, observed_days, status "
                                   "FROM ml_promo_lift"),
                "alerts": rows("SELECT kind, entity_key, state, severity FROM ops_alerts "
                               "WHERE kind != 'pipeline_failure'"),
            }
    finally:
        engine.dispose()


def _plain(value: object) -> object:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _sort_key(row: tuple) -> tuple:
    # Floats sort by a rounded value, so two backends' last-bit differences keep the same order.
    return tuple((0, "") if v is None else (1, round(v, 4)) if isinstance(v, float)
                 else (2, str(v)) for v in row)


def first_difference(got: list[tuple], want: list[tuple]) -> str | None:
    """None when the rows are the same (floats within the stated tolerance), else the first
    row that differs, shown beside the one expected."""
    if len(got) != len(want):
        return f"{len(got)} rows, expected {len(want)}"
    for mine, theirs in zip(got, want, strict=True):
        if len(mine) != len(theirs) or not all(
                _same(a, b) for a, b in zip(mine, theirs, strict=True)):
            return f"got {mine}, expected {theirs}"
    return None


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float | int) or isinstance(b, float) and isinstance(
            a, int):
        return math.isclose(float(a), float(b), rel_tol=FLOAT_REL_TOL, abs_tol=FLOAT_ABS_TOL) or (
            math.isnan(float(a)) and math.isnan(float(b)))
    return a == b
