"""Forecasts in units and in revenue: each backtested, championed and written; a POS extract
with revenue and no units is ingested and forecast in revenue."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from feature_helpers import copy_warehouse
from forecast_helpers import SALES_TABLES, build_featured_template
from sqlalchemy import func, select

from liftline.forecast import score_forecasts, train_forecasts
from liftline.forecast.artifacts import load_champion
from liftline.warehouse import clean_table, dispose_engines, read_frame, table

SOURCES = ("stores", "products", "pos", "promotions", "events", "spend")


@pytest.fixture
def both(small_spec):
    return dataclasses.replace(small_spec, measures=("units", "revenue"))


def _forecast(engine, run_id: str) -> pd.DataFrame:
    tbl = table("ml_sales_forecast")
    return read_frame(engine, select(tbl).where(tbl.c.run_id == run_id))


def test_units_and_revenue_are_each_backtested_championed_and_written(featured, both, log):
    summary = train_forecasts(featured, "train-1", log=log, spec=both)
    assert set(summary["measures"]) == {"units", "revenue"}
    units, revenue = summary["measures"]["units"], summary["measures"]["revenue"]
    for found in (units, revenue):
        assert found["status"] == "trained" and len(found["origins"]) == 2
        wape = found["grains"]["store_day"]["wape"]
        assert set(wape) == {"seasonal_naive", "lightgbm"} and all(0 < w < 1 for w in wape.values())
    assert summary["version"] == units["version"] != revenue["version"]
    # Each measure is its own registry model, promoted on its own backtest.
    assert load_champion(featured, None)["measure"] == "units"
    saved = load_champion(featured, None, measure="revenue")
    assert saved["measure"] == "revenue" and saved["version"] == revenue["version"]

    result = score_forecasts(featured, "score-1", log=log, spec=both)
    rows = _forecast(featured, "score-1")
    assert set(rows["measure"]) == {"units", "revenue"}
    days = rows.loc[rows["grain"] == "store_day"]
    by_measure = {m: g.set_index(["series_key", "date"]).sort_index()
                  for m, g in days.groupby("measure")}
    assert by_measure["units"].index.equals(by_measure["revenue"].index)
    assert result["rows_by_measure"]["revenue"]["store_day"] == len(by_measure["revenue"])
    assert (by_measure["revenue"]["model_version"] == revenue["version"]).all()
    # Revenue is forecast in money: its level is the store's recent turnover, not its units.
    recent = _recent_daily_mean(featured)
    for measure, frame in by_measure.items():
        forecast = frame.groupby("series_key")["yhat"].mean()
        ratio = (forecast / recent[measure]).dropna()
        assert ratio.between(0.6, 1.6).all(), (measure, ratio.describe())
    revenue_rows = by_measure["revenue"]
    assert (revenue_rows["yhat_lower"] <= revenue_rows["yhat"]).all()
    assert (revenue_rows["yhat"] <= revenue_rows["yhat_upper"]).all()
    open_days = revenue_rows["closed_days"] == 0
    assert revenue_rows.loc[open_days, "expected_underage_cost"].isna().all()  # no stocking
    weeks = rows.loc[rows["grain"] == "store_category_week"]
    assert set(weeks["measure"]) == {"units", "revenue"}

    # Scoring again replaces each measure's rows, and only this run's.
    score_forecasts(featured, "score-1", log=log, spec=both)
    assert len(_forecast(featured, "score-1")) == len(rows)


def _recent_daily_mean(engine) -> pd.DataFrame:
    feat = table("feat_sales_store_daily")
    frame = read_frame(engine, select(feat.c.store_id, feat.c.date, feat.c.units,
                                      feat.c.revenue).where(feat.c.is_future.is_(False)))
    last = frame["date"].max()
    recent = frame.loc[pd.to_datetime(frame["date"]) > pd.to_datetime(last) - pd.Timedelta(
        days=28)]
    return recent.groupby("store_id")[["units", "revenue"]].mean()


@pytest.fixture(scope="session")
def revenue_only_template(forecast_world: Path, tmp_path_factory) -> Path:
    """The forecast world with the units column dropped from every POS file, ingested."""
    world = tmp_path_factory.mktemp("revenue_only") / "world"
    for source in SOURCES:
        shutil.copytree(forecast_world / source, world / source)
    for path in (world / "pos").iterdir():
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.drop(columns="units").to_csv(path, index=False)
    return build_featured_template(world, tmp_path_factory.mktemp("revenue_only_wh"), SOURCES,
                                   SALES_TABLES)


def test_a_revenue_only_pos_extract_is_ingested_and_forecast_in_revenue(
        revenue_only_template, both, tmp_path, monkeypatch, log):
    monkeypatch.setenv("LIFTLINE_HOME", str(tmp_path / "home"))
    engine = copy_warehouse(revenue_only_template, tmp_path / "warehouse.db")
    try:
        pos = clean_table("pos")
        with engine.connect() as conn:
            delivered = conn.execute(select(func.count(), func.count(pos.c.units),
                                            func.sum(pos.c.revenue))).one()
        assert delivered[0] > 0 and delivered[1] == 0 and delivered[2] > 0

        summary = train_forecasts(engine, "t", log=log, spec=both)
        assert summary["measure"] == "revenue" and set(summary["measures"]) == {"revenue"}
        skipped = re.search(r"sales forecast in units skipped for (\d+) of (\d+) stores .*: "
                            r"no units in their sales history", log.text())
        assert skipped and skipped[1] == skipped[2]
        result = score_forecasts(engine, "s", log=log, spec=both)
        rows = _forecast(engine, "s")
        assert set(rows["measure"]) == {"revenue"} and result["rows"]["store_day"] > 0
        days = rows.loc[rows["grain"] == "store_day"]
        assert days["series_key"].nunique() >= 9 and days["yhat"].gt(0).mean() > 0.7
        assert days["yhat_upper"].notna().all()
    finally:
        dispose_engines()
