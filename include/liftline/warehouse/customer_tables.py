"""The customer model output tables, written by `liftline.customers`.

CONTRACT.md columns first; the rest are additive (schema version 8 adds them to a warehouse
created earlier).

- `ml_customer_segments`: one row per customer and scoring run: the segment (a readable name
  that stays the same across refits), its recommended action, the RFM figures it was assigned
  from, and the expected revenue of the next 6 months with the customer's rank in the segment.
- `ml_customer_profiles`: one row per segment and run: size, share of customers and revenue,
  mean order value, frequency, recency.
- `ml_segment_migrations`: one row per customer whose segment changed since the previous
  scoring run.
- `ml_satisfaction_scores`: one row per open service interaction and run: the probability of a
  low rating (1-2), the risk level by the spec's thresholds and the top reasons.

Imported by `liftline.warehouse` so `create_schema` creates them on the shared metadata.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from .columns import add_missing_columns
from .tables import metadata

ml_customer_segments = Table(
    "ml_customer_segments",
    metadata,
    Column("run_id", String, primary_key=True),
    Column("customer_id", String, primary_key=True),
    Column("segment", String),
    Column("recency_days", Float),
    Column("frequency", Float),
    Column("monetary", Float),
    # --- additive (schema version 8) ---
    Column("as_of_date", Date),  # the feat_customer snapshot scored
    Column("action", String),  # retain / upsell / activate / win back ...
    Column("avg_order_value", Float),
    Column("tenure_days", Float),
    Column("expected_revenue_6m", Float),  # expected revenue of the 182 days after as-of
    Column("value_rank", Integer),  # 1 = highest expected revenue within the segment
    Column("model_version", String),  # the segment model's
    Column("value_model_version", String),  # the expected-value model's (NULL: none yet)
    Index(None, "segment"),
)

ml_customer_profiles = Table(
    "ml_customer_profiles",
    metadata,
    Column("run_id", String, primary_key=True),
    Column("segment", String, primary_key=True),
    Column("customers", Integer),
    Column("revenue_share", Float),  # of the year's revenue (feat_customer.monetary)
    Column("action", String),
    Column("customer_share", Float),
    Column("revenue", Float),
    Column("mean_order_value", Float),
    Column("mean_frequency", Float),  # invoices in the 365 days to as-of
    Column("mean_recency_days", Float),
    Column("mean_monetary", Float),
    Column("expected_revenue_6m", Float),  # summed over the segment's customers
    Column("as_of_date", Date),
    Column("model_version", String),
)

ml_segment_migrations = Table(
    "ml_segment_migrations",
    metadata,
    Column("run_id", String, primary_key=True),
    Column("customer_id", String, primary_key=True),
    Column("from_segment", String),
    Column("to_segment", String),
    Column("from_as_of", Date),  # the previous scoring's snapshot
    Column("as_of_date", Date),
)

ml_satisfaction_scores = Table(
    "ml_satisfaction_scores",
    metadata,
    Column("run_id", String, primary_key=True),
    Column("interaction_id", String, primary_key=True),
    Column("p_low_satisfaction", Float),
    Column("risk_level", String),  # high / medium / low
    # --- additive (schema version 8) ---
    Column("customer_id", String),
    Column("opened_at", DateTime),
    Column("interaction_type", String),
    Column("channel", String),
    Column("repeat_contact", Boolean),
    Column("top_reasons", Text),  # JSON list of the features that raise the risk most
    Column("as_of_date", Date),
    Column("model_version", String),
    Column("scored_at", DateTime),
)

CUSTOMER_TABLES: tuple[str, ...] = ("ml_customer_segments", "ml_customer_profiles",
                                    "ml_segment_migrations", "ml_satisfaction_scores")
_CONTRACT_COLUMNS = {"ml_customer_segments": 6, "ml_satisfaction_scores": 4}


def add_customer_columns(conn: Connection) -> None:
    """Schema version 8: the additive columns of the two tables earlier versions created
    (ml_customer_profiles and ml_segment_migrations are new: create_all makes them)."""
    for t in (ml_customer_segments, ml_satisfaction_scores):
        add_missing_columns(conn, t, [c.name for c in t.columns][_CONTRACT_COLUMNS[t.name]:])
