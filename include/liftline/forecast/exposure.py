"""Promotion exposure per store-day and store x category-day, weighted by what the SKUs sell.

`feat_sales_store_daily.promo_sku_share` counts SKUs: a promotion on the slowest SKU counts as
much as one on the best seller. Demand moves with the *units* on promotion, so this module
re-expresses the promotion calendar (past and planned) as sales-weighted exposure:

- `promo_share`: share of the store's (category's) units whose SKU is on promotion that day,
- `promo_depth`: the same weights times the discount as a fraction (unknown discount: 0),
- `promo_ended`: share whose promotion ended in the 7 days before and is not on one now (the
  post-promotion dip: shoppers stocked up).

Weights are each SKU's share of its store's units in the `WEIGHT_DAYS` before the origin, so
a backtest at origin o uses only sales known at o. Coverage follows CONTRACT.md: a promotion
covers its SKU, else its category, else every SKU; its store, else its region, else every
store; cancelled promotions cover nothing (`liftline.features.coverage`, the one definition).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from liftline.features import (
    PROMOTION_SKU_LEVELS,
    PROMOTION_STORE_LEVELS,
    promotion_stores,
    read_promotions,
    scope_level,
)
from liftline.warehouse import exact_sum, read_frame, table

from .inputs import has_table

WEIGHT_DAYS = 91
DIP_DAYS = 7
EXPOSURE_COLUMNS = ("promo_share", "promo_depth", "promo_ended")


def promotion_cells(engine: Engine, stores: pd.DataFrame) -> pd.DataFrame:
    """(promo_id, store_id, sku, category, start, end, discount) per promotion and store.

    `sku` and `category` say what the promotion covers in the store, by the contract's SKU
    levels (`scope_level`): a SKU, else a whole category, else everything. `stores` has
    store_id and region. Empty when promotions or SKU sales are missing.
    """
    if not has_table(engine, "feat_sales_daily"):
        return pd.DataFrame()
    promos = read_promotions(engine, ["promo_id", "start_date", "end_date", "discount_pct",
                                      "sku", "category", "store_id", "region"])
    if promos.empty:
        return pd.DataFrame()
    return _cover_stores(promos, stores)


def _cover_stores(promos: pd.DataFrame, stores: pd.DataFrame) -> pd.DataFrame:
    promos = promos.assign(discount=pd.to_numeric(promos["discount_pct"], errors="coerce")
                           .fillna(0.0).clip(0, 100) / 100.0)
    keep = ["promo_id", "sku", "category", "start_date", "end_date", "discount"]
    covered = promotion_stores(promos[[*keep, *PROMOTION_STORE_LEVELS]],
                               stores[["store_id", "region"]])
    for column in ("start_date", "end_date"):
        covered[column] = pd.to_datetime(covered[column]).astype("datetime64[ns]")
    return covered[["promo_id", "store_id", "sku", "category", "start_date", "end_date",
                    "discount"]].reset_index(drop=True)


def sku_weights(engine: Engine, stores: list[str], origin: date, measure: str = "units"
                ) -> pd.DataFrame:
    """Each SKU's share of its store's sales, and of its store-category's, before `origin`.

    Sales in the forecast's measure; in units, a store whose POS carries no units (revenue
    only) is weighted by revenue, the best it has.
    """
    sku = table("feat_sales_daily")
    first = origin - timedelta(days=WEIGHT_DAYS - 1)
    sales = sku.c.revenue if measure == "revenue" else func.coalesce(sku.c.units, sku.c.revenue)
    sold = read_frame(engine, select(sku.c.store_id, sku.c.sku,
                                     func.coalesce(func.max(sku.c.category), "unknown")
                                     .label("category"), exact_sum(sales).label("units"))
                      .where(sku.c.store_id.in_(stores), sku.c.date.between(first, origin))
                      .group_by(sku.c.store_id, sku.c.sku)
                      .order_by(sku.c.store_id, sku.c.sku))  # weights summed in one order
    if sold.empty:
        return sold
    sold["units"] = sold["units"].clip(lower=0).astype("float64")
    store_total = sold.groupby("store_id")["units"].transform("sum")
    category_total = sold.groupby(["store_id", "category"])["units"].transform("sum")
    sold["w_store"] = (sold["units"] / store_total).where(store_total > 0, 0.0)
    sold["w_category"] = (sold["units"] / category_total).where(category_total > 0, 0.0)
    return sold


def exposure(cells: pd.DataFrame, weights: pd.DataFrame, by_category: bool = False
             ) -> pd.DataFrame:
    """Daily exposure per (store_id[, category], date) from covered cells and SKU weights."""
    keys = ["store_id", "category"] if by_category else ["store_id"]
    columns = [*keys, "date", *EXPOSURE_COLUMNS]
    if cells.empty or weights.empty:
        return pd.DataFrame(columns=columns)
    per_promo = _promo_weights(cells, weights, by_category)
    per_promo = per_promo.assign(depth=per_promo["share"] * per_promo["discount"])
    on = _expand(per_promo, 0, keys).groupby([*keys, "date"])[["share", "depth"]].sum()
    ended = _expand(per_promo, DIP_DAYS, keys, after=True).groupby([*keys, "date"])["share"].sum()
    frame = on.join(ended.rename("ended"), how="outer").fillna(0.0).reset_index()
    frame["promo_share"] = frame["share"].clip(upper=1.0)
    frame["promo_depth"] = frame["depth"].clip(upper=1.0)
    frame["promo_ended"] = (frame["ended"] - frame["share"]).clip(lower=0.0, upper=1.0)
    return frame[columns]


def _promo_weights(cells: pd.DataFrame, weights: pd.DataFrame, by_category: bool
                   ) -> pd.DataFrame:
    """Share of the store's (category's) units each promotion covers, per store[, category]."""
    keep = ["promo_id", "store_id", "start_date", "end_date", "discount"]
    # The contract's SKU levels, applied to weights summed per category (or store) rather
    # than to every covered SKU, so no promotion x store x SKU frame is ever built.
    level = scope_level(cells, PROMOTION_SKU_LEVELS)
    one_sku = cells.loc[level == "sku", [*keep, "sku"]].merge(
        weights[["store_id", "sku", "category", "w_store", "w_category"]],
        on=["store_id", "sku"])
    category_totals = weights.groupby(["store_id", "category"], as_index=False).agg(
        w_store=("w_store", "sum"), w_category=("w_category", "sum"))
    one_category = cells.loc[level == "category", [*keep, "category"]].merge(
        category_totals, on=["store_id", "category"])
    everything = cells.loc[level.isna(), keep]
    if by_category:
        everything = everything.merge(category_totals, on="store_id")
    else:
        everything = everything.assign(w_store=1.0)
    weight = "w_category" if by_category else "w_store"
    keys = ["store_id", "category"] if by_category else ["store_id"]
    parts = [frame.rename(columns={weight: "share"})[[*keep, *keys[1:], "share"]]
             for frame in (one_sku, one_category, everything) if len(frame)]
    if not parts:
        return pd.DataFrame(columns=[*keep, *keys[1:], "share"])
    merged = pd.concat(parts, ignore_index=True)
    return merged.groupby(["promo_id", *keys, "start_date", "end_date", "discount"],
                          as_index=False)["share"].sum()


def _expand(per_promo: pd.DataFrame, days_after: int, keys: list[str],
            after: bool = False) -> pd.DataFrame:
    """One row per promotion x key x day of its window (or of the `days_after` after it)."""
    start = per_promo["end_date"] + pd.Timedelta(days=1) if after else per_promo["start_date"]
    end = per_promo["end_date"] + pd.Timedelta(days=days_after)
    length = ((end - start).dt.days + 1).clip(lower=0).to_numpy()
    index = np.repeat(np.arange(len(per_promo)), length)
    offset = np.arange(len(index)) - np.repeat(np.cumsum(length) - length, length)
    out = per_promo.iloc[index][[*keys, "share", "depth"]].reset_index(drop=True)
    out["date"] = start.to_numpy()[index] + pd.to_timedelta(offset, unit="D").to_numpy()
    return out
