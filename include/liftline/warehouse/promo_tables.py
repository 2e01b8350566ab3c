"""The promotion-lift output tables, written by `liftline.promo` and `liftline.monitor`.

CONTRACT.md columns first; the rest are additive (schema version 6 adds them to a warehouse
created earlier).

- `ml_promo_lift`: one row per promotion. `predicted_lift_pct` is a what-if that updates until
  the promotion starts and is frozen from then on (`prediction_kind` says which: `what_if`,
  `frozen`, or `backfill` for a promotion that had started before Liftline first predicted
  it). The actual lift and its money figures update daily while the promotion runs and over
  its post-period; `alert_state` is what the divergence monitor last concluded.
- `ml_promo_recommendations`: the promotions a scoring run recommends, per SKU × store × week.

Imported by `liftline.warehouse` so `create_schema` creates them on the shared metadata.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Date, DateTime, Float, Index, Integer, String, Table

from .columns import add_missing_columns
from .tables import _run_id, metadata

ml_promo_lift = Table(
    "ml_promo_lift",
    metadata,
    Column("promo_id", String, primary_key=True),
    Column("predicted_lift_pct", Float),
    Column("predicted_at", DateTime),
    Column("model_version", String),
    Column("actual_lift_pct", Float),
    Column("observed_days", Integer),
    Column("divergence_pp", Float),  # actual - predicted, lift points
    Column("status", String),  # planned / running / post / completed
    _run_id(nullable=True),
    # --- additive (schema version 6) ---
    Column("start_date", Date),
    Column("end_date", Date),
    Column("category", String),
    Column("stores", Integer),  # covered stores measured
    Column("prediction_kind", String),  # what_if / frozen / backfill
    Column("p_any_lift", Float),
    Column("predicted_lift_lower", Float),  # interval_level prediction interval
    Column("predicted_lift_upper", Float),
    Column("baseline_method", String),  # forecast / pre_period (the fallback) / mixed (by store)
    Column("baseline_note", String),
    Column("baseline_units", Float),  # counterfactual units of the promoted SKUs, observed days
    Column("actual_units", Float),
    Column("actual_lift_lower", Float),  # 90% interval from the counterfactual's own error
    Column("actual_lift_upper", Float),
    Column("incremental_units", Float),  # during the window, promoted SKUs
    Column("incremental_revenue", Float),
    Column("incremental_margin", Float),
    Column("dip_units", Float),  # post-period change of the promoted SKUs (negative: a dip)
    Column("cannibalized_units", Float),  # window change of sibling SKUs (negative: lost)
    Column("net_incremental_units", Float),  # incremental + dip + cannibalized
    Column("net_incremental_margin", Float),
    Column("alert_state", String),  # ok / diverged / too_early (the monitor's last verdict)
    Column("as_of_date", Date),  # the last sales day the actuals include
    Column("updated_at", DateTime),
)

ml_promo_recommendations = Table(
    "ml_promo_recommendations",
    metadata,
    _run_id(),
    Column("sku", String),
    Column("store_id", String),
    Column("week_start", Date),
    Column("discount_pct", Float),
    Column("duration_days", Integer),
    Column("expected_lift_pct", Float),
    Column("expected_incremental_margin", Float),
    # --- additive (schema version 6) ---
    Column("category", String),
    Column("p_any_lift", Float),
    Column("lift_lower", Float),
    Column("lift_upper", Float),
    Column("baseline_units", Float),
    Column("expected_incremental_units", Float),
    Column("expected_incremental_revenue", Float),
    Column("model_version", String),
    Column("created_at", DateTime),
    Index(None, "run_id"),
)

PROMO_TABLES: tuple[str, ...] = ("ml_promo_lift", "ml_promo_recommendations")
_CONTRACT_COLUMNS = {"ml_promo_lift": 9, "ml_promo_recommendations": 8}


def add_promo_columns(conn: Connection) -> None:
    """Schema version 6: the additive columns of both tables on an existing warehouse."""
    for t in (ml_promo_lift, ml_promo_recommendations):
        add_missing_columns(conn, t, [c.name for c in t.columns][_CONTRACT_COLUMNS[t.name]:])
