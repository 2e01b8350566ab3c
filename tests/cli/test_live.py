"""The demo's live days: one line per day read back from the warehouse, and which days exist."""

from __future__ import annotations

from datetime import date

import pytest
from test_summary import alert_row, ingest_row, insert, model_row

from liftline.cli.live import LiveError, families_to_train, live_days, summarize_day
from liftline.registry import FAMILY_SPECS

DAY_RUNS = ["manual__ingest_day", "manual__train_day", "manual__monitor_day"]
EARLIER = "manual__history"
FACTS = {"scale": "small", "window": {"first": "2023-01-02", "last": "2024-12-31"},
         "world_last_day": "2026-01-06"}


def test_a_day_line_counts_only_that_days_runs(warehouse):
    ingest, train, monitor = DAY_RUNS
    insert(warehouse, "ops_ingest_log", [
        ingest_row("pos_day.csv", "loaded", ingest),
        ingest_row("spend_day.csv", "partial", ingest, rejected=3),
        ingest_row("erp_day.csv", "quarantined", ingest, rejected=0),  # unreadable: all 100 out
        ingest_row("pos_history.csv", "loaded", EARLIER),
    ])
    insert(warehouse, "ops_alerts", [
        alert_row("a1", "lift_divergence", "not_configured", monitor),
        alert_row("a2", "lift_divergence", "not_configured", monitor),
        alert_row("a3", "drift", "delivered", monitor),
        alert_row("b1", "data_quality", "not_configured", EARLIER),
    ])
    insert(warehouse, "ml_model_registry", [
        model_row("sales_forecast/DE-R1", "champion", train),
        model_row("sales_forecast/FR-R1", "champion", train),
        model_row("promo_lift", "champion", train),
        model_row("mmm/ALL/all", "challenger", train),
        model_row("satisfaction", "champion", EARLIER),
    ])
    day = summarize_day(warehouse, date(2025, 1, 6), 13, DAY_RUNS, 12.34,
                        trained=["sales_forecast", "promo_lift", "mmm"])
    line = day.line()
    assert line.startswith("2025-01-06 Mon   13 files (3 new)      197 rows loaded   103 "
                           "quarantined  ")
    assert "alerts: 1 drift, 2 lift_divergence  " in line
    assert "champions: promo_lift, sales_forecast (2)  " in line
    assert line.endswith("trained: sales_forecast, promo_lift, mmm  12.3 s")


def test_a_quiet_day_says_none(warehouse):
    line = summarize_day(warehouse, date(2025, 1, 1), 12, ["manual__nothing"], 3.0).line()
    assert "0 new" in line and "alerts: none  champions: none  3.0 s" in line
    assert "trained" not in line


def test_live_days_follow_the_history_and_stop_at_the_worlds_end():
    assert live_days(FACTS, 0) == []
    assert live_days(FACTS, 3) == [date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 3)]
    assert live_days(FACTS, 371)[-1] == date(2026, 1, 6)
    with pytest.raises(LiveError, match=r"ends on 2026-01-06: .* room for --days 371 at most"):
        live_days(FACTS, 372)


def test_training_follows_the_schedule_weekly_retrain_and_families_due(warehouse):
    # Every family trained on data to Thursday, 2025-01-02; promo_lift a week earlier.
    insert(warehouse, "ml_model_registry", [
        {**model_row(family, "champion", EARLIER),
         "data_end": date(2024, 12, 26) if family == "promo_lift" else date(2025, 1, 2)}
        for family in FAMILY_SPECS])
    assert families_to_train(warehouse, date(2025, 1, 3)) == ["promo_lift"]  # 8 days old
    assert families_to_train(warehouse, date(2025, 1, 5)) == list(FAMILY_SPECS)  # a Sunday
