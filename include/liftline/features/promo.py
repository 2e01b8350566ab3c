"""feat_promo_effectiveness: one row per promotion and covered store.

Per promotion x store it holds the promotion's terms and context, the pre-period baseline (the
28 days before the start, leaving out days when a covered SKU was on another promotion and
days the store was closed), the sales during and after the window as observed up to the as-of
date, and the history of the store's earlier promotions of the same category, using only
those whose window ended before this one started (what was known when it started).

Reads feat_sales_daily (covered SKUs' daily sales) and feat_sales_store_daily (closures), so it
is built after them. Incremental: promotions whose window (post-period included) reaches the
earliest changed date are rebuilt; a later promotion's history is then rebuilt with them.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Column, Connection, Date, String, and_, case, func, select

from liftline.warehouse import bulk_insert, clean_table, exact_sum, read_frame, table

from .base import BuildContext, BuildOutcome, Changes, FeatureSpec
from .coverage import promo_cover, sales_cells, temp_table
from .sales import SALES_INPUTS, rebuild_from
from .sql import rewrite

PRE_DAYS = 28
POST_DAYS = 14


def build_promo_effectiveness(
    conn: Connection, ctx: BuildContext, changes: Changes
) -> BuildOutcome:
    feat = table("feat_promo_effectiveness")
    since = rebuild_from(changes)
    # Rows whose window (post-period included) reaches `since` are rebuilt.
    ends_from = date.min if since == date.min else since - timedelta(days=POST_DAYS)
    cells = sales_cells(conn, ctx.as_of, sold=table("feat_sales_daily"))
    all_cover = read_frame(conn, select(promo_cover(conn, cells)))
    cover = all_cover.loc[all_cover["end_date"] >= pd.Timestamp(ends_from)]
    if cover.empty:
        rows = rewrite(conn, feat, _empty(feat), ctx.run_id, "end_date", _since(ends_from))
        return _outcome(changes, rows, ends_from)
    daily = _window_sales(conn, cover)
    closed = _closed_days(conn, cover)
    frame = _promo_store_rows(conn, cover, cells)
    frame = _with_phases(frame, daily, closed, ctx.as_of)
    frame = _with_concurrency(frame, all_cover)  # overlaps with older promotions count too
    frame = _with_history(conn, frame, ends_from)
    columns = [c.name for c in feat.columns if c.name != "run_id"]
    rows = rewrite(conn, feat, frame[columns], ctx.run_id, "end_date", _since(ends_from))
    return _outcome(changes, rows, ends_from)


def _since(ends_from: date) -> date | None:
    return None if ends_from == date.min else ends_from


def _empty(feat) -> pd.DataFrame:
    return pd.DataFrame({c.name: [] for c in feat.columns if c.name != "run_id"})


def _window_sales(conn: Connection, cover: pd.DataFrame) -> pd.DataFrame:
    """Daily units and revenue of each promotion's covered SKUs per store, pre to post."""
    windows = cover[["promo_id", "store_id", "sku", "start_date", "end_date"]].assign(
        first_date=cover["start_date"] - pd.Timedelta(days=PRE_DAYS),
        last_date=cover["end_date"] + pd.Timedelta(days=POST_DAYS),
    )
    tmp = temp_table(
        conn, "promo_windows",
        Column("promo_id", String), Column("store_id", String), Column("sku", String),
        Column("start_date", Date), Column("end_date", Date),
        Column("first_date", Date), Column("last_date", Date),
    )
    bulk_insert(conn, tmp, windows)
    sales = table("feat_sales_daily")
    in_window = case((sales.c.date.between(tmp.c.start_date, tmp.c.end_date), 1), else_=0)
    # promo_count counts this promotion too inside its window; anything beyond is another one.
    other = case((sales.c.promo_count - in_window > 0, 1), else_=0)
    query = (
        select(tmp.c.promo_id, tmp.c.store_id, sales.c.date,
               exact_sum(sales.c.units).label("units"),
               exact_sum(sales.c.revenue).label("revenue"),
               func.max(other).label("other_promo"))
        .select_from(tmp.join(sales, and_(
            sales.c.store_id == tmp.c.store_id, sales.c.sku == tmp.c.sku,
            sales.c.date.between(tmp.c.first_date, tmp.c.last_date))))
        .group_by(tmp.c.promo_id, tmp.c.store_id, sales.c.date)
    )
    return read_frame(conn, query)


def _closed_days(conn: Connection, cover: pd.DataFrame) -> pd.DataFrame:
    store_days = table("feat_sales_store_daily")
    first = cover["start_date"].min() - pd.Timedelta(days=PRE_DAYS)
    return read_frame(conn, select(store_days.c.store_id, store_days.c.date).where(
        store_days.c.is_closed.is_(True), store_days.c.date >= first.date()))


def _promo_store_rows(conn: Connection, cover: pd.DataFrame, cells) -> pd.DataFrame:
    """Terms and context of each promotion x store."""
    promos = read_frame(conn, select(clean_table("promotions")))
    per_store = cover.groupby(["promo_id", "store_id"], as_index=False).agg(
        n_skus=("sku", "nunique"))
    stores = read_frame(conn, select(cells.c.store_id, func.max(cells.c.region).label("region"),
                                     func.max(cells.c.country).label("country"),
                                     func.min(cells.c.first_date).label("store_first_date"))
                        .group_by(cells.c.store_id))
    sku_category = read_frame(conn, select(clean_table("products").c.sku,
                                           clean_table("products").c.category))
    terms = promos[["promo_id", "start_date", "end_date", "discount_pct", "promo_type", "sku",
                    "category"]].merge(sku_category.rename(columns={"category": "sku_category"}),
                                       on="sku", how="left")
    terms["category"] = terms["category"].fillna(terms.pop("sku_category"))
    frame = per_store.merge(terms, on="promo_id").merge(stores, on="store_id", how="left")
    frame["duration_days"] = (frame["end_date"] - frame["start_date"]).dt.days + 1
    frame["month"] = frame["start_date"].dt.month
    return frame


def _with_phases(frame: pd.DataFrame, daily: pd.DataFrame, closed: pd.DataFrame,
                 as_of: date) -> pd.DataFrame:
    """Baseline, during and post figures from the days observed up to `as_of`."""
    as_of_ts = pd.Timestamp(as_of)
    days = _window_days(frame, as_of_ts)
    days = days.merge(daily, on=["promo_id", "store_id", "date"], how="left")
    days = days.merge(closed.assign(closed=True), on=["store_id", "date"], how="left")
    days[["units", "revenue"]] = days[["units", "revenue"]].fillna(0.0)
    usable = days["closed"].isna()
    pre = usable & (days["phase"] == "pre") & (days["other_promo"].fillna(0) == 0)
    keys = ["promo_id", "store_id"]
    for phase, mask in (("baseline", pre), ("during", usable & (days["phase"] == "during")),
                        ("post", usable & (days["phase"] == "post"))):
        sums = days.loc[mask].groupby(keys).agg(
            n=("date", "size"), units=("units", "sum"), revenue=("revenue", "sum"))
        frame = frame.merge(sums.add_prefix(f"{phase}_").reset_index(), on=keys, how="left")
    for phase in ("baseline", "during", "post"):
        frame[f"{phase}_days"] = frame.pop(f"{phase}_n").fillna(0).astype("int64")
    for phase in ("during", "post"):
        for measure in ("units", "revenue"):
            name = f"{phase}_{measure}"
            frame[name] = frame[name].where(frame[f"{phase}_days"] > 0)
    has_base = frame["baseline_days"] > 0
    frame["baseline_units_per_day"] = (frame.pop("baseline_units") / frame["baseline_days"]
                                       ).where(has_base)
    frame["baseline_revenue_per_day"] = (frame.pop("baseline_revenue") / frame["baseline_days"]
                                         ).where(has_base)
    during_rate = frame["during_units"] / frame["during_days"]
    base = frame["baseline_units_per_day"]
    frame["observed_lift_pct"] = ((during_rate / base - 1) * 100).where(
        (frame["during_days"] > 0) & (base > 0))
    frame["status"] = np.select(
        [frame["start_date"] > as_of_ts,
         frame["end_date"] + pd.Timedelta(days=POST_DAYS) > as_of_ts],
        ["planned", "running"], "completed")
    return frame


def _window_days(frame: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row per promotion x store x day of its pre, during and post periods up to as-of."""
    starts = frame["start_date"] - pd.Timedelta(days=PRE_DAYS)
    lengths = (frame["end_date"] - starts).dt.days + 1 + POST_DAYS
    index = np.repeat(np.arange(len(frame)), lengths.to_numpy())
    offsets = np.arange(len(index)) - np.repeat(np.cumsum(lengths.to_numpy()) - lengths.to_numpy(),
                                                lengths.to_numpy())
    dates = starts.to_numpy()[index] + pd.to_timedelta(offsets, unit="D").to_numpy()
    days = pd.DataFrame({
        "promo_id": frame["promo_id"].to_numpy()[index],
        "store_id": frame["store_id"].to_numpy()[index],
        "date": dates,
    })
    # Days before the store's first sale were not observed: neither zero sales nor a baseline.
    observed = dates >= frame["store_first_date"].to_numpy()[index]
    start = frame["start_date"].to_numpy()[index]
    end = frame["end_date"].to_numpy()[index]
    days["phase"] = np.select([days["date"] < start, days["date"] <= end], ["pre", "during"],
                              "post")
    return days.loc[observed & (days["date"] <= as_of).to_numpy()]


def _with_concurrency(frame: pd.DataFrame, cover: pd.DataFrame) -> pd.DataFrame:
    """How many other promotions covering the same store overlap this one's window."""
    spans = cover[["promo_id", "store_id", "start_date", "end_date"]].drop_duplicates()
    pairs = spans.merge(spans, on="store_id", suffixes=("", "_other"))
    overlap = ((pairs["promo_id"] != pairs["promo_id_other"])
               & (pairs["start_date_other"] <= pairs["end_date"])
               & (pairs["end_date_other"] >= pairs["start_date"]))
    counts = pairs.loc[overlap].groupby(["promo_id", "store_id"]).size().rename(
        "concurrent_promos")
    frame = frame.merge(counts.reset_index(), on=["promo_id", "store_id"], how="left")
    frame["concurrent_promos"] = frame["concurrent_promos"].fillna(0).astype("int64")
    return frame


def _with_history(conn: Connection, frame: pd.DataFrame, ends_from: date) -> pd.DataFrame:
    """Earlier promotions of the category at the store that ended before this one started."""
    feat = table("feat_promo_effectiveness")
    kept = read_frame(conn, select(feat.c.promo_id, feat.c.store_id, feat.c.category,
                                   feat.c.start_date, feat.c.end_date, feat.c.observed_lift_pct)
                      .where(feat.c.end_date < ends_from))
    return with_category_history(frame, pd.concat([kept, frame[kept.columns]],
                                                  ignore_index=True))


def with_category_history(rows: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """`rows` (store_id, category, start_date) with the store's promotions of the category in
    `history` that ended before each start: how many, their mean and last observed lift, and
    the days since the last one ended. Point in time: what was known when each one started.

    Also how the lift model's what-if and recommendation rows get these features, so a
    prediction sees them exactly as training did.
    """
    keys = ["store_id", "category", "start_date"]
    past = history[["store_id", "category", "end_date", "observed_lift_pct"]]
    pairs = rows[keys].drop_duplicates().merge(past, on=["store_id", "category"])
    pairs = pairs.loc[pairs["end_date"] < pairs["start_date"]]
    grouped = pairs.sort_values("end_date", kind="mergesort").groupby(keys)
    summary = pd.DataFrame({
        "past_promos_category": grouped.size(),
        "past_lift_mean_category": grouped["observed_lift_pct"].mean(),
        "past_lift_last_category": grouped["observed_lift_pct"].last(),
        "last_end": grouped["end_date"].max(),
    }).reset_index()
    rows = rows.merge(summary, on=keys, how="left")
    rows["past_promos_category"] = rows["past_promos_category"].fillna(0).astype("int64")
    rows["days_since_category_promo"] = pd.array(
        (rows["start_date"] - rows.pop("last_end")).dt.days, dtype="Int64")
    return rows


def _outcome(changes: Changes, rows: int, ends_from: date) -> BuildOutcome:
    name = "feat_promo_effectiveness"
    if changes.full:
        return BuildOutcome(name, "full", rows, changes.reason)
    return BuildOutcome(name, "incremental", rows,
                        f"promotions ending from {ends_from}; {changes.reason}")


PROMO_EFFECTIVENESS = FeatureSpec(
    "feat_promo_effectiveness",
    inputs=SALES_INPUTS,
    requires=("pos", "promotions"),
    build=build_promo_effectiveness,
)
