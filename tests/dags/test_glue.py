"""The DAG glue's run-time pieces, called as Airflow calls them (with a task context), on SQLite:
the failure callback's pipeline_failure alert, the audit of manual runs and cleared tasks, the
models filter, and the training DAG's decision of what is due.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import Engine, select

from liftline.alerts import DELIVERED, FAILED, SlackTarget, deliver_pending
from liftline.warehouse import create_schema, dispose_engines, get_engine, read_audit, table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "alerts"))
from fake_slack import FakeSlack  # noqa: E402 - the alert tests' fake Slack Web API

LOG_URL = "http://airflow.local/dags/score_models/runs/r1/tasks/score_forecasts?try_number=3"


@pytest.fixture
def engine(tmp_path, monkeypatch) -> Engine:
    """The warehouse the glue opens through settings (LIFTLINE_WAREHOUSE_URL)."""
    monkeypatch.setenv("LIFTLINE_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'warehouse.db'}")
    engine = get_engine()
    create_schema(engine)
    yield engine
    dispose_engines()


@pytest.fixture
def fake_slack():
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def _ti(task_id: str = "score_forecasts", try_number: int = 3, max_tries: int = 2,
        map_index: int = -1, rendered: str | None = None, dag_id: str = "score_models",
        run_id: str = "r1") -> SimpleNamespace:
    return SimpleNamespace(dag_id=dag_id, task_id=task_id, run_id=run_id, try_number=try_number,
                           max_tries=max_tries, map_index=map_index, rendered_map_index=rendered,
                           log_url=LOG_URL)


def _alerts(engine: Engine) -> list[dict]:
    alerts = table("ops_alerts")
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(alerts).order_by(
            alerts.c.created_at))]


# --- the failure callback -------------------------------------------------------------------

def _target(fake: FakeSlack) -> SlackTarget:
    return SlackTarget(token="xoxb-1-2-secret", channel="#ops", base_url=fake.base_url)


def test_a_final_failure_is_recorded_and_delivered_at_once(dagbag, engine, fake_slack,
                                                           monkeypatch):
    import liftline_airflow.failures as failures

    monkeypatch.setattr(failures, "slack_target", lambda: _target(fake_slack))
    failures.record_task_failure({"ti": _ti(), "exception": ValueError("no champion\nmore")})

    [alert] = _alerts(engine)
    assert alert["kind"] == "pipeline_failure" and alert["severity"] == "critical"
    assert alert["entity_key"] == "score_models/score_forecasts"
    assert alert["delivery_status"] == DELIVERED and alert["run_id"] == "r1"
    assert json.loads(alert["details_json"]) == {
        "dag": "score_models", "task": "score_forecasts", "try_number": 3,
        "error": "ValueError: no champion", "link": LOG_URL}
    [post] = fake_slack.posted()
    assert "score_models/score_forecasts" in post.body["text"]

    # The same task failing in the next run: no second alert, nothing posted.
    failures.record_task_failure({"ti": _ti(run_id="r2"), "exception": ValueError("again")})
    assert len(_alerts(engine)) == 1 and len(fake_slack.posted()) == 1


def test_an_alert_slack_refused_stays_in_the_outbox_for_deliver_alerts(dagbag, engine,
                                                                       fake_slack, monkeypatch):
    import liftline_airflow.failures as failures
    from fake_slack import Reply

    fake_slack.script(Reply(500, {"ok": False, "error": "internal_error"}))
    monkeypatch.setattr(failures, "slack_target", lambda: _target(fake_slack))
    failures.record_task_failure({"ti": _ti(), "exception": RuntimeError("boom")})

    [alert] = _alerts(engine)
    assert alert["delivery_status"] == FAILED and alert["attempts"] == 1  # one try, no waiting
    # What the next deliver_alerts task does:
    report = deliver_pending(engine, _target(fake_slack), sleep=lambda _: None,
                             log=lambda _: None)
    assert report.delivered == 1 and _alerts(engine)[0]["delivery_status"] == DELIVERED


def test_an_alert_that_cannot_be_sent_from_the_callback_stays_pending(dagbag, engine,
                                                                        monkeypatch, capsys):
    import liftline_airflow.failures as failures

    def no_connections():
        raise RuntimeError("no connection lookup here")

    monkeypatch.setattr(failures, "slack_target", no_connections)
    failures.record_task_failure({"ti": _ti(), "exception": RuntimeError("boom")})
    assert [a["delivery_status"] for a in _alerts(engine)] == ["pending"]
    assert "left for deliver_alerts: RuntimeError: no connection lookup here" in (
        capsys.readouterr().out)


def test_a_success_after_a_failure_records_the_recovery(dagbag, engine, monkeypatch):
    import liftline_airflow.failures as failures

    monkeypatch.setattr(failures, "slack_target", lambda: None)
    failures.record_task_recovery({"ti": _ti(run_id="r0")})  # never failed: nothing
    assert _alerts(engine) == []
    failures.record_task_failure({"ti": _ti(), "exception": RuntimeError("boom")})
    failures.record_task_recovery({"ti": _ti(run_id="r2")})
    assert [(a["state"], a["severity"]) for a in _alerts(engine)] == [
        ("failed", "critical"), ("recovered", "info")]


def test_a_mapped_instance_is_alerted_under_its_label(dagbag, engine, monkeypatch):
    import liftline_airflow.failures as failures

    monkeypatch.setattr(failures, "slack_target", lambda: None)
    ti = _ti(dag_id="ingest_extracts", task_id="ingest_fact", map_index=2, rendered="pos")
    failures.record_task_failure({"ti": ti, "exception": None})
    assert _alerts(engine)[0]["entity_key"] == "ingest_extracts/ingest_fact[pos]"


def test_a_callback_that_cannot_reach_the_warehouse_says_so_in_one_line(dagbag, tmp_path,
                                                                        monkeypatch, capsys):
    import liftline_airflow.failures as failures

    monkeypatch.setenv("LIFTLINE_WAREHOUSE_URL", f"sqlite:///{tmp_path}")  # a directory
    failures.record_task_failure({"ti": _ti(), "exception": RuntimeError("boom")})
    dispose_engines()
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("pipeline_failure alert not recorded: ")


# --- the audit of manual runs ---------------------------------------------------------------

def _context(dagbag, *, run_type: str = "manual", user: str | None = "alice",
             clear_number: int = 0, ti: SimpleNamespace | None = None, retries: int = 2,
             **params) -> dict:
    dag = dagbag.dags["score_models"]
    given = {**dag.params.dump(), **params}
    return {"dag": dag, "params": given, "task": SimpleNamespace(retries=retries),
            "ti": ti or _ti(try_number=1, max_tries=retries),
            "dag_run": SimpleNamespace(run_type=run_type, triggering_user_name=user,
                                       clear_number=clear_number, run_id="manual__1")}


def test_untouched_scheduled_runs_are_not_audited_and_open_no_warehouse(dagbag, tmp_path,
                                                                         monkeypatch):
    from liftline_airflow import audit_manual_run

    monkeypatch.setenv("LIFTLINE_WAREHOUSE_URL", f"sqlite:///{tmp_path}")  # would fail if used
    for run_type in ("scheduled", "asset_triggered"):
        assert audit_manual_run(_context(dagbag, run_type=run_type)) == []
    # An automatic retry is not a rerun: max_tries is still the task's retries.
    retry = _ti(try_number=2, max_tries=2)
    assert audit_manual_run(_context(dagbag, run_type="scheduled", ti=retry)) == []


def test_a_manual_run_with_overrides_is_audited_once_with_the_differing_params(dagbag, engine):
    from liftline_airflow import audit_manual_run

    context = _context(dagbag, as_of="2026-03-01", models=["promo_lift"])
    ids = audit_manual_run(context)
    assert len(ids) == 2
    assert audit_manual_run(context) == ids  # the run's other tasks append nothing new

    events = read_audit(engine)
    assert list(events["action"]) == ["manual_run", "param_override"]
    assert set(events["entity_key"]) == {"score_models"}
    assert set(events["actor"]) == {"airflow:alice"} and set(events["run_id"]) == {"manual__1"}
    override = events.iloc[1]
    assert json.loads(override["before_json"]) == {"as_of": None, "models": []}
    assert json.loads(override["after_json"]) == {"as_of": "2026-03-01",
                                                  "models": ["promo_lift"]}


def test_a_manual_run_on_defaults_is_a_manual_run_only(dagbag, engine):
    from liftline_airflow import audit_manual_run

    assert len(audit_manual_run(_context(dagbag))) == 1
    [event] = read_audit(engine).to_dict("records")
    assert event["action"] == "manual_run"
    assert json.loads(event["before_json"]) == {} == json.loads(event["after_json"])


def test_the_runner_s_test_user_is_not_a_person(dagbag, engine):
    from liftline_airflow import audit_manual_run

    audit_manual_run(_context(dagbag, user="dag_test"))
    assert read_audit(engine)["actor"].iloc[0].startswith("os:")


def test_each_clear_of_a_task_is_audited_once_under_the_task(dagbag, engine):
    from liftline_airflow import audit_manual_run

    # Cleared after its third try: max_tries = 3 + retries.
    rerun = _ti(task_id="score_forecasts", try_number=4, max_tries=5)
    first = audit_manual_run(_context(dagbag, run_type="scheduled", clear_number=1, ti=rerun))
    retry = _ti(task_id="score_forecasts", try_number=5, max_tries=5)
    assert audit_manual_run(_context(dagbag, run_type="scheduled", clear_number=1,
                                     ti=retry)) == first  # its automatic retry
    again = _ti(task_id="score_forecasts", try_number=6, max_tries=7)
    audit_manual_run(_context(dagbag, run_type="scheduled", clear_number=2, ti=again))

    events = read_audit(engine)
    assert list(events["action"]) == ["manual_run", "manual_run"]
    assert set(events["entity_key"]) == {"score_models/score_forecasts"}


# --- the models param -----------------------------------------------------------------------

def test_the_models_param_selects_families_and_rejects_unknown_ones(dagbag):
    from liftline_airflow import is_selected, selected_models

    assert selected_models({"models": []}) == ["sales_forecast", "promo_lift", "mmm",
                                               "customer_segments", "satisfaction"]
    assert selected_models({"models": ["mmm", "sales_forecast"]}) == ["sales_forecast", "mmm"]
    assert is_selected({"models": ["mmm"]}, "mmm") and not is_selected({"models": ["mmm"]},
                                                                        "promo_lift")
    with pytest.raises(ValueError, match=r"^unknown model family forecast in the models param"):
        selected_models({"models": ["forecast"]})


# --- what train_models trains ---------------------------------------------------------------

@pytest.fixture
def train_dag(dagbag):
    """The train_models DAG file as a module (the DAGs folder is on sys.path)."""
    return importlib.import_module("train_models")


@pytest.fixture
def registry(monkeypatch, engine):
    """liftline.registry with due_for_training replaced by one that records its calls."""
    import liftline.registry

    calls: list[dict] = []
    due: dict[str, str] = {}

    def due_for_training(bind, as_of=None, models=None):
        calls.append({"bind": bind, "as_of": as_of, "models": models})
        return dict(due)

    monkeypatch.setattr(liftline.registry, "due_for_training", due_for_training)
    return SimpleNamespace(calls=calls, due=due)


def _train_context(dagbag, run_type: str, **params) -> dict:
    dag = dagbag.dags["train_models"]
    return {"params": {**dag.params.dump(), **params},
            "dag_run": SimpleNamespace(run_type=run_type)}


def test_after_new_features_only_due_families_train(dagbag, train_dag, registry, engine):
    registry.due.update({"mmm": "never trained"})
    chosen = train_dag.families_to_train(_train_context(dagbag, "asset_triggered",
                                                        as_of="2026-03-01"))
    assert chosen == ["mmm"]
    [call] = registry.calls
    assert call["as_of"] == "2026-03-01" and call["models"] is None
    assert str(call["bind"].url) == str(engine.url)


def test_nothing_due_short_circuits_the_run(dagbag, train_dag, registry, capsys):
    assert train_dag.families_to_train(_train_context(dagbag, "asset_triggered")) == []
    assert "no model is due" in capsys.readouterr().out


def test_the_models_param_filters_what_is_due(dagbag, train_dag, registry):
    registry.due.update({"mmm": "never trained", "promo_lift": "older than 14 days"})
    chosen = train_dag.families_to_train(_train_context(dagbag, "asset_triggered",
                                                        models=["promo_lift"]))
    assert chosen == ["promo_lift"] and registry.calls[0]["models"] == ["promo_lift"]


def test_manual_forced_and_weekly_runs_train_every_selected_family(dagbag, train_dag, registry):
    everything = ["sales_forecast", "promo_lift", "mmm", "customer_segments", "satisfaction"]
    assert train_dag.families_to_train(_train_context(dagbag, "manual")) == everything
    assert train_dag.families_to_train(_train_context(dagbag, "scheduled")) == everything
    assert train_dag.families_to_train(_train_context(dagbag, "asset_triggered", force=True,
                                                      models=["mmm"])) == ["mmm"]
    assert registry.calls == []  # no due check when the answer is "all of them"


def test_a_fresh_install_trains_every_family_after_its_first_features(dagbag, train_dag,
                                                                      engine):
    from liftline.warehouse import create_schema

    create_schema(engine)  # nothing registered yet: the real registry says all are due
    chosen = train_dag.families_to_train(_train_context(dagbag, "asset_triggered"))
    assert chosen == ["sales_forecast", "promo_lift", "mmm", "customer_segments", "satisfaction"]
