"""What the lift measurement reads: promotion terms, and daily sales around each window.

One row per promotion x covered store comes from `feat_promo_effectiveness` (terms, context,
point-in-time history). Daily sales come from `feat_sales_daily`, summed in SQL per promotion,
store, role and day over the covered SKUs (`promoted`) and over their uncovered siblings of the
same category in the store (`sibling`, for cannibalisation), so only a few rows per window
reach pandas even on the medium world. A store-SKU day without a row sold nothing.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import Column, Connection, Date, Engine, Float, String, and_, case, func, select

from liftline.features import promo_cover, read_products, sales_cells, temp_table
from liftline.warehouse import exact_sum, read_frame, table

PROMOTED = "promoted"
SIBLING = "sibling"
TERMS = ("promo_id", "store_id", "start_date", "end_date", "duration_days", "discount_pct",
         "promo_type", "sku", "category", "region", "country", "month", "n_skus",
         "concurrent_promos", "baseline_days", "baseline_units_per_day",
         "baseline_revenue_per_day", "past_promos_category", "past_lift_mean_category",
         "past_lift_last_category", "days_since_category_promo", "observed_lift_pct", "status")


def promotion_terms(bind: Engine | Connection, as_of: date | None = None,
                    ends_after: date | None = None) -> pd.DataFrame:
    """feat_promo_effectiveness rows (promotion x store); started by `as_of` if given, and
    whose window reaches `ends_after` if given. Dates as Timestamps."""
    feat = table("feat_promo_effectiveness")
    query = select(*(feat.c[name] for name in TERMS))
    if as_of is not None:
        query = query.where(feat.c.start_date <= as_of)
    if ends_after is not None:
        query = query.where(feat.c.end_date >= ends_after)
    frame = read_frame(bind, query.order_by(feat.c.start_date, feat.c.promo_id,
                                              feat.c.store_id))
    for column in ("start_date", "end_date"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    return frame


def window_sales(engine: Engine, terms: pd.DataFrame, as_of: date, pre_days: int,
                 post_days: int) -> pd.DataFrame:
    """Daily sales per promotion x store x role over [start - pre_days, end + post_days].

    Columns: promo_id, store_id, role, date, units, revenue, cost (units x unit_cost where the
    product has one), cells (store-SKUs with a row), promo_cells (of them on a promotion or
    within `post_days` after one), stockout_cells, list_value (units x list_price). Days
    after `as_of` are not read.
    """
    if terms.empty:
        return pd.DataFrame(columns=["promo_id", "store_id", "role", "date", "units"])
    with engine.connect() as conn:  # temporary tables live on one connection
        cells = sales_cells(conn, as_of)
        cover = read_frame(conn, select(promo_cover(conn, cells)))
        cell_rows = read_frame(conn, select(cells.c.store_id, cells.c.sku, cells.c.category))
        windows = _windows(terms, cover, cell_rows, pre_days, post_days, as_of)
        if windows.empty:
            return pd.DataFrame(columns=["promo_id", "store_id", "role", "date", "units"])
        costs = read_products(conn, ["sku", "unit_cost"]).drop_duplicates("sku")
        tmp = _window_table(conn, windows.merge(costs, on="sku", how="left"))
        frame = read_frame(conn, _daily_sums(tmp, as_of, post_days))
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    return frame


def store_units(engine: Engine, stores: list[str], first: date, last: date) -> pd.DataFrame:
    """Store-days from feat_sales_store_daily: units (NaN: nothing delivered) and closures."""
    feat = table("feat_sales_store_daily")
    frame = read_frame(engine, select(feat.c.store_id, feat.c.date, feat.c.units,
                                      feat.c.is_closed)
                       .where(feat.c.store_id.in_(stores), feat.c.date.between(first, last)))
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    return frame


def _windows(terms: pd.DataFrame, cover: pd.DataFrame, cells: pd.DataFrame, pre_days: int,
             post_days: int, as_of: date) -> pd.DataFrame:
    """promo_id, store_id, sku, role, from_date, to_date: what to sum for each window."""
    keys = terms[["promo_id", "store_id", "start_date", "end_date", "sku", "category"]]
    promoted = cover[["promo_id", "store_id", "sku"]].merge(
        keys.drop(columns=["sku", "category"]), on=["promo_id", "store_id"])
    promoted["role"] = PROMOTED
    # Siblings: the other SKUs of the category in the store, for a promotion on named SKUs.
    named = keys.loc[keys["sku"].notna()].drop(columns=["sku"])
    siblings = named.merge(cells, on=["store_id", "category"]).drop(columns=["category"])
    siblings = siblings.merge(promoted[["promo_id", "store_id", "sku"]], how="left",
                              on=["promo_id", "store_id", "sku"], indicator=True)
    siblings = siblings.loc[siblings["_merge"] == "left_only"].drop(columns=["_merge"])
    siblings["role"] = SIBLING
    both = pd.concat([promoted, siblings], ignore_index=True)
    both["from_date"] = (both["start_date"] - pd.Timedelta(days=pre_days)).dt.date
    last = (both["end_date"] + pd.Timedelta(days=post_days)).dt.date
    both["to_date"] = last.where(last <= as_of, as_of)
    return both[["promo_id", "store_id", "sku", "role", "from_date", "to_date"]]


def _window_table(conn: Connection, windows: pd.DataFrame):
    """The windows with each SKU's unit cost (NULL where the product has none)."""
    tmp = temp_table(conn, "lift_windows", Column("promo_id", String), Column("store_id", String),
                     Column("sku", String), Column("role", String), Column("from_date", Date),
                     Column("to_date", Date), Column("unit_cost", Float))
    cost = windows["unit_cost"].astype(object)
    # None, not NaN: PostgreSQL keeps a NaN, which would poison the cost sums.
    records = windows.assign(unit_cost=cost.where(cost.notna(), None))
    conn.execute(tmp.insert(), records.to_dict("records"))
    return tmp


def _daily_sums(windows, as_of: date, post_days: int):
    sales = table("feat_sales_daily")
    day = sales.c.date
    join = and_(sales.c.store_id == windows.c.store_id, sales.c.sku == windows.c.sku,
                day >= windows.c.from_date, day <= windows.c.to_date)
    units = func.coalesce(sales.c.units, 0.0)
    flag = lambda condition: func.sum(case((condition, 1), else_=0))  # noqa: E731
    return (
        select(windows.c.promo_id, windows.c.store_id, windows.c.role, day.label("date"),
               exact_sum(units).label("units"),
               exact_sum(func.coalesce(sales.c.revenue, 0.0)).label("revenue"),
               exact_sum(units * windows.c.unit_cost).label("cost"),
               exact_sum(units * sales.c.list_price).label("list_value"),
               func.count().label("cells"),
               # On a promotion, or in the dip after one: not a clean baseline day.
               flag((sales.c.promo_count > 0) | (sales.c.days_since_promo <= post_days)
                    ).label("promo_cells"),
               flag(sales.c.is_stockout.is_(True)).label("stockout_cells"))
        .select_from(windows.join(sales, join))
        .where(day <= as_of)
        .group_by(windows.c.promo_id, windows.c.store_id, windows.c.role, day)
        .order_by(windows.c.promo_id, windows.c.store_id, windows.c.role, day)
    )

