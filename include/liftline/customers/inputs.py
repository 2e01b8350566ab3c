"""What the customer models read: the stored feat_customer snapshot they score, and computed
point-in-time snapshots, purchase histories and revenue windows (from `liftline.features`)
for their backtests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pandas as pd
from sqlalchemy import Engine, func, inspect, select

from liftline.features import customer_purchases, customer_revenue, customer_snapshot_at
from liftline.modeling import parse_as_of, resolve_as_of
from liftline.warehouse import read_frame, table

Log = Callable[[str], None]


def customer_as_of(engine: Engine, as_of: date | str | None, log: Log) -> date | None:
    """The feat_customer snapshot a customer stage uses, or None when there is none.

    The as-of rule of every model stage (`resolve_as_of`) with feat_customer as its fallback:
    a world with only `erp` and `customers` has no POS, so no sales features fix an as-of; then
    the latest feat_customer snapshot is the as-of. Either way the snapshot used is the latest
    one on or before that date (feature builds write one per as-of; a model never reads past it).
    """
    if not inspect(engine).has_table("feat_customer"):
        return None
    wanted = resolve_as_of(engine, as_of, log, fallback=("feat_customer", "as_of_date"))
    feat = table("feat_customer")
    query = select(func.max(feat.c.as_of_date))
    if wanted is not None:
        query = query.where(feat.c.as_of_date <= wanted)
    with engine.connect() as conn:
        found = conn.execute(query).scalar()
    found = parse_as_of(found)
    if found is not None and wanted is not None and found != wanted:
        log(f"customer models: no feat_customer snapshot as of {wanted}; using the one of "
            f"{found}")
    return found


def read_snapshot(engine: Engine, as_of: date) -> pd.DataFrame:
    """The stored feat_customer partition of `as_of`, by customer: the segment model's seeded
    sampling and K-means start take rows by position, so another order is another model."""
    feat = table("feat_customer")
    return read_frame(engine, select(feat).where(feat.c.as_of_date == as_of)
                      .order_by(feat.c.customer_id))


def history_at(engine: Engine, day: date, stored: bool = False) -> tuple[pd.DataFrame,
                                                                        pd.DataFrame]:
    """(feat_customer snapshot, all-time purchases) as known on `day`; the snapshot is the
    stored partition when `stored`, else computed (a backtest's earlier dates)."""
    snapshot = read_snapshot(engine, day) if stored else customer_snapshot_at(engine, day)
    return snapshot, customer_purchases(engine, day)


def revenue_between(engine: Engine, customers: pd.Series, start: date, end: date) -> pd.Series:
    """Revenue of each of `customers` in (start, end], 0 for those without an invoice."""
    found = customer_revenue(engine, start, end).set_index("customer_id").revenue
    return found.reindex(customers.to_numpy()).fillna(0.0).set_axis(customers.index)
