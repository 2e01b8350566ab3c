"""pipeline_failure alerts: one per failing task until it recovers, delivered through the outbox."""

from __future__ import annotations

import json

from fake_slack import FakeSlack
from sqlalchemy import Engine, create_engine, select

from liftline.alerts import (
    DELIVERED,
    PENDING,
    PIPELINE_FAILURE,
    SlackTarget,
    alert_summary,
    deliver_pending,
    latest_alert_state,
    record_alert,
    record_pipeline_failure,
    record_pipeline_recovery,
    task_entity,
)
from liftline.warehouse import read_frame, table

LOG_URL = "http://airflow.local/dags/score_models/runs/r1/tasks/score_forecasts?try_number=3"


def _fail(engine: Engine, run_id: str = "r1", task_id: str = "score_forecasts",
          map_label: str | None = None, error: str | None = "ValueError: boom",
          dag_id: str = "score_models") -> str | None:
    return record_pipeline_failure(engine, dag_id=dag_id, task_id=task_id,
                                   try_number=3, log_url=LOG_URL, run_id=run_id,
                                   map_label=map_label, error=error)


def _recover(engine: Engine, run_id: str = "r2", task_id: str = "score_forecasts") -> str | None:
    return record_pipeline_recovery(engine, dag_id="score_models", task_id=task_id, run_id=run_id)


def _rows(engine: Engine):
    alerts = table("ops_alerts")
    return read_frame(engine, select(alerts).order_by(alerts.c.created_at))


def test_a_failure_is_a_critical_alert_naming_dag_task_try_and_log(warehouse: Engine) -> None:
    alert_id = _fail(warehouse, error="ValueError: boom\nTraceback (most recent call last): ...")

    [row] = _rows(warehouse).to_dict("records")
    assert row["alert_id"] == alert_id
    assert (row["kind"], row["entity_key"], row["severity"]) == (
        PIPELINE_FAILURE, "score_models/score_forecasts", "critical")
    assert row["state"] == "failed" and row["delivery_status"] == PENDING
    assert row["run_id"] == "r1"
    details = json.loads(row["details_json"])
    assert details == {"dag": "score_models", "task": "score_forecasts", "try_number": 3,
                       "error": "ValueError: boom", "link": LOG_URL}
    summary = alert_summary(row)
    assert "score_models/score_forecasts" in summary and LOG_URL in summary
    assert "clear the task" in summary  # the default action for this kind


def test_the_same_task_failing_again_is_not_alerted_again(warehouse: Engine) -> None:
    assert _fail(warehouse, run_id="r1") is not None
    assert _fail(warehouse, run_id="r2") is None
    assert _fail(warehouse, run_id="r3") is None
    assert len(_rows(warehouse)) == 1
    # Another task is another entity.
    assert _fail(warehouse, task_id="score_promotions") is not None


def test_a_success_after_a_failure_records_one_recovery_then_failures_alert_again(
    warehouse: Engine,
) -> None:
    _fail(warehouse, run_id="r1")
    recovered = _recover(warehouse, run_id="r2")
    assert recovered is not None
    assert _recover(warehouse, run_id="r3") is None  # already recovered
    assert _fail(warehouse, run_id="r4") is not None  # failing again is news again

    rows = _rows(warehouse)
    assert list(rows["state"]) == ["failed", "recovered", "failed"]
    assert list(rows["severity"]) == ["critical", "info", "critical"]
    assert latest_alert_state(warehouse, PIPELINE_FAILURE, "score_models/score_forecasts") == (
        "failed")


def test_a_task_that_never_failed_records_nothing_on_success(warehouse: Engine) -> None:
    assert _recover(warehouse) is None
    assert _rows(warehouse).empty


def test_recovery_on_a_warehouse_without_tables_is_a_no_op(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    assert _recover(engine) is None


def test_mapped_instances_are_separate_entities(warehouse: Engine) -> None:
    assert task_entity("ingest_extracts", "ingest_fact", "pos") == (
        "ingest_extracts/ingest_fact[pos]")
    assert task_entity("ingest_extracts", "prepare") == "ingest_extracts/prepare"
    for source in ("pos", "crm"):
        assert _fail(warehouse, dag_id="ingest_extracts", task_id="ingest_fact",
                     map_label=source) is not None
    assert sorted(_rows(warehouse)["entity_key"]) == [
        "ingest_extracts/ingest_fact[crm]", "ingest_extracts/ingest_fact[pos]"]
    assert json.loads(_rows(warehouse)["details_json"].iloc[0])["mapped"] in ("pos", "crm")


def test_deliver_pending_can_deliver_just_the_given_alerts(
    warehouse: Engine, fake_slack: FakeSlack
) -> None:
    other = record_alert(warehouse, kind="forecast_drop", entity_key="ST-1", severity="warning",
                         title="drop", details={}, state="dropping")
    failure = _fail(warehouse)
    target = SlackTarget(token="xoxb-1-2-abc", channel="#c", base_url=fake_slack.base_url)

    report = deliver_pending(warehouse, target, alert_ids=[failure], max_attempts_per_run=1,
                             log=lambda _: None)

    assert report.delivered == 1 and len(fake_slack.posted()) == 1
    assert "score_models/score_forecasts" in fake_slack.posted()[0].body["text"]
    statuses = dict(zip(_rows(warehouse)["alert_id"], _rows(warehouse)["delivery_status"],
                        strict=True))
    assert statuses == {other: PENDING, failure: DELIVERED}
