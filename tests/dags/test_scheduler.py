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

import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from airflow_procs import (
    AIRFLOW,
    CHAMPIONS,
    USER,
    Stack,
    deploy_then_deliver,
    describe,
    first_difference,
    metadata_db,
    new_stack,
    runs_of,
    snapshot,
)
from browser import CHROMIUM_FOUND, render

pytestmark = [pytest.mark.slow, pytest.mark.services]

TIMEOUT_S = 1200  # for the whole scenario: about 4 minutes on 2 cores, 2-3x that on a shared machine


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
        return runs_of(self.runs[self.deployed:], dag_id, *kinds)

    def states(self, run: dict) -> dict[str, str]:
        return {label: ti["state"] for label, ti in self.task_instances(run).items()}

    def task_instances(self, run: dict) -> dict[str, dict]:
        return self.tasks[run["dag_run_id"] + run["dag_id"]]


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory, world) -> Scheduled:
    if not AIRFLOW.exists():
        pytest.skip(f"no airflow executable beside {sys.executable}")
    root = tmp_path_factory.mktemp("scheduler")
    started = time.monotonic()
    deadline = started + TIMEOUT_S
    with metadata_db(root) as db_url:
        try:
            stack = new_stack(root, db_url)
        except OSError as exc:
            pytest.skip(f"no loopback port for the API server: {exc}")
        try:
            stack.start()
            stack.wait_until_serving(deadline)
            deployed = deploy_then_deliver(stack, world, deadline)
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
    print(f"\nscheduler scenario: {seconds:.0f} s, {len(runs)} DAG runs: {describe(runs)}")
    return Scheduled(runs, deployed, tasks, consumed, root / "liftline", seconds, report)


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


# --- what the scenario must show ------------------------------------------------------------

def test_an_empty_install_runs_its_clocked_dags_green(scheduled):
    first = scheduled.runs[:scheduled.deployed]
    assert {r["dag_id"] for r in first} == {"ingest_extracts", "train_models", "monitor_models"}
    assert all(r["run_type"] == "scheduled" and r["state"] == "success" for r in first), (
        describe(first))


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
        assert runs, f"{dag_id} did not run on an Asset: {describe(scheduled.runs)}"
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
    assert champions, describe(scheduled.runs)
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

def test_the_outputs_equal_liftline_run_on_the_same_files(scheduled, reference):
    # `reference` is a session fixture: asked for here, after the scheduler is gone (beside it,
    # on 2 cores, both took longer than one after the other).
    got = snapshot(f"sqlite:///{scheduled.home / 'warehouse.db'}")
    want = snapshot(f"sqlite:///{reference / 'warehouse.db'}")
    assert want["sales_forecast"] and want["promo_lift"] and want["ingest_log"]
    for part in want:
        assert first_difference(got[part], want[part]) is None, (
            part, first_difference(got[part], want[part]))


def test_the_report_opens_through_the_plugin_only_when_logged_in(scheduled):
    report = scheduled.report
    assert report["anonymous_status"] == 401
    assert report["served"] and report["size"] > 100_000  # the self-contained page, plotly inline
    if not CHROMIUM_FOUND:
        pytest.skip("the served page is not rendered: no /usr/bin/chromium")
    assert report["errors"] == []
    assert report["meant"] > 0 and report["drawn"] == report["meant"], report
