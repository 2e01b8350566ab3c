"""Plan against actual: one plan_deviation alert per change of state, with its probable cause."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, delete, insert, select, update

from liftline.monitor import check_plan
from liftline.warehouse import create_schema, table, write_transaction

START = dt.date(2024, 6, 3)  # a Monday: the plan's first week
AS_OF = START + dt.timedelta(days=6)  # its Sunday
STORES = ("ST-1", "ST-2")
DAILY_REVENUE = 1000.0 / 7  # each store sells 1,000 a week, the plan's expectation


@pytest.fixture
def planned(engine: Engine) -> Engine:
    """A 13-week plan from START: 1,000 a week per store (900-1,100), TV 1,000 a week in DE,
    one promotion of SKU-1 in ST-1 in the first week; the week as it went, to plan."""
    create_schema(engine)
    now = dt.datetime(2024, 6, 1, 6, 0)
    with write_transaction(engine) as conn:
        conn.execute(insert(table("ml_plan_summary")), [{
            "plan_id": "P1", "run_id": "r", "start_date": START, "weeks": 13, "created_at": now}])
        conn.execute(insert(table("ml_plan_weekly")), [
            {"plan_id": "P1", "store_id": s, "week_start": START + dt.timedelta(weeks=w),
             "run_id": "r", "country": "DE", "revenue": 1000.0, "revenue_lower": 900.0,
             "revenue_upper": 1100.0} for s in STORES for w in range(13)])
        line = {"plan_id": "P1", "run_id": "r", "week_start": START, "country": None,
                "channel": None, "store_id": None, "sku": None}
        conn.execute(insert(table("ml_plan")), [
            {**line, "line": 0, "kind": "media", "country": "DE", "channel": "tv",
             "planned_value": 1000.0},
            {**line, "line": 1, "kind": "promotion", "store_id": "ST-1", "sku": "SKU-1",
             "planned_value": 20.0}])
        conn.execute(insert(table("feat_mmm_weekly")), [{
            "week_start": START, "country": "DE", "segment": "all", "channel": "tv",
            "spend": 1000.0, "campaigns": 1, "revenue_pos": 0.0, "revenue_erp": 0.0,
            "revenue": 0.0}])
        days = [START + dt.timedelta(days=i) for i in range(7)]
        flags = {"event_count": 0, "is_holiday": False, "is_closed": False}
        conn.execute(insert(table("feat_sales_store_daily")), [
            {"date": d, "store_id": s, "is_future": False, "revenue": DAILY_REVENUE,
             "promo_count": 0, "promo_sku_share": 0.0, "dow": d.weekday(), "month": d.month,
             "day_of_year": d.timetuple().tm_yday, **flags} for s in STORES for d in days])
        conn.execute(insert(table("feat_sales_daily")), [
            {"date": d, "store_id": "ST-1", "sku": "SKU-1", "promo_count": 1,
             "campaigns_active": 0, "media_spend": 0.0, "dow": d.weekday(), "month": d.month,
             **flags} for d in days[:3]])
    return engine


def _alerts(engine: Engine) -> list[dict]:
    alerts = table("ops_alerts")
    with engine.connect() as conn:
        rows = conn.execute(select(alerts.c.state, alerts.c.title, alerts.c.details_json)
                            .where(alerts.c.kind == "plan_deviation")
                            .order_by(alerts.c.created_at))
        return [dict(r._mapping) for r in rows]


def test_a_week_as_planned_raises_nothing(planned: Engine) -> None:
    found = check_plan(planned, "run-1", AS_OF, log=lambda _m: None)
    assert found["state"] == "ok" and found["alerts"] == 0
    assert found["latest_week"]["actual"] == pytest.approx(2000.0)
    assert _alerts(planned) == []


def test_sales_below_the_interval_with_the_plan_executed_blame_the_market(planned: Engine
                                                                         ) -> None:
    with write_transaction(planned) as conn:
        conn.execute(update(table("feat_sales_store_daily")).values(revenue=DAILY_REVENUE * 0.7))
    found = check_plan(planned, "run-1", AS_OF, log=lambda _m: None)
    assert found["state"] == "sales_below" and found["alerts"] == 1
    assert "executed and sales moved anyway" in found["probable_cause"]
    assert "below the plan's 1,800-2,200" in _alerts(planned)[0]["title"]
    # the same judgement again is no news
    assert check_plan(planned, "run-2", AS_OF, log=lambda _m: None)["alerts"] == 0
    assert len(_alerts(planned)) == 1


def test_spend_and_promotions_off_plan_name_the_levers(planned: Engine) -> None:
    with write_transaction(planned) as conn:
        conn.execute(update(table("feat_mmm_weekly")).values(spend=400.0))
        conn.execute(delete(table("feat_sales_daily")))
    found = check_plan(planned, "run-1", AS_OF, log=lambda _m: None)
    assert found["state"] == "off_plan" and found["alerts"] == 1
    assert found["media_off_plan"] == [{"country": "DE", "channel": "tv",
                                        "week_start": str(START), "planned": 1000.0,
                                        "actual": 400.0}]
    assert found["promotions_not_run"] == [f"SKU-1@ST-1 {START}"]
    assert found["probable_cause"] == ("execution departed from the plan: media spend -600 "
                                       "against the plan on tv; 1 of 1 planned promotions not run")


def test_spend_within_tolerance_is_on_plan(planned: Engine) -> None:
    with write_transaction(planned) as conn:
        conn.execute(update(table("feat_mmm_weekly")).values(spend=1150.0))
    assert check_plan(planned, "run-1", AS_OF, log=lambda _m: None)["state"] == "ok"


def test_no_plan_or_no_passed_week_is_skipped_with_the_reason(planned: Engine) -> None:
    early = check_plan(planned, "run-1", START + dt.timedelta(days=3), log=lambda _m: None)
    assert early["status"] == "skipped" and "no plan has a complete week" in early["reason"]
