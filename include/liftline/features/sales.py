"""feat_sales_daily (store x SKU x day) in SQL, and its store x day roll-up in pandas.

The SKU table is the big one (every POS row), so it is one INSERT ... SELECT over temporary
tables. Its history (lags, rolling means over "the k days before", promotion distance) is
computed in numpy (history.py) and written back keyed (day, cell) with the POS measures, so the
SELECT walks that table in POS's key order, joins small lookups and never reads POS again.
A whole-table rebuild empties the table and builds its indexes after the load (sql.reloaded).

Incremental: every row on or after the earliest changed date is rebuilt (a change on day d
moves lags up to 28 days later, and a promotion moves `days_until_promo` up to 28 days earlier).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    and_,
    case,
    func,
    literal,
    null,
    select,
)

from liftline.warehouse import clean_table, exact_sum, read_frame, table

from .base import BuildContext, BuildOutcome, Changes, FeatureSpec
from .calendar import require_calendar
from .coverage import country_spend, promo_cover, promo_daily, sales_cells, store_events
from .history import LAGS, MEANS, PROMO_LOOKAHEAD_DAYS, history_table
from .sql import fresh_statistics, reloaded, rewrite, to_day_number

LOOKBACK_DAYS = max(LAGS + MEANS)
HORIZON_DAYS = 56  # the store roll-up runs this far past the as-of date (forecast horizon)
MACRO_COLUMNS = ("economic_index", "inflation_rate", "unemployment_rate")
# What a row observes on its own day (the targets and end-of-day stock): known only once the
# day is over. Every other column is known before the day starts (lags, history) or planned
# for it (promotions, events, campaigns' spend, calendar).
SAME_DAY_OBSERVATIONS = frozenset({
    "units", "revenue", "unit_price", "price_index", "on_hand", "is_stockout", "skus_sold",
    "stockout_skus",
})

SALES_INPUTS = ("pos", "promotions", "events", "spend", "inventory", "stores", "products")


def rebuild_from(changes: Changes) -> date:
    """First date to rebuild (date.min: everything)."""
    if changes.full:
        return date.min
    others = [source for source in SALES_INPUTS if source != "promotions"]
    candidates = (
        changes.earliest(*others, "as_of"),
        changes.earliest("promotions", lead_days=PROMO_LOOKAHEAD_DAYS),
    )
    return min((d for d in candidates if d is not None), default=date.max)


# --- feat_sales_daily --------------------------------------------------------------------------


def build_sales_daily(conn: Connection, ctx: BuildContext, changes: Changes) -> BuildOutcome:
    feat = table("feat_sales_daily")
    first_pos = pd.Timestamp(conn.execute(select(func.min(clean_table("pos").c.date)))
                             .scalar()).date()
    since = max(rebuild_from(changes), first_pos)
    require_calendar(conn, since, ctx.as_of)
    whole_table = since <= first_pos
    with reloaded(conn, feat, whole=whole_table, since_condition=feat.c.date >= since):
        if since <= ctx.as_of:
            conn.execute(feat.insert().from_select([c.name for c in feat.columns],
                                                   _rows_query(conn, ctx, since)))
    rows = conn.execute(select(func.count()).select_from(feat).where(feat.c.date >= since))
    return _outcome(feat.name, changes, rows.scalar(), since)


def _rows_query(conn: Connection, ctx: BuildContext, since: date):
    """The SELECT of every feat_sales_daily row dated since..as_of, over temporary tables."""
    lookback = since - timedelta(days=LOOKBACK_DAYS)
    fresh_statistics(conn, clean_table("pos"), clean_table("inventory"), table("feat_calendar"))
    cells = sales_cells(conn, ctx.as_of)
    cover = promo_cover(conn, cells)
    daily = promo_daily(conn, cover, since, ctx.as_of)
    events = store_events(conn, cells, since, ctx.as_of)
    spend = country_spend(conn, cells, since, ctx.as_of)
    history = history_table(conn, cells, cover, lookback, since, ctx.as_of)
    query = _feature_select(history, cells, daily, events, spend)
    return query.add_columns(literal(ctx.run_id).label("run_id"))


def _feature_select(history, cells, daily, events, spend):
    """Driven by the history table: it holds every POS row of the range with its measures,
    keyed (day, cell) in POS's own order, so no row goes back to the POS table and the rows
    arrive in feat_sales_daily's key order."""
    inventory, cal = clean_table("inventory"), table("feat_calendar")
    unit_price = func.coalesce(history.c.unit_price,
                               history.c.revenue / func.nullif(history.c.units, 0))
    is_stockout = case((inventory.c.on_hand.is_(None), null()),
                       else_=inventory.c.on_hand <= 0)
    return (
        select(
            cal.c.date, cells.c.store_id, cells.c.sku, cells.c.category, cells.c.region,
            cells.c.country, history.c.units, history.c.revenue, unit_price.label("unit_price"),
            cells.c.list_price,
            (unit_price / func.nullif(cells.c.list_price, 0)).label("price_index"),
            func.coalesce(daily.c.promo_count, 0).label("promo_count"),
            daily.c.max_discount.label("promo_max_discount"), daily.c.promo_type,
            history.c.days_since_promo, history.c.days_until_promo,
            func.coalesce(spend.c.campaigns, 0).label("campaigns_active"),
            func.coalesce(spend.c.spend, 0.0).label("media_spend"),
            func.coalesce(events.c.event_count, 0).label("event_count"),
            (func.coalesce(events.c.holiday, 0) > 0).label("is_holiday"),
            (func.coalesce(events.c.closed, 0) > 0).label("is_closed"),
            inventory.c.on_hand, is_stockout.label("is_stockout"),
            *(history.c[f"units_lag_{k}"] for k in LAGS),
            *(history.c[f"units_mean_{k}"] for k in MEANS),
            cal.c.dow, cal.c.month,
        )
        .select_from(history)
        .join(cells, cells.c.cell_code == history.c.cell_code)
        .join(cal, cal.c.day_num == history.c.day_num)
        .outerjoin(daily, and_(daily.c.date == cal.c.date, daily.c.store_id == cells.c.store_id,
                               daily.c.sku == cells.c.sku))
        .outerjoin(events, and_(events.c.date == cal.c.date,
                                events.c.store_id == cells.c.store_id))
        .outerjoin(spend, and_(spend.c.date == cal.c.date, spend.c.country == cells.c.country))
        .outerjoin(inventory, and_(inventory.c.date == cal.c.date,
                                   inventory.c.store_id == cells.c.store_id,
                                   inventory.c.sku == cells.c.sku))
    )


def _outcome(name: str, changes: Changes, rows: int, since: date) -> BuildOutcome:
    if changes.full:
        return BuildOutcome(name, "full", rows, changes.reason)
    return BuildOutcome(name, "incremental", rows, f"dates from {since}; {changes.reason}")


# --- feat_sales_store_daily ------------------------------------------------------------------


def build_store_daily(conn: Connection, ctx: BuildContext, changes: Changes) -> BuildOutcome:
    """Every day of every store, history and horizon, from SQL aggregates and the calendar."""
    feat = table("feat_sales_store_daily")
    first_pos = pd.Timestamp(conn.execute(select(func.min(clean_table("pos").c.date)))
                             .scalar()).date()
    since = max(rebuild_from(changes), first_pos)
    last = ctx.as_of + timedelta(days=HORIZON_DAYS)
    lookback = since - timedelta(days=LOOKBACK_DAYS)
    require_calendar(conn, since, last)
    cells = sales_cells(conn, ctx.as_of, sold=table("feat_sales_daily"))
    cover = promo_cover(conn, cells)
    grid = _store_grid(conn, cells, lookback, last)
    if grid.empty:
        rows = rewrite(conn, feat, grid.iloc[0:0], ctx.run_id, "date", since)
        return _outcome(feat.name, changes, rows, since)
    frame = _with_sales(conn, grid, lookback, ctx.as_of)
    frame = _with_store_promos(conn, frame, cells, cover, lookback, last)
    frame = _with_store_events(conn, frame, cells, lookback, last)
    frame = _with_spend(conn, frame, cells, lookback, ctx.as_of)
    frame = _with_macro(conn, frame, ctx.as_of)
    frame = _with_store_lags(frame)
    frame = frame.loc[frame["date"] >= pd.Timestamp(since), [c.name for c in feat.columns
                                                            if c.name != "run_id"]]
    rows = rewrite(conn, feat, frame, ctx.run_id, "date", since)
    return _outcome(feat.name, changes, rows, since)


def _store_grid(conn: Connection, cells, first: date, last: date) -> pd.DataFrame:
    """(store, day) for every day from the store's first sale (or `first`) to `last`."""
    stores = read_frame(conn, select(
        cells.c.store_id, func.min(cells.c.first_date).label("first_date"),
        func.max(cells.c.region).label("region"), func.max(cells.c.country).label("country"),
        func.max(cells.c.format).label("format"),
    ).group_by(cells.c.store_id).order_by(cells.c.store_id))
    cal = read_frame(conn, select(table("feat_calendar")).where(
        table("feat_calendar").c.date.between(first, last)))
    grid = stores.merge(cal[["date", "day_num", "dow", "month", "day_of_year"]], how="cross")
    grid = grid.loc[grid["date"] >= grid["first_date"]]
    first_dn = (grid["first_date"] - pd.Timestamp("1970-01-01")).dt.days
    grid = grid.assign(age=grid["day_num"] - first_dn).drop(columns="first_date")
    return grid.sort_values(["store_id", "date"], kind="mergesort").reset_index(drop=True)


def _with_sales(conn: Connection, grid: pd.DataFrame, first: date, as_of: date) -> pd.DataFrame:
    sku = table("feat_sales_daily")
    sales = read_frame(conn, select(
        sku.c.date, sku.c.store_id, exact_sum(sku.c.units).label("units"),
        exact_sum(sku.c.revenue).label("revenue"), func.count().label("skus_sold"),
    ).where(sku.c.date.between(first, as_of)).group_by(sku.c.date, sku.c.store_id))
    inventory = clean_table("inventory")
    stockouts = read_frame(conn, select(
        inventory.c.date, inventory.c.store_id,
        func.sum(case((inventory.c.on_hand <= 0, 1), else_=0)).label("stockout_skus"),
    ).where(inventory.c.date.between(first, as_of))
        .group_by(inventory.c.date, inventory.c.store_id))
    frame = grid.merge(sales, on=["date", "store_id"], how="left").merge(
        stockouts, on=["date", "store_id"], how="left")
    past = frame["date"] <= pd.Timestamp(as_of)
    # A past day without POS rows sold nothing (closed or no demand); the future is unknown.
    # A day whose POS rows carry no units (a revenue-only extract) keeps units unknown.
    no_rows = past & frame["skus_sold"].isna()
    for column in ("units", "revenue", "skus_sold"):
        frame[column] = frame[column].astype("float64").where(~no_rows, 0.0)
    frame["is_future"] = ~past
    return frame


def _with_store_promos(conn: Connection, frame: pd.DataFrame, cells, cover, first: date,
                       last: date) -> pd.DataFrame:
    """Per store and day: distinct promotions, share of the store's SKUs on one, deepest
    discount; then the distance to the store's promotions."""
    spans = read_frame(conn, select(cover.c.promo_id, cover.c.store_id, cover.c.sku,
                                    cover.c.start_dn, cover.c.end_dn, cover.c.discount_pct))
    n_cells = read_frame(conn, select(cells.c.store_id, func.count().label("n_cells"))
                         .group_by(cells.c.store_id))
    per_day = _store_promo_days(spans, to_day_number(first), to_day_number(last))
    frame = frame.merge(per_day, on=["store_id", "day_num"], how="left").merge(
        n_cells, on="store_id", how="left")
    frame["promo_sku_share"] = (frame.pop("promoted_skus") / frame.pop("n_cells")).fillna(0.0)
    frame["promo_count"] = frame["promo_count"].fillna(0).astype("int64")
    return _with_promo_distance(frame, spans[["store_id", "start_dn", "end_dn"]]
                                .drop_duplicates())


def _store_promo_days(spans: pd.DataFrame, first_dn: int, last_dn: int) -> pd.DataFrame:
    """Aggregates of the promotions active per store and day in [first_dn, last_dn].

    In pandas rather than over a calendar join in SQL: the promotion x SKU x day rows are a
    few hundred thousand, where SQLite took seconds per pass to spread and count them.
    """
    start = spans["start_dn"].clip(lower=first_dn).to_numpy(dtype="int64")
    end = spans["end_dn"].clip(upper=last_dn).to_numpy(dtype="int64")
    length = np.maximum(end - start + 1, 0)
    row = np.repeat(np.arange(len(spans)), length)
    offset = np.arange(len(row)) - np.repeat(np.cumsum(length) - length, length)
    days = pd.DataFrame({
        "store_id": spans["store_id"].to_numpy()[row],
        "day_num": start[row] + offset,
        "promo_id": spans["promo_id"].to_numpy()[row],
        "sku": spans["sku"].to_numpy()[row],
        "discount_pct": spans["discount_pct"].to_numpy(dtype="float64")[row],
    })
    grouped = days.groupby(["store_id", "day_num"], sort=False)
    return pd.DataFrame({
        "promo_count": grouped["promo_id"].nunique(),
        "promoted_skus": grouped["sku"].nunique(),
        "promo_max_discount": grouped["discount_pct"].max(),
    }).reset_index()


def _with_promo_distance(frame: pd.DataFrame, spans: pd.DataFrame) -> pd.DataFrame:
    """Days since the store's last promotion ended; days until the next starts (<= 28)."""
    since = np.full(len(frame), np.nan)
    until = np.full(len(frame), np.nan)
    by_store = dict(tuple(spans.groupby("store_id")))
    for store, rows in frame.groupby("store_id").indices.items():
        store_spans = by_store.get(store)
        if store_spans is None:
            continue
        day = frame["day_num"].to_numpy()[rows]
        ends = np.sort(store_spans["end_dn"].to_numpy())
        starts = np.sort(store_spans["start_dn"].to_numpy())
        before = np.searchsorted(ends, day, side="left") - 1  # last end strictly before day
        since[rows] = np.where(before >= 0, day - ends[np.maximum(before, 0)], np.nan)
        after = np.searchsorted(starts, day, side="right")  # first start strictly after day
        nxt = np.where(after < len(starts), starts[np.minimum(after, len(starts) - 1)], np.nan)
        gap = nxt - day
        until[rows] = np.where(gap <= PROMO_LOOKAHEAD_DAYS, gap, np.nan)
    return frame.assign(days_since_promo=pd.array(since, dtype="Int64"),
                        days_until_promo=pd.array(until, dtype="Int64"))


def _with_store_events(conn: Connection, frame: pd.DataFrame, cells, first: date,
                       last: date) -> pd.DataFrame:
    events = store_events(conn, cells, first, last)
    found = read_frame(conn, select(events))
    frame = frame.merge(found, on=["date", "store_id"], how="left")
    frame["event_count"] = frame["event_count"].fillna(0).astype("int64")
    frame["is_holiday"] = frame.pop("holiday").fillna(0) > 0
    frame["is_closed"] = frame.pop("closed").fillna(0) > 0
    return frame


def _with_spend(conn: Connection, frame: pd.DataFrame, cells, first: date,
                as_of: date) -> pd.DataFrame:
    spend = country_spend(conn, cells, first, as_of)
    found = read_frame(conn, select(spend)).rename(
        columns={"spend": "media_spend", "campaigns": "campaigns_active"})
    frame = frame.merge(found, on=["date", "country"], how="left")
    past = ~frame["is_future"]
    frame["media_spend"] = frame["media_spend"].where(~past, frame["media_spend"].fillna(0.0))
    frame["campaigns_active"] = frame["campaigns_active"].astype("Float64").where(
        ~past, frame["campaigns_active"].fillna(0)).astype("Int64")
    return frame


def _with_macro(conn: Connection, frame: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """The latest value of each named indicator published on or before the day (and as-of)."""
    macro = clean_table("macro")
    found = read_frame(conn, select(macro.c.date, macro.c.country, macro.c.indicator,
                                    macro.c.value)
                       .where(macro.c.indicator.in_(MACRO_COLUMNS), macro.c.date <= as_of))
    if found.empty:
        return frame.assign(**{name: np.nan for name in MACRO_COLUMNS})
    wide = found.pivot_table(index=["country", "date"], columns="indicator", values="value")
    wide = wide.reset_index().sort_values("date", kind="mergesort")
    ordered = frame.sort_values("date", kind="mergesort")
    merged = pd.merge_asof(ordered, wide, on="date", by="country", direction="backward")
    for name in MACRO_COLUMNS:
        if name not in merged:
            merged[name] = np.nan
    return merged.sort_values(["store_id", "date"], kind="mergesort").reset_index(drop=True)


def _with_store_lags(frame: pd.DataFrame) -> pd.DataFrame:
    """Calendar-day lags and means of store units: the grid is dense, so shifts are days."""
    frame = frame.sort_values(["store_id", "date"], kind="mergesort").reset_index(drop=True)
    grouped = frame.groupby("store_id", sort=False)
    prior_units = grouped["units"].shift(1)
    prior_revenue = grouped["revenue"].shift(1)
    for k in LAGS:
        frame[f"units_lag_{k}"] = grouped["units"].shift(k).where(frame["age"] >= k)
    for k in MEANS:
        rolled = prior_units.groupby(frame["store_id"]).rolling(k, min_periods=k).mean()
        frame[f"units_mean_{k}"] = rolled.reset_index(level=0, drop=True).where(frame["age"] >= k)
    rolled = prior_revenue.groupby(frame["store_id"]).rolling(28, min_periods=28).mean()
    frame["revenue_mean_28"] = rolled.reset_index(level=0, drop=True).where(frame["age"] >= 28)
    return frame


SALES_DAILY = FeatureSpec(
    "feat_sales_daily",
    inputs=SALES_INPUTS,
    requires=("pos",),
    build=build_sales_daily,
)
SALES_STORE_DAILY = FeatureSpec(
    "feat_sales_store_daily",
    inputs=SALES_INPUTS + ("macro",),
    requires=("pos",),
    build=build_store_daily,
)
