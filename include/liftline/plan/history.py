"""What the planner reads of the past: weekly spend, weekly store sales, the promotion calendar
as SKU x store cells, and the one rule for "the same week last year".

Weeks are Monday weeks. "Last year" is 52 weeks (364 days) earlier, so a week keeps its weekday
pattern and lands on the same season.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, inspect, select

from liftline.features import promotion_skus, promotion_stores, read_products, read_stores
from liftline.warehouse import clean_table, read_frame, table

from .types import PlanRequest

YEAR = pd.Timedelta(weeks=52)
SPEND_COLUMNS = ["country", "channel", "week_start", "spend"]
CELL_COLUMNS = ["promo_id", "sku", "store_id", "category", "start_date", "end_date",
                "discount_pct", "duration_days", "promo_type", "cost"]


def monday(dates: pd.Series | pd.DatetimeIndex) -> pd.Series:
    """The Monday of each date's week."""
    days = pd.to_datetime(pd.Series(dates))
    return (days - pd.to_timedelta(days.dt.weekday, unit="D")).dt.normalize()


def has_table(engine: Engine, name: str) -> bool:
    return inspect(engine).has_table(name)


def history_end(engine: Engine, request: PlanRequest) -> date | None:
    """The last day of observed store sales before the plan starts (the planner's as-of)."""
    if not has_table(engine, "feat_sales_store_daily"):
        return None
    feat = table("feat_sales_store_daily")
    with engine.connect() as conn:
        last = conn.execute(select(func.max(feat.c.date)).where(
            feat.c.is_future.is_(False), feat.c.date < request.start)).scalar()
    return None if last is None else pd.Timestamp(last).date()


def store_dimension(engine: Engine) -> pd.DataFrame:
    """store_id, region, country of the delivered stores (country "ALL" when not delivered)."""
    stores = read_stores(engine, ["store_id", "region", "country"])
    return stores.assign(country=stores["country"].fillna("ALL")).sort_values(
        "store_id", kind="mergesort").reset_index(drop=True)


def weekly_spend(engine: Engine, first: date, last: date) -> tuple[pd.DataFrame, date | None]:
    """Spend per country x channel x Monday week from the clean spend extract over
    [first, last] (SPEND_COLUMNS; spend without a country is "ALL"), and the last spend day.

    The week holding the last spend day is scaled to seven days when it is partial: the
    extract stopped, the campaign did not."""
    if not has_table(engine, clean_table("spend").name):
        return pd.DataFrame(columns=SPEND_COLUMNS), None
    spend = clean_table("spend")
    daily = read_frame(engine, select(spend.c.country, spend.c.channel, spend.c.date,
                                      func.sum(spend.c.spend).label("spend"))
                       .where(spend.c.date.between(first, last))
                       .group_by(spend.c.country, spend.c.channel, spend.c.date))
    if daily.empty:
        return pd.DataFrame(columns=SPEND_COLUMNS), None
    daily["date"] = pd.to_datetime(daily["date"])
    daily["country"] = daily["country"].fillna("ALL")
    daily["week_start"] = monday(daily["date"]).to_numpy()
    last_day = daily["date"].max()
    weekly = (daily.groupby(["country", "channel", "week_start"])["spend"].sum()
              .reset_index())
    last_week = monday(pd.Series([last_day])).iloc[0]
    observed = (last_day - last_week).days + 1
    if observed < 7:
        partial = weekly["week_start"] == last_week
        weekly.loc[partial, "spend"] *= 7 / observed
    weekly["spend"] = weekly["spend"].astype(float)
    return (weekly[SPEND_COLUMNS].sort_values(SPEND_COLUMNS[:3], kind="mergesort")
            .reset_index(drop=True), last_day.date())


def store_weekly_sales(engine: Engine, first: date, last: date) -> pd.DataFrame:
    """Observed units and revenue per store x Monday week over [first, last] (full weeks
    only: a week with fewer than 7 store-days in the range is left out)."""
    columns = ["store_id", "week_start", "units", "revenue"]
    if not has_table(engine, "feat_sales_store_daily"):
        return pd.DataFrame(columns=columns)
    feat = table("feat_sales_store_daily")
    daily = read_frame(engine, select(feat.c.store_id, feat.c.date, feat.c.units,
                                      feat.c.revenue)
                       .where(feat.c.is_future.is_(False), feat.c.date.between(first, last)))
    if daily.empty:
        return pd.DataFrame(columns=columns)
    daily["week_start"] = monday(daily["date"]).to_numpy()
    grouped = daily.groupby(["store_id", "week_start"])
    weekly = grouped[["units", "revenue"]].sum(min_count=1)
    weekly = weekly.loc[grouped.size() == 7].reset_index()
    return weekly[columns].astype({"units": float, "revenue": float})


def promotion_cells(promos: pd.DataFrame, stores: pd.DataFrame, products: pd.DataFrame
                    ) -> pd.DataFrame:
    """Each promotion as the SKU x store cells it covers (the contract's covering rule,
    `liftline.features.coverage`), its cost split evenly over them (CELL_COLUMNS)."""
    if promos.empty or stores.empty or products.empty:
        return pd.DataFrame(columns=CELL_COLUMNS)
    terms = promos[["promo_id", "sku", "category", "store_id", "region", "start_date",
                    "end_date", "discount_pct", "promo_type", "cost"]]
    in_stores = promotion_stores(terms, stores[["store_id", "region"]])
    cells = promotion_skus(in_stores.drop(columns=["region"]),
                           products[["sku", "category"]].drop_duplicates("sku"))
    cells["start_date"] = pd.to_datetime(cells["start_date"])
    cells["end_date"] = pd.to_datetime(cells["end_date"])
    cells["duration_days"] = (cells["end_date"] - cells["start_date"]).dt.days + 1
    per_promo = cells.groupby("promo_id")["sku"].transform("size")
    cells["cost"] = pd.to_numeric(cells["cost"], errors="coerce").fillna(0.0) / per_promo
    cells["discount_pct"] = pd.to_numeric(cells["discount_pct"], errors="coerce").fillna(0.0)
    cells["promo_type"] = cells["promo_type"].fillna("unknown")
    return (cells[CELL_COLUMNS].sort_values(["start_date", "promo_id", "store_id", "sku"],
                                            kind="mergesort").reset_index(drop=True))


def read_catalogue_frames(engine: Engine) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stores (store_id, region, country) and products (sku, category, list_price,
    unit_cost) the planner covers."""
    products = read_products(engine, ["sku", "category", "list_price", "unit_cost"])
    return store_dimension(engine), products


def spread_by_week(cells: pd.DataFrame, value_columns: list[str]) -> pd.DataFrame:
    """Each row's values spread evenly over the days of [start_date, start_date +
    duration_days), summed per store x Monday week: where an effect lands in the sales."""
    if cells.empty:
        return pd.DataFrame(columns=["store_id", "week_start", *value_columns])
    days = cells["duration_days"].astype(int).to_numpy()
    rows = cells.loc[cells.index.repeat(days), ["store_id", "start_date", *value_columns]]
    offset = np.concatenate([np.arange(n) for n in days])
    rows["date"] = rows["start_date"].to_numpy() + pd.to_timedelta(offset, unit="D")
    share = np.repeat(1.0 / days, days)
    for column in value_columns:
        rows[column] = rows[column].to_numpy(float) * share
    rows["week_start"] = monday(rows["date"]).to_numpy()
    return rows.groupby(["store_id", "week_start"])[value_columns].sum().reset_index()
