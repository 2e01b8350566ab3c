"""train_forecasts and score_forecasts on an ingested world: tables, idempotence, robustness."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from feature_helpers import build_tables
from forecast_helpers import SALES_TABLES
from sqlalchemy import delete, func, select

from liftline.forecast import score_forecasts, train_forecasts, training_regions
from liftline.forecast.artifacts import load_champion
from liftline.warehouse import clean_table, create_schema, read_frame, table, write_transaction


def _forecast(engine, run_id: str) -> pd.DataFrame:
    tbl = table("ml_sales_forecast")
    frame = read_frame(engine, select(tbl).where(tbl.c.run_id == run_id))
    return frame.sort_values(["grain", "series_key", "date"]).reset_index(drop=True)


def test_train_then_score_writes_both_grains(featured, small_spec, log):
    summary = train_forecasts(featured, "train-1", log=log, spec=small_spec)
    assert summary["status"] == "trained" and len(summary["origins"]) == 2
    assert set(summary["grains"]["store_day"]["wape"]) == {"seasonal_naive", "lightgbm"}
    saved = load_champion(featured, None)  # in the registry: any worker can score with it
    assert saved["run_id"] == "train-1" and summary["champion_changed"]
    assert summary["version"] == saved["version"]
    champion = saved["grains"]["store_day"]["champion"]
    assert champion == summary["grains"]["store_day"]["champion"]
    assert "backtest origin 2/2" in log.text() and "champion" in log.text()

    result = score_forecasts(featured, "score-1", log=log, spec=small_spec)
    rows = _forecast(featured, "score-1")
    days = rows.loc[rows["grain"] == "store_day"]
    as_of = days["as_of_date"].iloc[0]
    assert result["rows"]["store_day"] == len(days) == _trading_stores(featured) * 56
    assert days.groupby("series_key")["date"].agg(["min", "max", "size"]).eq(
        [as_of + timedelta(days=1), as_of + timedelta(days=56), 56]).all().all()
    assert (days["series_key"] == days["store_id"]).all()
    young = days["is_young_series"].astype(bool)
    assert (days.loc[~young, "model_name"] == champion).all()
    assert (days.loc[young, "model_name"] == "lightgbm").all()  # the world has a new store
    assert (days["model_version"] == saved["version"]).all()
    for grain, frame in rows.groupby("grain"):
        assert (frame["yhat_lower"] <= frame["yhat"]).all(), grain
        assert (frame["yhat"] <= frame["yhat_upper"]).all(), grain
        assert frame["plan_qty"].notna().all() and (frame["plan_qty"] >= 0).all(), grain
    closed = days["closed_days"] == 1
    assert closed.any()  # DE stores do not trade on Sundays
    assert (days.loc[closed, ["yhat", "yhat_lower", "yhat_upper", "plan_qty"]] == 0).all().all()
    assert (days.loc[~closed, "yhat"] > 0).all()

    weeks = rows.loc[rows["grain"] == "store_category_week"]
    assert weeks["series_key"].str.fullmatch(r"ST-\d{4}\|\w+").all()
    assert (pd.to_datetime(weeks["date"]).dt.day_of_week == 0).all()  # Monday of the week
    assert weeks.groupby("store_id")["period_days"].sum().div(
        weeks.groupby("store_id")["category"].nunique()).eq(56).all()
    # Top-down: a store's categories add up to the store's days of the same weeks.
    day = pd.to_datetime(days["date"]).astype("datetime64[ns]")
    days_week = day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    store_weeks = days.groupby([days["store_id"], days_week])["yhat"].sum()
    category_weeks = weeks.groupby(
        [weeks["store_id"], pd.to_datetime(weeks["date"]).astype("datetime64[ns]")])[
        "yhat"].sum()
    pd.testing.assert_series_equal(category_weeks.sort_index(), store_weeks.sort_index(),
                                   check_names=False, rtol=1e-6)


def test_training_per_region_serves_each_store_from_its_region(featured, small_spec, log):
    regions = training_regions(featured)
    assert len(regions) >= 2 and "" not in regions
    for region in regions[:2]:
        summary = train_forecasts(featured, "train-r", region=region, log=log, spec=small_spec)
        assert summary["region"] == region and summary["status"] == "trained"
    result = score_forecasts(featured, "score-r", log=log, spec=small_spec)
    assert set(result["champions"]) >= {regions[0], regions[1]}
    assert "untrained" in result["champions"]  # the other regions: baseline, logged
    assert "no sales forecast training found" in log.text()


def test_scoring_twice_leaves_what_one_run_leaves(featured, small_spec, log):
    train_forecasts(featured, "train-1", log=log, spec=small_spec)
    score_forecasts(featured, "other-run", log=log, spec=small_spec)
    other = _forecast(featured, "other-run")
    score_forecasts(featured, "score-1", log=log, spec=small_spec)
    once = _forecast(featured, "score-1").drop(columns="created_at")
    alerts = _count(featured, table("ops_alerts"))
    score_forecasts(featured, "score-1", log=log, spec=small_spec)
    twice = _forecast(featured, "score-1").drop(columns="created_at")
    pd.testing.assert_frame_equal(twice, once)
    assert _count(featured, table("ops_alerts")) == alerts
    pd.testing.assert_frame_equal(_forecast(featured, "other-run"), other)
    assert _count(featured, table("ml_sales_forecast")) == len(once) + len(other)


def test_a_store_with_thirty_days_of_history_gets_a_global_forecast(featured, small_spec, log):
    young = "ST-0010"
    pos = clean_table("pos")
    with write_transaction(featured) as conn:
        last = conn.execute(select(func.max(pos.c.date))).scalar()
        conn.execute(delete(pos).where(pos.c.store_id == young,
                                       pos.c.date <= last - timedelta(days=30)))
    build_tables(featured, SALES_TABLES, full_refresh=True)
    train_forecasts(featured, "train-1", log=log, spec=small_spec)
    score_forecasts(featured, "score-1", log=log, spec=small_spec)
    assert f"{young}: only 30 days of history (< 60): forecast by the global lightgbm" \
        in log.text()
    rows = _forecast(featured, "score-1")
    mine = rows.loc[(rows["grain"] == "store_day") & (rows["series_key"] == young)]
    assert len(mine) == 56
    assert mine["is_young_series"].all() and (mine["model_name"] == "lightgbm").all()
    assert mine["yhat"].gt(0).sum() >= 40 and mine["yhat_upper"].notna().all()


def test_missing_inputs_are_skipped_with_a_reason(engine, log):
    create_schema(engine)
    assert training_regions(engine) == [""]  # one task, which logs why it skips
    assert train_forecasts(engine, "t", log=log)["status"] == "skipped"
    assert score_forecasts(engine, "s", log=log)["status"] == "skipped"
    assert "feat_sales_store_daily has no sales" in log.text()


def test_a_world_without_promotions_events_or_spend_still_forecasts(featured, small_spec, log):
    with write_transaction(featured) as conn:
        for source in ("promotions", "events", "spend", "products"):
            conn.execute(delete(clean_table(source)))
    build_tables(featured, SALES_TABLES, full_refresh=True)
    assert train_forecasts(featured, "t", log=log, spec=small_spec)["status"] == "trained"
    result = score_forecasts(featured, "s", log=log, spec=small_spec)
    assert result["rows"]["store_day"] == _trading_stores(featured) * 56
    text = log.text()
    assert "no ad spend delivered" in text and "no promotions delivered" in text
    assert "no holiday or event names" in text
    rows = _forecast(featured, "s")
    assert rows["critical_ratio"].eq(0.5).all()  # no prices: plan at the median


def _trading_stores(engine) -> int:
    feat = table("feat_sales_store_daily")
    with engine.connect() as conn:
        return conn.execute(select(func.count(func.distinct(feat.c.store_id)))
                            .where(feat.c.units > 0)).scalar()


def _count(engine, tbl) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(tbl)).scalar()


def test_rerunning_a_past_date_reproduces_its_rows_after_a_newer_champion(featured,
                                                                            small_spec, log):
    from liftline.features import features_as_of
    from liftline.registry import champion, rollback

    last = features_as_of(featured)
    past = last - timedelta(days=7)
    first = train_forecasts(featured, "train-past", log=log, spec=small_spec, as_of=past)
    score_forecasts(featured, "score-past", log=log, spec=small_spec, as_of=past)
    original = _forecast(featured, "score-past").drop(columns=["created_at", "run_id"])
    # A week later a newer version is trained; force it to be champion to make the point.
    newer = train_forecasts(featured, "train-now", log=log, spec=small_spec)
    if champion(featured, "sales_forecast/all").version != newer["version"]:
        rollback(featured, "sales_forecast/all", to=newer["version"])
    assert champion(featured, "sales_forecast/all").version == newer["version"]

    score_forecasts(featured, "score-past-again", log=log, spec=small_spec, as_of=past)
    again = _forecast(featured, "score-past-again").drop(columns=["created_at", "run_id"])
    pd.testing.assert_frame_equal(again, original)
    assert (again["model_version"] == first["version"]).all()
