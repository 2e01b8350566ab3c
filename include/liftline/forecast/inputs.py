"""What the forecast stage reads from the warehouse, as plain frames.

The store x day roll-up (`feat_sales_store_daily`: history and the 56 planned days after the
feature build's as-of date) is the main input. Two delivered dimensions are read through the
features package, each for one thing the feature tables do not carry: holiday and event
*names* from `events` (so a closure on Christmas Day is learned by name) and `list_price` /
`unit_cost` from `products` (the newsvendor costs). Every reader returns an empty frame when
its source is missing; the caller logs what that leaves out.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine, and_, func, inspect, select

from liftline.features import event_stores, read_events, read_products
from liftline.warehouse import exact_sum, read_frame, table

from .frames import KEY

STORE_DAY_COLUMNS = (
    "date", "store_id", "region", "country", "format", "is_future", "units", "revenue",
    "promo_count", "promo_sku_share", "promo_max_discount", "days_since_promo",
    "days_until_promo", "media_spend", "event_count", "is_holiday", "is_closed",
)
ECONOMICS_DAYS = 91


def has_table(engine: Engine, name: str) -> bool:
    return inspect(engine).has_table(name)


def store_days(engine: Engine, as_of: date, stores: list[str] | None = None) -> pd.DataFrame:
    """Every store-day (history and planned horizon), units and revenue hidden after `as_of`."""
    if not has_table(engine, "feat_sales_store_daily"):
        return pd.DataFrame()
    feat = table("feat_sales_store_daily")
    query = select(*(feat.c[name] for name in STORE_DAY_COLUMNS))
    if stores is not None:
        query = query.where(feat.c.store_id.in_(stores))
    frame = read_frame(engine, query.order_by(feat.c.store_id, feat.c.date))
    if frame.empty:
        return frame
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    future = frame["is_future"].astype(bool) | (frame["date"] > pd.Timestamp(as_of))
    frame["is_future"] = future
    for measure in ("units", "revenue"):
        frame[measure] = frame[measure].astype("float64").where(~future)
    frame[KEY] = frame["store_id"].astype(str)
    names = holiday_names(engine, frame)
    if not names.empty:
        frame = frame.merge(names, on=["store_id", "date"], how="left")
    frame["holiday_name"] = frame.get("holiday_name", pd.Series(index=frame.index)).fillna("")
    return frame


def holiday_names(engine: Engine, store_days_frame: pd.DataFrame) -> pd.DataFrame:
    """(store_id, date, holiday_name): names of holidays and events that apply to the store.

    An event applies to its store, else every store of its region, else of its country, else
    every store (CONTRACT.md); closures are not names (they are `is_closed`).
    """
    found = read_events(engine, ["date", "name", "kind", "country", "region", "store_id"])
    if found.empty:
        return pd.DataFrame()
    kind = found["kind"].fillna("event").astype(str).str.lower()
    found = found.loc[kind != "closure"].copy()
    found["date"] = pd.to_datetime(found["date"]).astype("datetime64[ns]")
    stores = store_days_frame[["store_id", "region", "country"]].drop_duplicates("store_id")
    applied = event_stores(found[["date", "name", "store_id", "region", "country"]], stores)
    if applied.empty:
        return pd.DataFrame()
    applied["name"] = applied["name"].astype(str).str.replace(";", ",")
    return (applied.groupby(["store_id", "date"])["name"]
            .agg(lambda names: "; ".join(sorted(set(names))))
            .rename("holiday_name").reset_index())


def category_days(engine: Engine, stores: list[str], first: date, as_of: date,
                  measure: str = "units") -> pd.DataFrame:
    """The measure per store x category x day from the SKU feature table, up to `as_of`.

    The column is `units` whatever the measure (the forecast's target column, frames.py).
    """
    if not has_table(engine, "feat_sales_daily"):
        return pd.DataFrame()
    sku = table("feat_sales_daily")
    category = func.coalesce(sku.c.category, "unknown").label("category")
    query = (select(sku.c.store_id, category, sku.c.date, exact_sum(sku.c[measure]).label("units"))
             .where(and_(sku.c.store_id.in_(stores), sku.c.date.between(first, as_of)))
             .group_by(sku.c.store_id, category, sku.c.date)
             .order_by(sku.c.store_id, category, sku.c.date))  # PostgreSQL's grouping has none
    frame = read_frame(engine, query)
    if not frame.empty:
        frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    return frame


def unit_economics(engine: Engine, stores: list[str], as_of: date) -> pd.DataFrame:
    """Sales-weighted per-unit underage (margin) and overage (unit cost) costs.

    One row per (store_id, category) plus one per store with category NULL (all SKUs), from
    the SKUs sold in the 91 days to `as_of` that have both list_price and unit_cost.
    """
    if not has_table(engine, "feat_sales_daily"):
        return pd.DataFrame()
    sku = table("feat_sales_daily")
    query = (select(sku.c.store_id, sku.c.sku, func.coalesce(sku.c.category, "unknown")
                    .label("category"), exact_sum(sku.c.units).label("units"))
             .where(sku.c.store_id.in_(stores),
                    sku.c.date.between(as_of - timedelta(days=ECONOMICS_DAYS), as_of))
             .group_by(sku.c.store_id, sku.c.sku, "category")
             .order_by(sku.c.store_id, sku.c.sku))  # costs weighted in one order
    sold = read_frame(engine, query)
    prices = read_products(engine, ["sku", "list_price", "unit_cost"])
    if sold.empty or prices.empty:
        return pd.DataFrame()
    frame = sold.merge(prices, on="sku", how="inner")
    frame = frame.loc[frame["list_price"].notna() & frame["unit_cost"].notna()
                      & (frame["units"] > 0) & (frame["list_price"] > 0)]
    if frame.empty:
        return pd.DataFrame()
    frame = frame.assign(margin=np.maximum(frame["list_price"] - frame["unit_cost"], 0.0))
    by_category = _weighted(frame, ["store_id", "category"])
    by_store = _weighted(frame, ["store_id"]).assign(category=None)
    return pd.concat([by_store, by_category], ignore_index=True)


def _weighted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    weighted = frame.assign(m=frame["margin"] * frame["units"],
                            c=frame["unit_cost"] * frame["units"])
    sums = weighted.groupby(keys, as_index=False)[["m", "c", "units"]].sum()
    return pd.DataFrame({**{k: sums[k] for k in keys},
                         "underage": sums["m"] / sums["units"],
                         "overage": sums["c"] / sums["units"]})
