"""ml_promo_lift: predictions frozen at the start, actuals updated daily, one row per promotion.

Lifecycle of a row (`prediction_kind`):

- `what_if`: the promotion is planned (starts after as-of); every scoring run replaces the
  prediction with the current model's, so a planner sees the latest estimate;
- `frozen`: the first scoring run on or after the start keeps the last what-if as it was
  (CONTRACT.md: frozen when the promotion starts); nothing changes it again;
- `backfill`: the promotion had already started when Liftline first saw it; predicted once
  from what was known at its start (point-in-time features), then kept like a frozen one.

The monitor updates the actual columns only. Every write is an update by promo_id inside the
caller's transaction, so a rerun of a task leaves the table as one run would.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, insert, select, update

from liftline.warehouse import read_frame, table

WHAT_IF, FROZEN, BACKFILL = "what_if", "frozen", "backfill"
PREDICTION_COLUMNS = ("predicted_lift_pct", "predicted_lift_lower", "predicted_lift_upper",
                      "p_any_lift", "model_version", "predicted_at", "prediction_kind")
ACTUAL_COLUMNS = ("actual_lift_pct", "actual_lift_lower", "actual_lift_upper", "observed_days",
                  "divergence_pp", "status", "stores", "baseline_method", "baseline_note",
                  "baseline_units", "actual_units", "incremental_units", "incremental_revenue",
                  "incremental_margin", "dip_units", "cannibalized_units",
                  "net_incremental_units", "net_incremental_margin", "alert_state",
                  "as_of_date")
DATE_COLUMNS = frozenset({"start_date", "end_date", "as_of_date"})


def current_rows(bind: Engine | Connection) -> pd.DataFrame:
    """Every ml_promo_lift row (dates as Timestamps)."""
    return read_frame(bind, select(table("ml_promo_lift")))


def plan_prediction_updates(existing: pd.DataFrame, predicted: pd.DataFrame,
                            as_of: date) -> pd.DataFrame:
    """Which predictions to write: `predicted` rows (promo_id, start_date, end_date, category,
    prediction columns) filtered and labelled by the lifecycle above."""
    known = existing.set_index("promo_id")["prediction_kind"] if len(existing) else pd.Series(
        dtype=object)
    kind = predicted["promo_id"].map(known)
    started = pd.to_datetime(predicted["start_date"]) <= pd.Timestamp(as_of)
    planned = predicted.loc[~started & (kind.isna() | (kind == WHAT_IF))].assign(
        prediction_kind=WHAT_IF)
    late = predicted.loc[started & kind.isna()].assign(prediction_kind=BACKFILL)
    return pd.concat([planned, late], ignore_index=True)


def freeze_started(conn: Connection, as_of: date) -> int:
    """what_if rows of promotions that have started become frozen; returns how many."""
    lift = table("ml_promo_lift")
    result = conn.execute(update(lift)
                          .where(lift.c.prediction_kind == WHAT_IF, lift.c.start_date <= as_of)
                          .values(prediction_kind=FROZEN))
    return int(result.rowcount or 0)


def write_rows(conn: Connection, frame: pd.DataFrame, columns: tuple[str, ...],
               run_id: str) -> int:
    """Update `columns` of each promotion's row (insert the row if it is new)."""
    if frame.empty:
        return 0
    lift = table("ml_promo_lift")
    present = set(conn.execute(select(lift.c.promo_id)
                               .where(lift.c.promo_id.in_(list(frame["promo_id"])))).scalars())
    now = datetime.now(UTC).replace(tzinfo=None)
    keep = [c for c in (*columns, "start_date", "end_date", "category") if c in frame.columns]
    for row in frame.to_dict("records"):
        values = {name: _plain(row[name], name in DATE_COLUMNS) for name in keep}
        values.update(run_id=run_id, updated_at=now)
        if row["promo_id"] in present:
            conn.execute(update(lift).where(lift.c.promo_id == row["promo_id"]).values(values))
        else:
            conn.execute(insert(lift).values(promo_id=row["promo_id"], **values))
    return len(frame)


def _plain(value: Any, is_date: bool = False) -> Any:
    """Database-ready scalars: NaN/NaT -> None, numpy -> Python, Timestamps -> date(time)."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        if pd.isna(value):
            return None
        return value.date() if is_date else value.to_pydatetime()
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if value is pd.NaT:
        return None
    return value
