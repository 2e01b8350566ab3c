"""An alert with a chart (the weekly summary) against the fake Slack: the message, then its chart
uploaded into the message's thread with files_upload_v2; a failure of either step leaves the
alert in the outbox, and the retry finishes it without posting the message twice."""

from __future__ import annotations

import json

import pytest
from fake_slack import (
    COMPLETE_UPLOAD,
    GET_UPLOAD_URL,
    OK,
    POST_MESSAGE,
    TOKEN,
    UPLOAD,
    FakeSlack,
    Reply,
)
from sqlalchemy import Engine, select

from liftline.alerts import DELIVERED, FAILED, SlackTarget, deliver_pending, record_alert
from liftline.warehouse import table

CHART = {"title": "Units sold per week", "y_label": "units", "x": ["W25", "W26"],
         "series": [{"name": "actual", "values": [1120.0, 1400.0]},
                    {"name": "forecast made before the day", "values": [None, 1330.0]}]}
SERVER_ERROR = Reply(500, {"ok": False, "error": "internal_error"})


def _record(engine: Engine, key: str = "week/2024-W26", chart: dict | None = CHART) -> str:
    details = {"revenue": 14000.0, "units_vs_forecast_change_pct": 5.26}
    alert_id = record_alert(engine, kind="weekly_summary", entity_key=key, severity="info",
                            title=f"Weekly summary {key}",
                            details=details | ({"chart": chart} if chart else {}),
                            state="summarised", run_id="scheduled__2024-07-01")
    assert alert_id is not None
    return alert_id


def _row(engine: Engine, alert_id: str) -> dict:
    alerts = table("ops_alerts")
    with engine.connect() as conn:
        row = conn.execute(select(alerts).where(alerts.c.alert_id == alert_id)).one()
    return dict(row._mapping)


def _deliver(engine: Engine, fake: FakeSlack, log: list[str] | None = None):
    target = SlackTarget(token=TOKEN, channel="#marketing-alerts", base_url=fake.base_url)
    return deliver_pending(engine, target, log=(log if log is not None else []).append,
                           sleep=lambda _: None, max_attempts_per_run=2)


def _counts(fake: FakeSlack) -> tuple[int, int, int, int]:
    return tuple(len(fake.calls(m)) for m in (POST_MESSAGE, GET_UPLOAD_URL, UPLOAD,
                                               COMPLETE_UPLOAD))


def test_the_message_is_posted_then_its_chart_uploaded_into_its_thread(
    warehouse: Engine, fake_slack: FakeSlack
) -> None:
    alert_id = _record(warehouse)

    report = _deliver(warehouse, fake_slack)

    assert (report.delivered, report.failed) == (1, 0)
    assert _counts(fake_slack) == (1, 1, 1, 1)
    [asked] = fake_slack.calls(GET_UPLOAD_URL)
    [uploaded] = fake_slack.calls(UPLOAD)
    [completed] = fake_slack.calls(COMPLETE_UPLOAD)
    assert uploaded.raw.startswith(b"\x89PNG") and int(asked.body["length"]) == len(uploaded.raw)
    assert asked.body["filename"] == "weekly_summary-week-2024-W26.png"
    # Into the thread of the message just posted, in the channel Slack answered with.
    assert completed.body["channel_id"] == OK["channel"]
    assert completed.body["thread_ts"] == OK["ts"]
    assert json.loads(completed.body["files"])[0]["title"] == "Units sold per week"
    row = _row(warehouse, alert_id)
    assert row["delivery_status"] == DELIVERED
    assert json.loads(row["details_json"])["slack"] == {
        "channel": OK["channel"], "ts": OK["ts"], "file_id": "F0001"}

    # Delivered: nothing is posted or uploaded again.
    assert _deliver(warehouse, fake_slack).delivered == 0
    assert _counts(fake_slack) == (1, 1, 1, 1)


def test_a_failed_post_leaves_it_pending_and_the_retry_posts_once(
    warehouse: Engine, fake_slack: FakeSlack
) -> None:
    alert_id = _record(warehouse)
    fake_slack.script(SERVER_ERROR, SERVER_ERROR)  # both attempts of this run

    first = _deliver(warehouse, fake_slack)

    assert (first.delivered, first.failed) == (0, 1)
    assert _counts(fake_slack) == (2, 0, 0, 0)  # no chart without its message
    assert _row(warehouse, alert_id)["delivery_status"] == FAILED

    second = _deliver(warehouse, fake_slack)

    assert second.delivered == 1
    assert _counts(fake_slack) == (3, 1, 1, 1)
    assert _row(warehouse, alert_id)["delivery_status"] == DELIVERED


@pytest.mark.parametrize("step", [GET_UPLOAD_URL, UPLOAD, COMPLETE_UPLOAD])
def test_a_failed_upload_step_is_retried_without_posting_the_message_again(
    warehouse: Engine, fake_slack: FakeSlack, step: str
) -> None:
    alert_id = _record(warehouse)
    fake_slack.script(SERVER_ERROR, SERVER_ERROR, method=step)
    log: list[str] = []

    first = _deliver(warehouse, fake_slack, log)

    assert (first.delivered, first.failed) == (0, 1)
    assert len(fake_slack.posted()) == 1
    row = _row(warehouse, alert_id)
    assert row["delivery_status"] == FAILED and "uploading the chart" in row["last_error"]
    assert "500" in row["last_error"]
    assert json.loads(row["details_json"])["slack"] == {"channel": OK["channel"], "ts": OK["ts"]}

    second = _deliver(warehouse, fake_slack, log)

    assert second.delivered == 1
    assert len(fake_slack.posted()) == 1  # the message went once
    [*_, completed] = fake_slack.calls(COMPLETE_UPLOAD)
    assert completed.body["thread_ts"] == OK["ts"]
    assert _row(warehouse, alert_id)["delivery_status"] == DELIVERED


def test_a_refused_upload_fails_that_alert_only(warehouse: Engine, fake_slack: FakeSlack) -> None:
    refused = _record(warehouse, "week/2024-W25")
    plain = record_alert(warehouse, kind="drift", entity_key="sales_forecast/R1",
                         severity="warning", title="Inputs drifted", details={"psi": 0.4},
                         state="drifting")
    fake_slack.script(Reply(200, {"ok": False, "error": "missing_scope"}), method=GET_UPLOAD_URL)

    report = _deliver(warehouse, fake_slack)

    assert (report.delivered, report.failed, report.deferred) == (1, 1, 0)
    assert "files:write" in _row(warehouse, refused)["last_error"]
    assert _row(warehouse, plain)["delivery_status"] == DELIVERED


def test_an_alert_without_a_chart_uploads_nothing(warehouse: Engine,
                                                  fake_slack: FakeSlack) -> None:
    _record(warehouse, chart=None)
    assert _deliver(warehouse, fake_slack).delivered == 1
    assert _counts(fake_slack) == (1, 0, 0, 0)


def test_no_request_carries_the_token_but_in_its_auth_header(
    warehouse: Engine, fake_slack: FakeSlack
) -> None:
    alert_id = _record(warehouse)
    fake_slack.script(SERVER_ERROR, SERVER_ERROR, method=UPLOAD)
    log: list[str] = []
    _deliver(warehouse, fake_slack, log)
    _deliver(warehouse, fake_slack, log)

    for request in fake_slack.requests:
        assert TOKEN not in json.dumps(request.body) and TOKEN.encode() not in request.raw
    # The signed upload URL gets the bytes only, never the bot token.
    assert all("Authorization" not in r.headers for r in fake_slack.calls(UPLOAD))
    row = _row(warehouse, alert_id)
    assert TOKEN not in json.dumps({k: str(v) for k, v in row.items()}) + "\n".join(log)
