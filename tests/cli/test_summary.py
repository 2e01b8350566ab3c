"""The run summary read back from a warehouse: only this run's rows, counted and worded plainly."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from liftline.cli.summary import LISTED_FILES, model_reason, summarize_run
from liftline.warehouse import table

THIS_RUN = ["manual__ingest", "manual__train", "manual__monitor"]
EARLIER = "scheduled__earlier"
AT = datetime(2026, 3, 2, 6, 0)


def insert(engine, name: str, rows: list[dict]) -> None:
    with engine.begin() as conn:
        conn.execute(table(name).insert(), rows)


def ingest_row(name: str, status: str, run_id: str, rejected: int = 0, reason: str = "") -> dict:
    return {"file_sha256": name.ljust(64, "0"), "source": name.split("_")[0], "file_name": name,
            "rows_in": 100, "rows_loaded": 0 if status == "quarantined" else 100 - rejected,
            "rows_rejected": rejected, "status": status, "reason": reason or None,
            "received_at": AT, "run_id": run_id}


def alert_row(alert_id: str, kind: str, status: str, run_id: str | None,
              last_error: str | None = None) -> dict:
    return {"alert_id": alert_id, "kind": kind, "entity_key": alert_id, "severity": "warning",
            "title": alert_id, "details_json": "{}", "created_at": AT, "delivery_status": status,
            "attempts": 1, "last_error": last_error, "run_id": run_id}


def model_row(name: str, status: str, run_id: str, metrics: dict | None = None) -> dict:
    return {"model_name": name, "version": f"{name}-{run_id}", "trained_at": AT,
            "status": status, "metrics_json": json.dumps(metrics or {}), "run_id": run_id}


@pytest.fixture
def ran(warehouse):
    """A warehouse after an earlier run and this one (ingest, train and monitor DAG runs)."""
    ingest, train, monitor = THIS_RUN
    insert(warehouse, "ops_ingest_log", [
        ingest_row("pos_jan.csv", "loaded", ingest),
        ingest_row("pos_feb.csv", "loaded", ingest),
        ingest_row("stores.csv", "loaded", ingest),
        ingest_row("spend_feb.csv", "partial", ingest, rejected=3,
                   reason="3 of 100 rows rejected (3.0%): spend_present 3"),
        ingest_row("crm_feb.csv", "quarantined", ingest, rejected=100,
                   reason="quarantined: missing required column(s) stage"),
        ingest_row("erp_feb.csv", "quarantined", ingest, rejected=0,
                   reason="quarantined: the file ends in the middle of a row\nsecond line"),
        ingest_row("erp_jan.csv", "quarantined", EARLIER, rejected=100, reason="old news"),
    ])
    insert(warehouse, "ops_alerts", [
        alert_row("a1", "data_quality", "failed", ingest, last_error="SlackApiError: 503"),
        alert_row("a2", "data_quality", "failed", ingest, last_error="SlackApiError: 503"),
        alert_row("a3", "lift_divergence", "delivered", monitor),
        alert_row("a4", "forecast_drop", "not_configured", monitor),
        alert_row("a5", "lift_divergence", "pending", monitor),  # left when delivery stopped
        alert_row("b1", "data_quality", "failed", EARLIER, last_error="timeout"),
        alert_row("b2", "data_quality", "delivered", EARLIER),
        alert_row("b3", "drift", "pending", None),
        alert_row("b4", "drift", "not_configured", EARLIER),  # final: not retried, not counted
    ])
    insert(warehouse, "ml_model_registry", [
        model_row("sales_forecast/all", "champion", train,
                  {"promotion": {"reason": None}, "wape": 0.2}),
        model_row("promo_lift", "challenger", train,
                  {"promotion": {"reason": "WAPE 0.31 does not beat the champion's 0.29"}}),
        model_row("mmm/DE/all", "skipped", train, {"reason": "8 weeks of revenue, needs 65"}),
        model_row("sales_forecast/all", "retired", EARLIER),
    ])
    return warehouse


def test_counts_only_this_runs_rows(ran):
    s = summarize_run(ran, THIS_RUN)
    assert dict(s.file_counts) == {"loaded": 3, "partial": 1, "quarantined": 2}
    assert s.quarantined == 2
    assert dict(s.alerts_by_kind) == {"data_quality": 2, "lift_divergence": 2, "forecast_drop": 1}
    assert dict(s.undelivered_by_status) == {"failed": 2, "not_configured": 1, "pending": 1}
    assert s.undelivered == 4
    assert s.last_delivery_error == "SlackApiError: 503"
    assert s.earlier_undelivered == 2  # b1 failed and b3 pending; delivered and final ones not
    assert [(m.model_name, m.status, m.reason) for m in s.models] == [
        ("mmm/DE/all", "skipped", "8 weeks of revenue, needs 65"),
        ("promo_lift", "challenger", "WAPE 0.31 does not beat the champion's 0.29"),
        ("sales_forecast/all", "champion", None),
    ]


def test_the_text_names_the_problems_first_and_says_where_to_look(ran, tmp_path):
    log = tmp_path / "run-1.log"
    text = summarize_run(ran, THIS_RUN, log_path=log, home=tmp_path).text()
    lines = text.splitlines()
    assert lines[0] == ("summary of this run: 2 file(s) quarantined, 1 file(s) with rejected "
                        "rows, 4 alert(s) not delivered, 2 earlier alert(s) still undelivered")
    assert "6 ingested: 3 loaded, 1 partial, 2 quarantined" in text
    # Quarantined before partial; the "quarantined: " prefix and second lines are dropped.
    flagged = [line.split()[0:2] for line in lines if line.strip().startswith(
        ("quarantined ", "partial "))]
    assert flagged == [["quarantined", "crm/crm_feb.csv:"], ["quarantined", "erp/erp_feb.csv:"],
                       ["partial", "spend/spend_feb.csv:"]]
    assert "crm/crm_feb.csv: missing required column(s) stage" in text
    assert "second line" not in text and "old news" not in text
    assert f"{tmp_path / 'quarantine'}/<source>/<file>.reason.json" in text
    assert "5 raised (2 data_quality, 1 forecast_drop, 2 lift_divergence), 1 delivered" in text
    assert "2 failed to reach Slack (SlackApiError: 503); they stay in the outbox" in text
    assert "1 not sent: no Slack connection" in text
    assert "1 not tried yet (delivery stopped early" in text
    assert "2 alert(s) of earlier runs still wait in the outbox" in text
    assert "promoted to champion: sales_forecast/all" in text
    assert ("not promoted, the champion keeps scoring: promo_lift (WAPE 0.31 does not beat the "
            "champion's 0.29)") in text
    assert "skipped: mmm/DE/all (8 weeks of revenue, needs 65)" in text
    assert "retired" not in text  # an earlier run's row
    assert lines[-2].split() == ["warehouse", ran.url.render_as_string(hide_password=True)]
    assert lines[-1].split() == ["log", str(log)]


def test_a_failed_dag_heads_the_problems(ran):
    s = summarize_run(ran, THIS_RUN[:1], failed_dags=["build_features"])
    assert s.lines()[0].startswith("summary of this run: build_features failed, 2 file(s)")
    assert s.models == []  # the training run did not happen
    assert "none trained in this run" in s.text()


def test_a_run_that_did_nothing_still_reports_the_outbox(ran):
    s = summarize_run(ran, ["manual__nothing_happened"])
    assert s.files == [] and s.undelivered == 0
    text = s.text()
    # Every failed or pending alert is now an earlier run's: a1, a2, a5, b1 and b3.
    assert text.splitlines()[0] == "summary of this run: 5 earlier alert(s) still undelivered"
    assert "files      none ingested" in text and "alerts     none raised" in text


def test_without_problems_the_head_says_so(warehouse):
    insert(warehouse, "ops_ingest_log", [ingest_row("pos_jan.csv", "loaded", "r1")])
    insert(warehouse, "ops_alerts", [alert_row("a1", "forecast_drop", "delivered", "r1")])
    s = summarize_run(warehouse, ["r1"])
    assert s.lines()[0] == "summary of this run: nothing needs attention"
    assert "1 raised (1 forecast_drop), 1 delivered to Slack" in s.text()


def test_many_problem_files_are_counted_not_all_listed(warehouse):
    count = LISTED_FILES + 4
    insert(warehouse, "ops_ingest_log", [
        ingest_row(f"pos_{i:02d}.csv", "quarantined", "r1", reason="bad") for i in range(count)])
    text = summarize_run(warehouse, ["r1"]).text()
    assert text.count(": bad") == LISTED_FILES
    assert "... and 4 more in ops_ingest_log" in text


def test_an_empty_warehouse_without_tables_reads_as_nothing(engine):
    s = summarize_run(engine, ["r1"], home=Path("/x"))
    assert (s.files, s.models, s.undelivered, s.earlier_undelivered) == ([], [], 0, 0)


def test_model_reason_reads_both_places():
    assert model_reason(json.dumps({"promotion": {"reason": "worse"}, "reason": "x"})) == "worse"
    assert model_reason(json.dumps({"reason": "no data"})) == "no data"
    assert model_reason(json.dumps({"wape": 0.1})) is None
    assert model_reason("not json") is None and model_reason(None) is None
    assert model_reason("[1, 2]") is None
