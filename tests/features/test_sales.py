"""Sales and promotion features: point in time, hand-checkable values, idempotent, incremental.

The leakage property: a row's features, rebuilt from a warehouse that holds only what was known
before the row's day (later facts deleted, the day's own sales scrambled, promotions planned
more than 28 days later removed), are exactly the features of the full build.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from feature_helpers import (
    WORLD_DAYS,
    assert_same_tables,
    build_tables,
    built_copy,
    copy_warehouse,
    day,
    deliver_world,
    feature_frame,
    feature_frames,
    ingest_all,
)
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update

from liftline.features.sales import PROMO_LOOKAHEAD_DAYS, SAME_DAY_OBSERVATIONS
from liftline.warehouse import clean_table, dispose_engines, read_frame

SALES_TABLES = ["feat_calendar", "feat_sales_daily", "feat_sales_store_daily",
                "feat_promo_effectiveness"]
LAST_DAY = day(WORLD_DAYS - 1)


def build_sales(engine, run_id: str = "r1", **kwargs) -> dict[str, str]:
    outcomes = build_tables(engine, SALES_TABLES, run_id, **kwargs)
    return {name: outcome.mode for name, outcome in outcomes.items()}


@pytest.fixture(scope="module")
def built_template(ingested_template: Path, tmp_path_factory) -> Path:
    """The ingested world with the sales tables built once (copied, never used directly)."""
    return built_copy(ingested_template, tmp_path_factory.mktemp("built"), build_sales)


@pytest.fixture(scope="module")
def full(built_template: Path) -> dict[str, pd.DataFrame]:
    return feature_frames(built_template, SALES_TABLES)


def copy_of(path: Path, tmp_path: Path, name: str = "copy.db"):
    return copy_warehouse(path, tmp_path / name)


# --- values ---------------------------------------------------------------------------------


def test_sku_lags_and_means_match_pandas_over_the_clean_rows(ingested, full):
    pos = read_frame(ingested, clean_table("pos"))
    feats = full["feat_sales_daily"]
    assert len(feats) == len(pos)  # one feature row per POS row
    cell = pos.loc[(pos.store_id == pos.store_id.iloc[0]) & (pos.sku == pos.sku.iloc[0])]
    dense = cell.set_index("date")["units"].asfreq("D", fill_value=0.0)
    expected = pd.DataFrame({
        "units_lag_7": dense.shift(7), "units_mean_28": dense.shift(1).rolling(28).mean(),
    })
    got = feats.loc[(feats.store_id == cell.store_id.iloc[0]) & (feats.sku == cell.sku.iloc[0])]
    got = got.set_index("date")[["units_lag_7", "units_mean_28"]]
    pd.testing.assert_frame_equal(got, expected.loc[got.index], check_freq=False,
                                  check_names=False)


def test_promotion_coverage_follows_the_contract(ingested, full):
    promos = read_frame(ingested, clean_table("promotions"))
    products = read_frame(ingested, clean_table("products"))
    stores = read_frame(ingested, clean_table("stores"))
    feats = full["feat_sales_daily"]
    cells = feats[["store_id", "sku"]].drop_duplicates()
    cells = cells.merge(products[["sku", "category"]], on="sku").merge(
        stores[["store_id", "region"]], on="store_id")
    counts = np.zeros(len(feats), dtype=int)
    for promo in promos.itertuples():
        covers_sku = (feats.sku == promo.sku) if pd.notna(promo.sku) else (
            feats.category == promo.category if pd.notna(promo.category) else True)
        covers_store = (feats.store_id == promo.store_id) if pd.notna(promo.store_id) else (
            feats.region == promo.region if pd.notna(promo.region) else True)
        active = feats.date.between(promo.start_date, promo.end_date)
        counts += (covers_sku & covers_store & active).to_numpy(dtype=bool)
    assert (feats.promo_count.to_numpy() == counts).all()
    assert counts.sum() > 100  # the world has promotions to check


def test_store_roll_up_is_dense_and_sums_the_skus(full):
    stores = full["feat_sales_store_daily"]
    skus = full["feat_sales_daily"]
    past = stores.loc[~stores.is_future.astype(bool)]
    by_day = skus.groupby(["store_id", "date"]).units.sum()
    joined = past.set_index(["store_id", "date"]).units
    assert (joined.reindex(by_day.index) == by_day).all()
    # Days without any sale are explicit zeros, and every store has all its days.
    assert (joined.drop(by_day.index) == 0).all()
    per_store = stores.groupby("store_id").date.agg(["min", "max", "count"])
    assert ((per_store["max"] - per_store["min"]).dt.days + 1 == per_store["count"]).all()
    future = stores.loc[stores.is_future.astype(bool)]
    assert future.date.min() == pd.Timestamp(LAST_DAY + timedelta(days=1))
    assert future.units.isna().all() and future.units_lag_7.notna().any()


def test_closed_days_are_flagged_and_sell_nothing(full):
    stores = full["feat_sales_store_daily"]
    closed = stores.loc[stores.is_closed.astype(bool) & ~stores.is_future.astype(bool)]
    assert len(closed) > 0
    assert (closed.units == 0).mean() > 0.9


def test_promotion_baseline_uses_only_the_pre_period(full, ingested):
    effect = full["feat_promo_effectiveness"]
    done = effect.loc[(effect.status == "completed") & (effect.baseline_days == 28)].iloc[0]
    pos = read_frame(ingested, clean_table("pos"))
    promo = read_frame(ingested, clean_table("promotions")).set_index("promo_id").loc[
        done.promo_id]
    products = read_frame(ingested, clean_table("products"))
    covered = [promo.sku] if pd.notna(promo.sku) else products.loc[
        products.category == promo.category, "sku"].tolist()
    pre = pos.loc[(pos.store_id == done.store_id) & pos.sku.isin(covered) & pos.date.between(
        promo.start_date - timedelta(days=28), promo.start_date - timedelta(days=1))]
    assert done.baseline_units_per_day == pytest.approx(pre.units.sum() / 28)


# --- point in time ------------------------------------------------------------------------


def truncate_to_known_at(engine, cut) -> None:
    """Delete facts dated after `cut`; scramble the day's own sales; drop far-off plans."""
    with engine.begin() as conn:
        for source, column in (("pos", "date"), ("inventory", "date"), ("spend", "date"),
                               ("events", "date"), ("macro", "date")):
            tbl = clean_table(source)
            conn.execute(delete(tbl).where(tbl.c[column] > cut))
        promos = clean_table("promotions")
        conn.execute(delete(promos).where(
            promos.c.start_date > cut + timedelta(days=PROMO_LOOKAHEAD_DAYS)))
        pos = clean_table("pos")
        conn.execute(update(pos).where(pos.c.date == cut).values(
            units=pos.c.units * 3 + 1, revenue=pos.c.revenue * 2 + 5))


def known_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in SAME_DAY_OBSERVATIONS]


# No shrinking: each example is a rebuild, and any failing day is as telling as the smallest.
@settings(max_examples=6, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.integers(min_value=20, max_value=WORLD_DAYS - 2), pick=st.integers(0, 10_000))
@example(offset=98, pick=557)  # a day with no POS rows in the world: failed CI once
def test_no_feature_uses_what_was_not_known_before_its_day(
    offset, pick, built_template, full, tmp_path_factory
):
    cut = day(offset)
    engine = copy_of(built_template, tmp_path_factory.mktemp("cut"))
    truncate_to_known_at(engine, cut)
    build_sales(engine, as_of=cut, full_refresh=True)

    # Pick a store, not a POS row: the store table has every store-day, while a day may have
    # no POS rows at all (a delivery gap in the world), and that must be point-in-time too.
    stores = full["feat_sales_store_daily"]
    on_day = stores.loc[stores.date == pd.Timestamp(cut)]
    store_id = on_day.store_id.iloc[pick % len(on_day)]

    skus = full["feat_sales_daily"]
    expected = skus.loc[(skus.date == pd.Timestamp(cut)) & (skus.store_id == store_id)]
    rebuilt = feature_frame(engine, "feat_sales_daily")
    again = rebuilt.loc[(rebuilt.date == pd.Timestamp(cut)) & (rebuilt.store_id == store_id)]
    columns = known_columns(skus)
    pd.testing.assert_frame_equal(
        again[columns].sort_values("sku").reset_index(drop=True).infer_objects(),
        expected[columns].sort_values("sku").reset_index(drop=True).infer_objects(),
        check_dtype=False)

    store_row = on_day.loc[on_day.store_id == store_id]
    rebuilt_stores = feature_frame(engine, "feat_sales_store_daily")
    store_again = rebuilt_stores.loc[(rebuilt_stores.date == pd.Timestamp(cut))
                                     & (rebuilt_stores.store_id == store_id)]
    columns = known_columns(stores)
    pd.testing.assert_frame_equal(store_again[columns].reset_index(drop=True),
                                  store_row[columns].reset_index(drop=True), check_dtype=False)
    dispose_engines()


def test_promotion_history_is_what_was_known_at_its_start(built_template, full, tmp_path):
    effect = full["feat_promo_effectiveness"]
    started = effect.loc[(effect.past_promos_category > 0)
                         & (effect.start_date <= pd.Timestamp(LAST_DAY))]
    later = started.sort_values("start_date").iloc[-1]
    cut = later.start_date.date()  # known when it starts: everything before its first day
    engine = copy_of(built_template, tmp_path)
    truncate_to_known_at(engine, cut)
    build_sales(engine, as_of=cut, full_refresh=True)
    rebuilt = feature_frame(engine, "feat_promo_effectiveness").set_index(["promo_id",
                                                                          "store_id"])
    columns = ["past_promos_category", "past_lift_mean_category", "past_lift_last_category",
               "days_since_category_promo", "baseline_days", "baseline_units_per_day",
               "concurrent_promos", "n_skus"]
    expected = later[columns]
    got = rebuilt.loc[(later.promo_id, later.store_id), columns]
    pd.testing.assert_series_equal(got, expected, check_names=False, check_dtype=False)


# --- idempotent and incremental ------------------------------------------------------------


def test_rebuilding_changes_nothing(built_template, full, tmp_path):
    engine = copy_of(built_template, tmp_path)
    assert set(build_sales(engine, run_id="r2").values()) == {"unchanged"}
    for name in SALES_TABLES:
        pd.testing.assert_frame_equal(feature_frame(engine, name), full[name], obj=name)
    build_sales(engine, run_id="r3", full_refresh=True)
    for name in SALES_TABLES:
        pd.testing.assert_frame_equal(feature_frame(engine, name), full[name], obj=name)


def test_incremental_build_after_one_more_day_equals_a_full_rebuild(
    built_template, next_day, tmp_path
):
    incremental = copy_of(built_template, tmp_path, "incremental.db")
    deliver_world(next_day, tmp_path / "home")
    ingest_all(tmp_path / "home", incremental)
    modes = build_sales(incremental, run_id="r2")
    assert modes["feat_sales_daily"] == "incremental", modes
    rebuilt = copy_of(tmp_path / "incremental.db", tmp_path, "full.db")
    build_sales(rebuilt, run_id="r3", full_refresh=True)
    assert_same_tables(incremental, rebuilt, SALES_TABLES)
    sales = feature_frame(incremental, "feat_sales_daily")
    assert sales.date.max() == pd.Timestamp(day(WORLD_DAYS))


def test_a_corrected_old_sale_rebuilds_from_its_day(built_template, full, tmp_path):
    engine = copy_of(built_template, tmp_path, "corrected.db")
    pos = read_frame(engine, clean_table("pos"))
    old = pos.loc[pos.date == pd.Timestamp(day(60))].iloc[0]
    home = tmp_path / "home"
    (home / "landing" / "pos").mkdir(parents=True)
    corrected = pos.loc[[old.name], ["date", "store_id", "sku", "units", "revenue"]].assign(
        units=old.units + 40, date=old.date.date().isoformat())
    delivery = home / "landing" / "pos" / "correction.csv"
    corrected.to_csv(delivery, index=False)
    os.utime(delivery, (time.time() - 300, time.time() - 300))  # settled
    ingest_all(home, engine)
    build_sales(engine, run_id="r2")
    got = feature_frame(engine, "feat_sales_daily")
    lagged = got.loc[(got.store_id == old.store_id) & (got.sku == old.sku)
                     & (got.date == old.date + timedelta(days=7))]
    assert lagged.units_lag_7.iloc[0] == old.units + 40
    rebuilt = copy_of(tmp_path / "corrected.db", tmp_path, "full.db")
    build_sales(rebuilt, run_id="r3", full_refresh=True)
    assert_same_tables(engine, rebuilt, SALES_TABLES)


# --- dialects and partial worlds -----------------------------------------------------------


def test_same_tables_on_every_dialect(ingested_any, full):
    build_sales(ingested_any)
    for name in SALES_TABLES:
        pd.testing.assert_frame_equal(feature_frame(ingested_any, name), full[name],
                                      check_dtype=False, rtol=1e-9, obj=name)


def test_without_pos_the_sales_tables_are_skipped(warehouse):
    modes = build_sales(warehouse)
    assert modes["feat_sales_daily"] == "skipped"
    assert modes["feat_promo_effectiveness"] == "skipped"
