"""The DAGs under a real Airflow: scheduler, DAG processor and API server with the LocalExecutor.

Nothing calls the DAGs in order here: after a 14-day small world lands in landing/, one ingest
run (triggered through the REST API by a named user) must set off build_features, score_models
and monitor_models through their Assets alone, every run succeeding, and leave the same outputs
as `liftline run` on the same files in another LIFTLINE_HOME.

train_models runs too, on the same feature Assets: a fresh install has never trained, so the
registry says every model is due; the champions it promotes are an Asset that scoring (and so
the monitor) runs on again, so the final outputs are those of the new champions.

Metadata DB: a fresh PostgreSQL database when LIFTLINE_TEST_POSTGRES_URL is set, else SQLite
(Airflow 3's LocalExecutor accepts it: tasks reach the metadata DB only through the API server).
Every process started here is stopped by its process group in a `finally`, and the tails of
their logs are printed when the scenario fails. Skips only where Airflow cannot start (no
`airflow` executable, no loopback port).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from browser import CHROMIUM_FOUND, render

from liftline import settings
from liftline.cli.main import deliver_world
from liftline.cli.run import CHAIN as DAGS

pytestmark = pytest.mark.slow

REPO = settings.project_root()
AIRFLOW = Path(sys.executable).with_name("airflow")
USER = "tester"
TIMEOUT_S = 600  # for the whole scenario; it takes about 4 minutes on 2 busy cores
CHAMPIONS = "liftline://registry/champions"
TERMINAL = ("success", "failed")



# --- the Airflow processes --------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def _metadata_db(root: Path) -> Iterator[str]:
    """A SQLAlchemy URL for an empty Airflow metadata DB, dropped afterwards."""
    base = os.environ.get("LIFTLINE_TEST_POSTGRES_URL", "").strip()
    if not base:
        yield f"sqlite:///{root / 'airflow.db'}"
        return
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from liftline.warehouse import normalize_url

    url = normalize_url(base)
    name = f"airflow_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@dataclass
class Stack:
    """Airflow's three services on one temporary AIRFLOW_HOME, and a REST API client."""

    root: Path
    env: dict[str, str]
    port: int
    password: str
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    token: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        migrate = subprocess.run([str(AIRFLOW), "db", "migrate"], env=self.env,
                                 capture_output=True, text=True, timeout=180)
        assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
        for name in ("api-server", "scheduler", "dag-processor"):
            log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115 - the child writes it
            # A session (process group) of its own: stop() ends the service and its workers.
            self.procs[name] = subprocess.Popen([str(AIRFLOW), name], env=self.env, stdout=log,
                                                stderr=subprocess.STDOUT,
                                                start_new_session=True)
            log.close()

    def stop(self) -> None:
        for proc in self.procs.values():
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            _signal_group(proc, signal.SIGKILL)  # whatever is left of the group
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
                _sleep_or_fail(deadline, "the API server did not answer")
        self.token = self.api("POST", "/auth/token",
                              {"username": USER, "password": self.password})["access_token"]

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            assert proc.poll() is None, f"airflow {name} exited with {proc.returncode}"

    def runs(self) -> list[dict]:
        runs = self.api("GET", "/api/v2/dags/~/dagRuns?limit=200&order_by=run_after")["dag_runs"]
        return sorted(runs, key=lambda r: (r["run_after"], r["dag_run_id"]))

    def task_instances(self, run: dict) -> dict[str, dict]:
        path = f"/api/v2/dags/{run['dag_id']}/dagRuns/{_quote(run['dag_run_id'])}/taskInstances"
        return {_label(ti): ti for ti in self.api("GET", path)["task_instances"]}

    def consumed(self, run: dict) -> set[str]:
        path = (f"/api/v2/dags/{run['dag_id']}/dagRuns/{_quote(run['dag_run_id'])}"
                "/upstreamAssetEvents")
        return {event["uri"] for event in self.api("GET", path)["asset_events"]}

    def trigger(self, dag_id: str, conf: dict | None = None) -> dict:
        return self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns",
                        {"logical_date": None, "conf": conf or {}})

    def wait_for(self, what: str, found: Callable[[list[dict]], bool], deadline: float) -> None:
        """Poll the runs until `found(runs)` holds and no run is queued or running."""
        while True:
            self.check_alive()
            runs = self.runs()
            busy = [r for r in runs if r["state"] not in TERMINAL]
            if found(runs) and not busy:
                return
            _sleep_or_fail(deadline, f"waiting for {what}; runs so far: {_describe(runs)}")


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)  # the group's id is the leader's pid (start_new_session)


def _sleep_or_fail(deadline: float, message: str) -> None:
    if time.monotonic() > deadline:
        raise AssertionError(f"timed out {message}")
    time.sleep(2)


def _quote(run_id: str) -> str:
    return urllib.request.quote(run_id, safe="")


def _label(ti: dict) -> str:
    index = ti.get("map_index", -1)
    return ti["task_id"] if index is None or index < 0 else f"{ti['task_id']}[{index}]"


def _describe(runs: list[dict]) -> str:
    return ", ".join(f"{r['dag_id']}:{r['run_type']}:{r['state']}" for r in runs) or "none"


def _runs_of(runs: list[dict], dag_id: str, *kinds: str) -> list[dict]:
    return [r for r in runs if r["dag_id"] == dag_id and (not kinds or r["run_type"] in kinds)]


def _environment(root: Path, db_url: str, port: int, password_file: Path) -> dict[str, str]:
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
        "LIFTLINE_WAREHOUSE_URL": f"sqlite:///{root / 'liftline' / 'warehouse.db'}",
        "LIFTLINE_SETTLE_SECONDS": "0",
    }


# --- the scenario ---------------------------------------------------------------------------

@dataclass
class Scheduled:
    runs: list[dict]  # every DAG run, oldest first
    deployed: int  # how many of them ran on the empty install, before the delivery
    tasks: dict[str, dict[str, dict]]  # run id + dag id -> task label -> task instance
    consumed: dict[str, set[str]]  # run id + dag id -> asset URIs that triggered it
    home: Path
    seconds: float
    report: dict = field(default_factory=dict)  # the report page through the api-server

    def after_delivery(self, dag_id: str, *kinds: str) -> list[dict]:
        return _runs_of(self.runs[self.deployed:], dag_id, *kinds)

    def states(self, run: dict) -> dict[str, str]:
        return {label: ti["state"] for label, ti in self.task_instances(run).items()}

    def task_instances(self, run: dict) -> dict[str, dict]:
        return self.tasks[run["dag_run_id"] + run["dag_id"]]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    from liftline.synth import generate

    out = tmp_path_factory.mktemp("world") / "w"
    generate(out, scale="small", days=14, progress=False)
    return out


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory, world) -> Scheduled:
    if not AIRFLOW.exists():
        pytest.skip(f"no airflow executable beside {sys.executable}")
    try:
        port = _free_port()
    except OSError as exc:
        pytest.skip(f"no loopback port for the API server: {exc}")
    root = tmp_path_factory.mktemp("scheduler")
    (root / "liftline").mkdir()
    password = secrets.token_urlsafe(12)
    password_file = root / "passwords.json"
    password_file.write_text(json.dumps({USER: password}))
    started = time.monotonic()
    deadline = started + TIMEOUT_S
    with _metadata_db(root) as db_url:
        stack = Stack(root, _environment(root, db_url, port, password_file), port, password)
        try:
            stack.start()
            stack.wait_until_serving(deadline)
            deployed = _drive(stack, world, deadline)
            report = _report_through_the_plugin(stack, root)
            runs = stack.runs()
            tasks = {r["dag_run_id"] + r["dag_id"]: stack.task_instances(r) for r in runs}
            consumed = {r["dag_run_id"] + r["dag_id"]: stack.consumed(r) for r in runs
                        if r["run_type"] == "asset_triggered"}
        except BaseException:
            stack.print_log_tails()
            raise
        finally:
            stack.stop()
    seconds = time.monotonic() - started
    print(f"\nscheduler scenario: {seconds:.0f} s, {len(runs)} DAG runs: {_describe(runs)}")
    return Scheduled(runs, deployed, tasks, consumed, root / "liftline", seconds, report)


def _drive(stack: Stack, world: Path, deadline: float) -> int:
    """Deploy, deliver, trigger ingest, wait for the chain and for the rescoring that the new
    champions set off."""
    while {d["dag_id"] for d in stack.api("GET", "/api/v2/dags?limit=100")["dags"]} < set(DAGS):
        _sleep_or_fail(deadline, "for the DAG processor to parse the DAGs")
    # Deploy on an empty landing/: the DAGs with a clock (ingest, train, monitor) run their
    # latest tick at once (catchup=False) and must succeed on nothing.
    for dag_id in DAGS:
        assert stack.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})["is_paused"] \
            is False
    clocked = {"ingest_extracts", "train_models", "monitor_models"}
    stack.wait_for("the first runs of an empty install",
                   lambda runs: {r["dag_id"] for r in runs} >= clocked, deadline)
    deployed = len(stack.runs())

    # A delivery lands and a person triggers ingest through the API; the rest must follow.
    deliver_world(world, Path(stack.env["LIFTLINE_HOME"]) / "landing")
    stack.trigger("ingest_extracts")

    def chain_done(runs: list[dict]) -> bool:
        after = runs[deployed:]
        return bool(_runs_of(after, "monitor_models", "asset_triggered")) and all(
            r["state"] in TERMINAL for r in _runs_of(after, "train_models"))

    stack.wait_for("ingest -> features -> score -> monitor", chain_done, deadline)
    assert _successes(stack.runs()[deployed:], "train_models"), (
        f"train_models did not succeed after the delivery: {_describe(stack.runs())}")

    def rescored(runs: list[dict]) -> bool:
        # The new champions' Asset starts scoring again, and its outputs the monitor.
        score = [r for r in _runs_of(runs[deployed:], "score_models", "asset_triggered")
                 if r["state"] in TERMINAL and CHAMPIONS in stack.consumed(r)]
        monitor = [r for r in _runs_of(runs[deployed:], "monitor_models", "asset_triggered")
                   if score and r["start_date"] > score[-1]["start_date"]]
        return bool(monitor) and all(r["state"] in TERMINAL for r in monitor)

    stack.wait_for("scoring and the monitor again on the new champions", rescored, deadline)
    return deployed


def _report_through_the_plugin(stack: Stack, root: Path) -> dict:
    """Write the report of the scheduled runs, then ask the api-server's plugin for it, with and
    without the UI's login, and render what it served."""
    written = subprocess.run([sys.executable, "-m", "liftline.cli.main", "report"],
                             env=stack.env, capture_output=True, text=True, timeout=300)
    assert written.returncode == 0, written.stderr[-2000:]
    latest = Path(stack.env["LIFTLINE_HOME"]) / "reports" / "latest.html"
    anonymous = urllib.request.Request(stack.url + "/liftline/latest")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(anonymous, timeout=30)
    # The UI's session cookie is how a browser inside the Airflow UI sends its login.
    logged_in = urllib.request.Request(stack.url + "/liftline/latest",
                                       headers={"Cookie": f"_token={stack.token}"})
    with urllib.request.urlopen(logged_in, timeout=30) as response:
        served = response.read().decode("utf-8")
    found = {"anonymous_status": refused.value.code, "served": served == latest.read_text(
        encoding="utf-8"), "size": len(served)}
    if CHROMIUM_FOUND:
        rendered = render(served, root)
        found.update(meant=rendered.meant, drawn=len(rendered.drawn), errors=rendered.errors)
    return found


def _successes(runs: list[dict], dag_id: str) -> list[dict]:
    return [r for r in _runs_of(runs, dag_id) if r["state"] == "success"]


# --- what the scenario must show ------------------------------------------------------------

def test_an_empty_install_runs_its_clocked_dags_green(scheduled):
    first = scheduled.runs[:scheduled.deployed]
    assert {r["dag_id"] for r in first} == {"ingest_extracts", "train_models", "monitor_models"}
    assert all(r["run_type"] == "scheduled" and r["state"] == "success" for r in first), (
        _describe(first))


def test_the_chain_runs_by_itself_through_assets(scheduled):
    ingest = scheduled.after_delivery("ingest_extracts")
    assert [r["triggering_user_name"] for r in ingest if r["run_type"] == "manual"] == [USER]
    # Besides, the 30-minute clock may have fired during the test; nothing else starts ingest.
    assert {r["run_type"] for r in ingest} <= {"manual", "scheduled"}
    # After the delivery each DAG was started by the Asset of the one before.
    for dag_id, upstream in (("build_features", "liftline://warehouse/clean_pos"),
                             ("score_models", "liftline://warehouse/feat_sales_daily"),
                             ("train_models", "liftline://warehouse/feat_sales_daily"),
                             ("monitor_models", "liftline://warehouse/ml_sales_forecast")):
        runs = scheduled.after_delivery(dag_id, "asset_triggered")
        assert runs, f"{dag_id} did not run on an Asset: {_describe(scheduled.runs)}"
        assert upstream in scheduled.consumed[runs[0]["dag_run_id"] + dag_id], dag_id
    # Features are built once, and scoring and the monitor start on the whole of it: the
    # producers emit after all their work, so no consumer starts on a half-built stage.
    assert len(scheduled.after_delivery("build_features")) == 1
    feature_run = scheduled.after_delivery("build_features")[0]
    score_run = scheduled.after_delivery("score_models", "asset_triggered")[0]
    assert score_run["start_date"] > _work_done(scheduled.task_instances(feature_run))
    assert {"liftline://warehouse/feat_sales_daily", "liftline://warehouse/feat_sales_store_daily",
            "liftline://warehouse/feat_promo_effectiveness"} <= scheduled.consumed[
        score_run["dag_run_id"] + "score_models"]
    monitor_run = scheduled.after_delivery("monitor_models", "asset_triggered")[0]
    assert monitor_run["start_date"] > _work_done(scheduled.task_instances(score_run))
    # The champions that training promoted started scoring again.
    champions = [r for r in scheduled.after_delivery("score_models", "asset_triggered")
                 if CHAMPIONS in scheduled.consumed[
                     r["dag_run_id"] + "score_models"]]
    assert champions, _describe(scheduled.runs)
    # Only ingest was started by hand.
    assert {r["dag_id"] for r in scheduled.runs if r["run_type"] == "manual"} == {
        "ingest_extracts"}


def _work_done(task_instances: dict[str, dict]) -> str:
    """When the last task before publish_assets ended (ISO timestamps compare as text)."""
    ends = [ti["end_date"] for label, ti in task_instances.items()
            if label not in ("publish_assets", "deliver_alerts", "fail_if_any_failed")
            and ti["end_date"]]
    return max(ends)


def test_every_run_but_the_due_check_succeeds_with_every_task(scheduled):
    for run in scheduled.runs:
        states = scheduled.states(run)
        assert run["state"] == "success", (run["dag_id"], states)
        assert set(states.values()) <= {"success", "skipped"}, (run["dag_id"], states)
        assert states["fail_if_any_failed"] == "skipped", (run["dag_id"], states)
        assert states["deliver_alerts"] == "success" or states.get("due_models") == "skipped", (
            run["dag_id"], states)


def test_train_models_runs_after_new_features_and_trains_what_is_due(scheduled):
    runs = scheduled.after_delivery("train_models", "asset_triggered")
    assert runs, "train_models did not run after the first features"
    states = scheduled.states(runs[0])
    assert runs[0]["state"] == "success", states
    assert states["due_models"] == "success"  # a fresh install: every family is due
    with sqlite3.connect(scheduled.home / "warehouse.db") as wh:
        statuses = dict(wh.execute("SELECT model_name, status FROM ml_model_registry "
                                   "WHERE status != 'skipped'").fetchall())
    assert "champion" in statuses.values(), statuses


def test_no_task_failed_so_no_pipeline_failure_alert(scheduled):
    with sqlite3.connect(scheduled.home / "warehouse.db") as wh:
        alerts = wh.execute("SELECT entity_key FROM ops_alerts "
                            "WHERE kind = 'pipeline_failure'").fetchall()
    assert alerts == []


def test_manual_triggers_are_audited_with_the_airflow_user(scheduled):
    with sqlite3.connect(scheduled.home / "warehouse.db") as wh:
        events = wh.execute("SELECT action, entity_key, actor FROM ops_audit_log "
                            "WHERE action = 'manual_run'").fetchall()
    by_hand = {r["dag_id"] for r in scheduled.runs if r["run_type"] == "manual"}
    assert sorted(events) == sorted(("manual_run", dag_id, f"airflow:{USER}")
                                    for dag_id in by_hand)


# --- the same outputs as `liftline run` -----------------------------------------------------

@pytest.fixture(scope="module")
def reference(tmp_path_factory, world, scheduled) -> Path:
    """`liftline run` on the same files in another LIFTLINE_HOME (after the scheduler is gone:
    beside it, on 2 cores, both took longer than one after the other)."""
    home = tmp_path_factory.mktemp("reference")
    deliver_world(world, home / "landing")
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("LIFTLINE_", "AIRFLOW_CONN_", "AIRFLOW__", "AIRFLOW_HOME"))}
    proc = subprocess.run([sys.executable, "-m", "liftline.cli.main", "run"], capture_output=True,
                          text=True, timeout=600,
                          env={**clean, "LIFTLINE_HOME": str(home),
                               "PYTHONPATH": str(REPO / "include")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return home


def snapshot(home: Path) -> dict[str, list]:
    """What a run leaves in the warehouse, without run ids, versions and timestamps."""
    with sqlite3.connect(home / "warehouse.db") as wh:
        def rows(sql: str) -> list:
            return sorted(tuple(_rounded(v) for v in row) for row in wh.execute(sql))

        tables = [t for (t,) in wh.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND (name LIKE 'clean_%' "
            "OR name LIKE 'feat_%') AND name NOT LIKE 'feat_build_%'")]
        latest = wh.execute("SELECT run_id FROM ml_sales_forecast ORDER BY created_at DESC "
                            "LIMIT 1").fetchone()
        return {
            "ingest_log": rows("SELECT file_sha256, source, file_name, rows_in, rows_loaded, "
                               "rows_rejected, status FROM ops_ingest_log"),
            "row_counts": [(t, wh.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0])
                           for t in sorted(tables)],
            "sales_forecast": rows(
                "SELECT model_name, grain, series_key, store_id, category, date, as_of_date, "
                "horizon_days, yhat, yhat_lower, yhat_upper, plan_qty FROM ml_sales_forecast "
                f"WHERE run_id = '{latest[0] if latest else ''}'"),
            "promo_lift": rows("SELECT promo_id, start_date, end_date, predicted_lift_pct, "
                               "prediction_kind, actual_lift_pct, observed_days, status "
                               "FROM ml_promo_lift"),
            "alerts": rows("SELECT kind, entity_key, state, severity FROM ops_alerts "
                           "WHERE kind != 'pipeline_failure'"),
        }


def _rounded(value):  # noqa: ANN001, ANN202 - a SQLite value
    return round(value, 6) if isinstance(value, float) else value


def test_the_outputs_equal_liftline_run_on_the_same_files(scheduled, reference):
    got, want = snapshot(scheduled.home), snapshot(reference)
    assert want["sales_forecast"] and want["promo_lift"] and want["ingest_log"]
    for part in want:
        assert got[part] == want[part], part


def test_the_report_opens_through_the_plugin_only_when_logged_in(scheduled):
    report = scheduled.report
    assert report["anonymous_status"] == 401
    assert report["served"] and report["size"] > 100_000  # the self-contained page, plotly inline
    if not CHROMIUM_FOUND:
        pytest.skip("the served page is not rendered: no /usr/bin/chromium")
    assert report["errors"] == []
    assert report["meant"] > 0 and report["drawn"] == report["meant"], report
