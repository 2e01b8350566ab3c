"""Candidate promotions shared by recommendations and the what-if: their feature rows,
baselines, economics and the sibling-overlap rule.

A candidate is one SKU in one store, from a start date for some days at some discount. Its
feature row is built the way feat_promo_effectiveness would hold it at that start: terms,
store context, promotions of the store overlapping the window (concurrency) and the store's
earlier promotions of the category that end before the start (history), read from the
feature table as of the as-of date. Its baseline is the SKU's recent unpromoted sales in the
store; its economics follow from the predicted lift, the list price and the unit cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from liftline.features import (
    PROMOTION_SKU_LEVELS,
    PROMOTION_STORE_LEVELS,
    promotion_skus,
    promotion_stores,
    read_products,
    read_promotions,
    read_stores,
    with_category_history,
)
from liftline.warehouse import exact_sum, read_frame, table

BASELINE_DAYS = 28  # unpromoted open days averaged for the baseline ...
LOOKBACK_DAYS = 91  # ... searched for this far back from the as-of date


@dataclass(frozen=True)
class Catalogue:
    """What a candidate's features and constraints read, as of one date."""

    products: pd.DataFrame  # sku, category, list_price, unit_cost
    stores: pd.DataFrame  # store_id, region, country
    history: pd.DataFrame  # feat_promo_effectiveness: promo_id, store_id, category, dates, lift
    upcoming: pd.DataFrame  # promotions not ended by as-of (planned or running)


def load_catalogue(engine: Engine, as_of: date) -> Catalogue:
    """Products, stores, the promotion history and the promotions not ended by `as_of`."""
    products = read_products(engine, ["sku", "category", "list_price", "unit_cost"])
    stores = read_stores(engine, ["store_id", "region", "country"])
    feat = table("feat_promo_effectiveness")
    history = read_frame(engine, select(feat.c.promo_id, feat.c.store_id, feat.c.category,
                                        feat.c.start_date, feat.c.end_date,
                                        feat.c.observed_lift_pct))
    upcoming = read_promotions(engine, ending_after=as_of)
    return Catalogue(products, stores, history, upcoming)


def next_mondays(as_of: date, weeks: int) -> list[pd.Timestamp]:
    """The first `weeks` Mondays strictly after `as_of`."""
    first = pd.Timestamp(as_of) + pd.Timedelta(days=7 - pd.Timestamp(as_of).weekday())
    return [first + pd.Timedelta(weeks=k) for k in range(weeks)]


def check_terms(discount_pct: float, days: int, rec: dict) -> None:
    """One-line ValueError when a promotion's terms lie outside the spec's bounds."""
    lo, hi = float(rec["min_discount_pct"]), float(rec["max_discount_pct"])
    if not lo <= float(discount_pct) <= hi:
        raise ValueError(f"discount {discount_pct:g}% is outside the spec's bounds "
                         f"{lo:g}-{hi:g}% (models/promo_lift.yaml, recommend)")
    lo_d, hi_d = int(rec["min_days"]), int(rec["max_days"])
    if int(days) != days or not lo_d <= int(days) <= hi_d:
        raise ValueError(f"run length {days:g} days is outside the spec's bounds "
                         f"{lo_d}-{hi_d} days (models/promo_lift.yaml, recommend)")


def feature_rows(candidates: pd.DataFrame, cat: Catalogue) -> pd.DataFrame:
    """`candidates` (sku, store_id, start_date, duration_days, discount_pct, promo_type) with
    the feat_promo_effectiveness columns the lift model reads."""
    rows = candidates.copy()
    rows["start_date"] = pd.to_datetime(rows["start_date"])
    rows["end_date"] = rows["start_date"] + pd.to_timedelta(rows["duration_days"] - 1, unit="D")
    rows["month"] = rows["start_date"].dt.month
    rows["n_skus"] = 1
    rows["category"] = _lookup(rows, "sku", cat.products, "category")
    for column in ("region", "country"):
        rows[column] = _lookup(rows, "store_id", cat.stores, column)
    rows = _with_concurrency(rows, cat.history)
    return with_category_history(rows, cat.history)


def _lookup(rows: pd.DataFrame, key: str, dimension: pd.DataFrame, column: str) -> pd.Series:
    """`column` of each row's `key` in the dimension table, else what the row already says."""
    found = rows[key].map(dimension.drop_duplicates(key).set_index(key)[column])
    return found.fillna(rows[column]) if column in rows else found


def _with_concurrency(rows: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Promotions covering the store that overlap the window (any category), as the feature
    table counts them."""
    keys = rows[["store_id", "start_date", "end_date"]].drop_duplicates()
    spans = history[["promo_id", "store_id", "start_date", "end_date"]].drop_duplicates()
    pairs = keys.merge(spans, on="store_id", suffixes=("", "_other"))
    overlap = ((pairs["start_date_other"] <= pairs["end_date"])
               & (pairs["end_date_other"] >= pairs["start_date"]))
    counts = (pairs.loc[overlap].groupby(["store_id", "start_date", "end_date"])["promo_id"]
              .nunique().rename("concurrent_promos").reset_index())
    rows = rows.merge(counts, on=["store_id", "start_date", "end_date"], how="left")
    rows["concurrent_promos"] = rows["concurrent_promos"].fillna(0).astype("int64")
    return rows


def top_skus(engine: Engine, as_of: date, per_category: int,
             days: int = BASELINE_DAYS) -> pd.DataFrame:
    """Each store's best sellers per category over the `days` to as-of: store_id, sku,
    category, units (summed in SQL, ranked here)."""
    sales = table("feat_sales_daily")
    first = pd.Timestamp(as_of) - pd.Timedelta(days=days - 1)
    sold = read_frame(engine, select(
        sales.c.store_id, sales.c.sku, func.max(sales.c.category).label("category"),
        exact_sum(sales.c.units).label("units"))
        .where(sales.c.date.between(first.date(), as_of))
        .group_by(sales.c.store_id, sales.c.sku).order_by(sales.c.store_id, sales.c.sku))
    if sold.empty:
        return sold
    sold = sold.sort_values(["store_id", "category", "units", "sku"],
                            ascending=[True, True, False, True], kind="mergesort")
    rank = sold.groupby(["store_id", "category"], dropna=False).cumcount()
    return sold.loc[(rank < per_category) & (sold["units"] > 0)].reset_index(drop=True)


def baseline_rates(engine: Engine, pairs: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Per store x SKU in `pairs`: mean units per day over its latest BASELINE_DAYS open days
    without a promotion on the SKU (within LOOKBACK_DAYS of as-of; a day without a sale is a
    day of zero units), and the list price seen on those rows (a fallback price)."""
    columns = ["store_id", "sku", "baseline_units_per_day", "baseline_days", "seen_price"]
    if pairs.empty:
        return pd.DataFrame(columns=columns)
    first = (pd.Timestamp(as_of) - pd.Timedelta(days=LOOKBACK_DAYS - 1)).date()
    sales, stores = table("feat_sales_daily"), table("feat_sales_store_daily")
    rows = read_frame(engine, select(sales.c.store_id, sales.c.sku, sales.c.date, sales.c.units,
                                     sales.c.promo_count, sales.c.list_price)
                      .where(sales.c.date.between(first, as_of),
                             sales.c.store_id.in_(sorted(pairs["store_id"].unique())),
                             sales.c.sku.in_(sorted(pairs["sku"].unique()))))
    closed = read_frame(engine, select(stores.c.store_id, stores.c.date).where(
        stores.c.is_closed.is_(True), stores.c.date.between(first, as_of)))
    days = pd.date_range(first, as_of, freq="D")
    grid = pairs[["store_id", "sku"]].drop_duplicates().merge(
        pd.DataFrame({"date": days}), how="cross")
    grid = grid.merge(rows, on=["store_id", "sku", "date"], how="left")
    grid = grid.merge(closed.assign(closed=True), on=["store_id", "date"], how="left")
    usable = grid.loc[grid["closed"].isna() & (grid["promo_count"].fillna(0) == 0)]
    usable = usable.sort_values("date", ascending=False, kind="mergesort")
    latest = usable.loc[usable.groupby(["store_id", "sku"]).cumcount() < BASELINE_DAYS]
    grouped = latest.groupby(["store_id", "sku"])
    out = pd.DataFrame({"units": grouped["units"].sum(), "baseline_days": grouped.size(),
                        "seen_price": grouped["list_price"].mean()}).reset_index()
    out["baseline_units_per_day"] = out.pop("units") / out["baseline_days"]
    return out[columns]


def with_economics(rows: pd.DataFrame) -> pd.DataFrame:
    """Units, revenue and margin of a promotion beside its baseline over the window.

    Needs baseline_units_per_day, duration_days, discount_pct, lift_pct, price and unit_cost
    (NaN cost: margin NaN). Margin = promoted units x (price x (1 - d) - cost) - baseline
    units x (price - cost): the discount is paid on every promoted unit, not only the extra.
    """
    out = rows.copy()
    base = out["baseline_units_per_day"] * out["duration_days"]
    promoted = base * (1 + np.maximum(out["lift_pct"], -100.0) / 100)
    promo_price = out["price"] * (1 - out["discount_pct"] / 100)
    out["baseline_units"] = base
    out["promoted_units"] = promoted
    out["expected_incremental_units"] = promoted - base
    out["expected_incremental_revenue"] = promoted * promo_price - base * out["price"]
    out["expected_incremental_margin"] = (promoted * (promo_price - out["unit_cost"])
                                          - base * (out["price"] - out["unit_cost"]))
    return out


def with_prices(pairs: pd.DataFrame, cat: Catalogue) -> pd.DataFrame:
    """`price` (the list price, else the one seen on recent sales: `seen_price`) and
    `unit_cost` per SKU; NaN where the products extract does not say."""
    out = pairs.merge(cat.products[["sku", "list_price", "unit_cost"]], on="sku", how="left")
    out["price"] = out.pop("list_price").fillna(out["seen_price"])
    return out


def conflicts_with_upcoming(rows: pd.DataFrame, cat: Catalogue) -> np.ndarray:
    """True where a candidate (store_id, region, category, start_date, end_date) overlaps a
    planned or running promotion touching the same category in the same store: a sibling's
    promotion would cannibalise it (and the same SKU's would double it)."""
    cover = upcoming_cover(cat, rows[["store_id", "region"]].drop_duplicates("store_id"))
    if cover.empty or rows.empty:
        return np.zeros(len(rows), dtype=bool)
    keyed = rows[["store_id", "category", "start_date", "end_date"]].assign(
        _row=np.arange(len(rows)))
    pairs = keyed.merge(cover, on=["store_id", "category"], suffixes=("", "_promo"))
    overlap = ((pairs["start_date_promo"] <= pairs["end_date"])
               & (pairs["end_date_promo"] >= pairs["start_date"]))
    hit = np.zeros(len(rows), dtype=bool)
    hit[pairs.loc[overlap, "_row"].to_numpy()] = True
    return hit


def upcoming_cover(cat: Catalogue, stores: pd.DataFrame) -> pd.DataFrame:
    """Store x category pairs each upcoming promotion touches, with its window: the `stores`
    (store_id, region) it covers, and the categories of the products it covers (the contract's
    rule, `liftline.features.coverage`)."""
    columns = ["store_id", "category", "start_date", "end_date"]
    promos = cat.upcoming
    if promos.empty or stores.empty:
        return pd.DataFrame(columns=columns)
    covered_stores = promotion_stores(promos[["promo_id", *PROMOTION_STORE_LEVELS]], stores)
    categories = promotion_skus(promos[["promo_id", *PROMOTION_SKU_LEVELS]],
                                cat.products[["sku", "category"]])
    categories = categories[["promo_id", "category"]].dropna().drop_duplicates()
    windows = promos[["promo_id", "start_date", "end_date"]].assign(
        start_date=pd.to_datetime(promos["start_date"]),
        end_date=pd.to_datetime(promos["end_date"]))
    cover = (covered_stores[["promo_id", "store_id"]].merge(categories, on="promo_id")
             .merge(windows, on="promo_id"))
    return cover[columns]


def windows_overlap(a_start: pd.Timestamp, a_end: pd.Timestamp, b_start: pd.Timestamp,
                    b_end: pd.Timestamp) -> bool:
    return a_start <= b_end and b_start <= a_end
