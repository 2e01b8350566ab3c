"""The weekly summary: which week, recorded once per week, and numbers that match the report's
world (tests/report/report_world.py, whose numbers are chosen to be checked exactly)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from liftline.alerts import SlackTarget, deliver_pending
from liftline.monitor import record_weekly_summary, summary_week, week_key
from liftline.warehouse import table

# The report tests' world: every table the report (and so the summary) reads, as of a Sunday.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "alerts"))
from fake_slack import TOKEN, UPLOAD, FakeSlack  # noqa: E402
from report_world import AS_OF, NOW, fill  # noqa: E402

MONDAY = AS_OF - dt.timedelta(days=6)


@pytest.mark.parametrize(("day", "week"), [
    (dt.date(2024, 6, 30), (dt.date(2024, 6, 24), "week/2024-W26")),  # a Sunday: its own week
    (dt.date(2024, 7, 1), (dt.date(2024, 6, 24), "week/2024-W26")),  # Monday: the week before
    (dt.date(2024, 7, 6), (dt.date(2024, 6, 24), "week/2024-W26")),  # Saturday: still
    (dt.date(2024, 12, 30), (dt.date(2024, 12, 23), "week/2024-W52")),
    (dt.date(2025, 1, 5), (dt.date(2024, 12, 30), "week/2025-W01")),  # ISO year, not calendar
])
def test_the_summary_is_of_the_last_complete_iso_week(day: dt.date, week: tuple) -> None:
    monday, sunday = summary_week(day)
    assert (monday, week_key(monday)) == week
    assert sunday - monday == dt.timedelta(days=6) and sunday <= day


def _summaries(engine: Engine) -> list[dict]:
    alerts = table("ops_alerts")
    query = (select(alerts).where(alerts.c.kind == "weekly_summary")
             .order_by(alerts.c.entity_key.desc()))
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def test_recorded_once_per_week_with_the_reports_numbers(warehouse: Engine) -> None:
    fill(warehouse)
    log: list[str] = []

    first = record_weekly_summary(warehouse, "run-mon", AS_OF, log=log.append, now=NOW)
    again = record_weekly_summary(warehouse, "run-tue", AS_OF, log=log.append,
                                  now=NOW + dt.timedelta(days=1))
    earlier = record_weekly_summary(warehouse, "replay", AS_OF - dt.timedelta(days=7),
                                    log=log.append, now=NOW)

    assert (first["week"], first["alerts"], again["alerts"]) == ("week/2024-W26", 1, 0)
    assert earlier["week"] == "week/2024-W25" and earlier["alerts"] == 1
    rows = _summaries(warehouse)
    assert [r["entity_key"] for r in rows] == ["week/2024-W26", "week/2024-W25"]
    assert rows[0]["run_id"] == "run-mon" and rows[0]["title"].startswith(
        "Weekly summary 2024-W26 (24 Jun – 30 Jun 2024)")
    details = json.loads(rows[0]["details_json"])
    # 2 stores x 7 days x 100 units at 10 each; the same week a year before sold half.
    assert details["revenue"] == 14000 and details["units"] == 1400
    assert details["revenue_vs_last_year_change_pct"] == 100.0
    # The earlier scoring run forecast 95 units per store-day for the whole week.
    assert details["units_vs_forecast_change_pct"] == pytest.approx((1400 / 1330 - 1) * 100,
                                                                    abs=0.01)
    assert details["high_service_risk"] == 2
    assert (details["promotions_run"], details["promotions_diverged"]) == (0, 0)
    assert "mix_model" not in details  # a challenger's figures are not a headline
    assert details["alerts_last_7_days"] == "1 data quality, 1 lift divergence, 1 drift"
    assert details["action"].startswith("1. Run 1 recommended offer")
    chart = details["chart"]
    assert chart["x"][-1] == "W26" and len(chart["x"]) == 8
    assert chart["series"][0]["values"][-2:] == [1120.0, 1400.0]
    # W25 was forecast for only 3 of its 7 days: too few to compare.
    assert chart["series"][1]["values"][-2:] == [None, 1330.0]


def test_a_promotion_of_the_week_is_counted_and_its_divergence_too(warehouse: Engine) -> None:
    fill(warehouse)
    # PR-2 ran 10-16 June and diverged by -25 points: the week of 10 June.
    record_weekly_summary(warehouse, "replay", dt.date(2024, 6, 16), now=NOW)
    [row] = _summaries(warehouse)
    details = json.loads(row["details_json"])
    assert (details["promotions_run"], details["promotions_diverged"]) == (1, 1)


def test_nothing_to_summarise_without_sales_features(warehouse: Engine) -> None:
    summary = record_weekly_summary(warehouse, "run-1", log=lambda _: None)
    assert summary["status"] == "skipped" and _summaries(warehouse) == []


def test_the_recorded_summary_goes_to_slack_with_its_chart(warehouse: Engine) -> None:
    fill(warehouse)
    record_weekly_summary(warehouse, "run-mon", AS_OF, log=lambda _: None, now=NOW)
    fake = FakeSlack().start()
    try:
        target = SlackTarget(token=TOKEN, channel="#marketing-alerts", base_url=fake.base_url)
        report = deliver_pending(warehouse, target, log=lambda _: None, sleep=lambda _: None)
        [message] = [r for r in fake.posted() if "weekly_summary" in r.body["text"]]
        [chart] = fake.calls(UPLOAD)
    finally:
        fake.stop()
    assert report.failed == 0
    assert "Units vs forecast*\\n+5.3%" in json.dumps(message.body["blocks"])
    assert chart.raw.startswith(b"\x89PNG")


def test_without_earlier_forecasts_the_chart_says_so_and_draws_the_actuals(
    warehouse: Engine,
) -> None:
    fill(warehouse)
    forecasts = table("ml_sales_forecast")
    with warehouse.begin() as conn:
        conn.execute(forecasts.delete().where(forecasts.c.run_id == "score-1"))

    record_weekly_summary(warehouse, "run-mon", AS_OF, log=lambda _: None, now=NOW)

    details = json.loads(_summaries(warehouse)[0]["details_json"])
    assert "units_vs_forecast_change_pct" not in details
    assert [s["name"] for s in details["chart"]["series"]] == ["actual"]
    assert "no forecast made before these weeks yet" in details["chart"]["title"]


def test_promotions_measured_without_a_divergence_yet_are_counted(warehouse: Engine) -> None:
    fill(warehouse)
    lift = table("ml_promo_lift")
    with warehouse.begin() as conn:  # measured, not judged yet: no divergence anywhere
        conn.execute(lift.update().values(divergence_pp=None, alert_state=None))

    record_weekly_summary(warehouse, "replay", dt.date(2024, 6, 16), now=NOW)

    details = json.loads(_summaries(warehouse)[0]["details_json"])
    assert (details["promotions_run"], details["promotions_diverged"]) == (1, 0)
