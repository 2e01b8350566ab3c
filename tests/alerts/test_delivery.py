"""deliver_pending against a local fake of the Slack Web API, on SQLite and PostgreSQL.

The real slack_sdk WebClient talks HTTP to the fake; waits go to an injected recorder, so
retries and backoff cost no time.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from fake_slack import TOKEN, FakeSlack, Reply
from sqlalchemy import Engine, select

from liftline.alerts import (
    DELIVERED,
    FAILED,
    NOT_CONFIGURED,
    PENDING,
    DeliveryReport,
    SlackTarget,
    deliver_pending,
    record_alert,
)
from liftline.warehouse import table

CHANNEL = "#marketing-alerts"
LINK = "http://localhost:8080/dags/liftline_monitor/runs/scheduled__2026-03-02"
NOW = datetime(2026, 3, 2, 6, 30)


def _record(engine: Engine, entity_key: str = "PROMO-17", minutes: int = 0, **overrides) -> str:
    arguments = {
        "kind": "lift_divergence",
        "entity_key": entity_key,
        "severity": "critical",
        "title": f"Promotion {entity_key} lifts far less than predicted",
        "details": {"predicted_lift_pct": 12.0, "actual_lift_pct": 3.5, "observed_days": 7},
        "state": "diverged",
        "run_id": "scheduled__2026-03-02",
        "link": LINK,
        "now": NOW + timedelta(minutes=minutes),
    } | overrides
    alert_id = record_alert(engine, **arguments)
    assert alert_id is not None
    return alert_id


def _row(engine: Engine, alert_id: str) -> dict:
    alerts = table("ops_alerts")
    with engine.connect() as conn:
        return dict(
            conn.execute(select(alerts).where(alerts.c.alert_id == alert_id)).one()._mapping
        )


def _deliver(
    engine: Engine, target: SlackTarget | None, sleeps: list[float], log: list[str]
) -> DeliveryReport:
    return deliver_pending(engine, target, log=log.append, sleep=sleeps.append)


def _target(fake: FakeSlack, token: str = TOKEN) -> SlackTarget:
    return SlackTarget(token=token, channel=CHANNEL, base_url=fake.base_url)


def _everything_said(report: DeliveryReport, rows: list[dict], log: list[str]) -> str:
    return "\n".join([report.text(), *report.errors, *log, *(str(r["last_error"]) for r in rows)])


def test_success_posts_blocks_with_title_numbers_and_link(
    warehouse: Engine, fake_slack: FakeSlack, sleeps: list[float], log_lines: list[str]
) -> None:
    alert_id = _record(warehouse)

    report = _deliver(warehouse, _target(fake_slack), sleeps, log_lines)

    assert (report.delivered, report.failed, report.not_configured) == (1, 0, 0)
    [request] = fake_slack.posted()
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.body["channel"] == CHANNEL
    assert "Promotion PROMO-17 lifts far less than predicted" in request.body["text"]
    blocks = json.dumps(request.body["blocks"])
    assert "Promotion PROMO-17 lifts far less than predicted" in blocks
    assert "*Actual lift*\\n3.5%" in blocks and "*Predicted lift*\\n12.0%" in blocks
    assert f"<{LINK}|Open the Airflow run>" in blocks
    row = _row(warehouse, alert_id)
    assert row["delivery_status"] == DELIVERED and row["attempts"] == 1
    assert row["delivered_at"] is not None and row["last_error"] is None
    assert sleeps == []

    # Delivered alerts are never posted again.
    again = _deliver(warehouse, _target(fake_slack), sleeps, log_lines)
    assert again.delivered == 0 and len(fake_slack.posted()) == 1


def test_alerts_are_posted_oldest_first(
    warehouse: Engine, fake_slack: FakeSlack, sleeps: list[float], log_lines: list[str]
) -> None:
    _record(warehouse, "LATE", minutes=10)
    _record(warehouse, "EARLY", minutes=0)

    _deliver(warehouse, _target(fake_slack), sleeps, log_lines)

    assert ["EARLY" in r.body["text"] for r in fake_slack.posted()] == [True, False]


def test_rate_limit_waits_for_retry_after_then_delivers(
    warehouse: Engine, fake_slack: FakeSlack, sleeps: list[float], log_lines: list[str]
) -> None:
    alert_id = _record(warehouse)
    fake_slack.script(Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "2"}))

    report = _deliver(warehouse, _target(fake_slack), sleeps, log_lines)

    assert report.delivered == 1 and report.failed == 0
    assert sleeps == [2.0]
    assert len(fake_slack.posted()) == 2
    row = _row(warehouse, alert_id)
    assert row["delivery_status"] == DELIVERED and row["attempts"] == 1


def test_retry_after_is_capped(
    warehouse: Engine, fake_slack: FakeSlack, sleeps: list[float], log_lines: list[str]
) -> None:
    _record(warehouse)
    fake_slack.script(Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "3600"}))

    assert _deliver(warehouse, _target(fake_slack), sleeps, log_lines).delivered == 1
    assert sleeps == [60.0]


def test_server_errors_back_off_then_fail_and_the_next_run_delivers(
    warehouse: Engine, fake_slack: FakeSlack, sleeps: list[float], log_lines: list[str]
) -> None:
    alert_id = _record(warehouse)
    fake_slack.default = Reply(500, "<html>Internal Server Error</html>")

    report = _deliver(warehouse, _target(fake_slack), sleeps, log_lines)

    assert (report.delivered, report.failed) == (0, 1)
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(fake_slack.posted()) == 4
    row = _row(warehouse, alert_id)
    assert row["delivery_status"] == FAILED and row["attempts"] == 1
    assert "HTTP 500" in row["last_error"] and "gave up after 4 attempts" in row["last_error"]
    assert "\n" not in row["last_error"]

    fake_slack.default = Reply()
    sleeps.clear()
    report = _deliver(warehouse, _target(fake_slack), sleeps, log_lines)

    assert report.delivered == 1 and sleeps == []
    row = _row(warehouse, alert_id)
    assert row["delivery_status"] == DELIVERED and row["attempts"] == 2


def test_a_slack_body_error_that_is_transient_is_retried(
    warehouse: Engine, fake_slack: FakeSlack, sleeps: list[float], log_lines: list[str]
) -> None:
    _record(warehouse)
    fake_slack.script(Reply(200, {"ok": False, "error": "internal_error"}))

    assert _deliver(warehouse, _target(fake_slack), sleeps, log_lines).delivered == 1
    assert sleeps == [1.0]


def test_invalid_auth_is_not_retried_and_stops_the_run(
    warehouse: Engine, fake_slack: FakeSlack, sleeps: list[float], log_lines: list[str]
) -> None:
    first = _record(warehouse, "PROMO-1", minutes=0)
    second = _record(warehouse, "PROMO-2", minutes=1)
    fake_slack.default = Reply(200, {"ok": False, "error": "invalid_auth"})

    report = _deliver(warehouse, _target(fake_slack), sleeps, log_lines)

    assert (report.delivered, report.failed, report.deferred) == (0, 1, 1)
    assert len(fake_slack.posted()) == 1 and sleeps == []
    failed = _row(warehouse, first)
    assert failed["delivery_status"] == FAILED and failed["attempts"] == 1
    assert "invalid_auth" in failed["last_error"]
    untouched = _row(warehouse, second)
    assert untouched["delivery_status"] == PENDING and untouched["attempts"] == 0
    assert "invalid_auth" in report.text() and "1 left for the next run" in report.text()
    assert TOKEN not in _everything_said(report, [failed, untouched], log_lines)


def test_a_message_specific_rejection_fails_that_alert_only(
    warehouse: Engine, fake_slack: FakeSlack, sleeps: list[float], log_lines: list[str]
) -> None:
    first = _record(warehouse, "PROMO-1", minutes=0)
    second = _record(warehouse, "PROMO-2", minutes=1)
    invalid = {
        "ok": False,
        "error": "invalid_blocks",
        "response_metadata": {"messages": ["[ERROR] must be more than 0 characters"]},
    }
    fake_slack.script(Reply(200, invalid))

    report = _deliver(warehouse, _target(fake_slack), sleeps, log_lines)

    assert (report.delivered, report.failed, report.deferred) == (1, 1, 0)
    assert "must be more than 0 characters" in _row(warehouse, first)["last_error"]
    assert _row(warehouse, second)["delivery_status"] == DELIVERED


def test_slack_down_fails_with_one_clear_line_and_keeps_the_alert(
    warehouse: Engine, dead_slack_url: str, sleeps: list[float], log_lines: list[str]
) -> None:
    first = _record(warehouse, "PROMO-1", minutes=0)
    second = _record(warehouse, "PROMO-2", minutes=1)
    target = SlackTarget(token=TOKEN, channel=CHANNEL, base_url=dead_slack_url)

    report = _deliver(warehouse, target, sleeps, log_lines)

    assert (report.delivered, report.failed, report.deferred) == (0, 1, 1)
    assert sleeps == [1.0, 2.0, 4.0]
    row = _row(warehouse, first)
    assert row["delivery_status"] == FAILED and row["attempts"] == 1
    error = row["last_error"]
    assert error.startswith(f"cannot reach Slack at {dead_slack_url} (")
    assert "refused" in error.lower() and "\n" not in error
    assert _row(warehouse, second)["delivery_status"] == PENDING
    assert TOKEN not in _everything_said(report, [row], log_lines)


def test_without_slack_alerts_are_logged_and_marked_not_configured(
    warehouse: Engine, fake_slack: FakeSlack, sleeps: list[float], log_lines: list[str]
) -> None:
    alert_id = _record(warehouse)

    report = _deliver(warehouse, None, sleeps, log_lines)

    assert (report.delivered, report.failed, report.not_configured) == (0, 0, 1)
    [line] = log_lines
    assert "[CRITICAL] lift_divergence PROMO-17" in line
    assert "Promotion PROMO-17 lifts far less than predicted" in line
    assert "Actual lift: 3.5%" in line and LINK in line
    row = _row(warehouse, alert_id)
    assert row["delivery_status"] == NOT_CONFIGURED and row["attempts"] == 0

    # Final by design: a channel configured later is not flooded with this history.
    later = _deliver(warehouse, _target(fake_slack), sleeps, log_lines)
    assert later.delivered == 0 and fake_slack.posted() == []


def test_a_rerun_task_and_repeated_deliveries_post_one_message(
    warehouse: Engine, fake_slack: FakeSlack, sleeps: list[float], log_lines: list[str]
) -> None:
    for _ in range(2):  # the monitor task, cleared and rerun in the Airflow UI
        record_alert(
            warehouse,
            kind="forecast_drop",
            entity_key="S001",
            severity="warning",
            title="Forecast for store S001 dropped 25%",
            details={"drop_pct": -25.0},
            state="dropped",
            run_id="scheduled__2026-03-02",
        )
        _deliver(warehouse, _target(fake_slack), sleeps, log_lines)

    assert len(fake_slack.posted()) == 1


def test_the_token_never_appears_even_when_slack_echoes_it(
    warehouse: Engine, fake_slack: FakeSlack, sleeps: list[float], log_lines: list[str]
) -> None:
    token = "plain-secret-value-42"  # not Slack-shaped, so only exact-token masking can hide it
    alert_id = _record(warehouse)
    fake_slack.script(Reply(503, {"ok": False, "error": f"upstream rejected {token}"}))
    fake_slack.default = Reply(200, {"ok": False, "error": f"invalid_auth for {token}"})
    target = _target(fake_slack, token=token)

    report = _deliver(warehouse, target, sleeps, log_lines)

    assert report.failed == 1
    said = _everything_said(report, [_row(warehouse, alert_id)], log_lines)
    assert token not in said and "***" in said
    assert token not in repr(target) and token not in str(target)


def test_base_url_without_trailing_slash_still_reaches_the_api(
    warehouse: Engine, fake_slack: FakeSlack, sleeps: list[float], log_lines: list[str]
) -> None:
    _record(warehouse)
    target = SlackTarget(token=TOKEN, channel=CHANNEL, base_url=fake_slack.base_url.rstrip("/"))

    assert _deliver(warehouse, target, sleeps, log_lines).delivered == 1
    assert fake_slack.posted()[0].body["channel"] == CHANNEL


def test_report_is_json_able_and_summarises_in_one_line() -> None:
    report = DeliveryReport(delivered=2, failed=1, errors=["drift all (0123abcd): HTTP 500"])
    assert json.loads(json.dumps(report.to_dict()))["delivered"] == 2
    assert report.text() == (
        "alerts: 2 delivered, 1 failed, 0 not configured (logged only); "
        "first error: drift all (0123abcd): HTTP 500"
    )


@pytest.mark.parametrize(
    ("token", "channel", "message"),
    [("", CHANNEL, "the Slack token is empty"), ("xoxb-1", " ", "the Slack channel is empty")],
)
def test_slack_target_rejects_empty_settings(token: str, channel: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SlackTarget(token=token, channel=channel)
