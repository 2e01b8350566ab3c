"""The quarter planner's output tables, written by `liftline.plan.pipeline.plan_quarter`.

A plan is keyed by `plan_id`, made from the request and the run id (a rerun of the same request
in the same run replaces exactly its rows; another budget in the same run is another plan).

- `ml_plan`: one row per plan line. `kind` is `media` (country, channel, week_start; the planned
  value is the week's spend) or `promotion` (sku, store_id, week_start, terms; the planned value
  is the discount). Expected incremental revenue and margin with a 90% interval (see
  liftline/plan/README.md for how each line's share is made).
- `ml_plan_weekly`: one row per store x week: expected units, revenue (90% intervals) and gross
  margin under the plan, beside business as usual's.
- `ml_plan_summary`: one row per plan: the request, the plan's and business as usual's totals,
  the incremental revenue and margin with their intervals, the models that were missing.

Imported by `liftline.warehouse` so `create_schema` creates them on the shared metadata.
"""

from __future__ import annotations

from sqlalchemy import (
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

from .tables import metadata

ml_plan = Table(
    "ml_plan",
    metadata,
    Column("plan_id", String, primary_key=True),
    Column("line", Integer, primary_key=True, autoincrement=False),  # 0 .. lines-1
    Column("run_id", String, nullable=False),
    Column("week_start", Date),
    Column("kind", String),  # media | promotion
    Column("country", String),
    Column("channel", String),  # media lines
    Column("store_id", String),  # promotion lines
    Column("sku", String),
    Column("category", String),
    Column("discount_pct", Float),
    Column("duration_days", Integer),
    Column("promo_type", String),
    Column("origin", String),  # planned | recommended | business_as_usual (promotions)
    Column("planned_value", Float),  # media: the week's spend; promotion: its discount, percent
    Column("bau_value", Float),  # media: business as usual's spend that week
    Column("expected_incremental_units", Float),
    Column("expected_incremental_revenue", Float),
    Column("expected_incremental_revenue_lower", Float),  # 90% interval from the base forecast
    Column("expected_incremental_revenue_upper", Float),
    Column("expected_incremental_margin", Float),  # after the line's own spend or cost
    Column("created_at", DateTime),
    Index(None, "run_id"),
)

ml_plan_weekly = Table(
    "ml_plan_weekly",
    metadata,
    Column("plan_id", String, primary_key=True),
    Column("store_id", String, primary_key=True),
    Column("week_start", Date, primary_key=True),
    Column("run_id", String, nullable=False),
    Column("country", String),
    Column("units", Float),
    Column("units_lower", Float),
    Column("units_upper", Float),
    Column("revenue", Float),
    Column("revenue_lower", Float),
    Column("revenue_upper", Float),
    Column("gross_margin", Float),
    Column("base_units", Float),  # no promotion, no media
    Column("base_revenue", Float),
    Column("promo_units", Float),  # the week's promotion increments before media
    Column("promotions", Integer),  # promotions starting that week in the store
    Column("media_uplift", Float),  # relative lift of the store's country that week
    Column("bau_units", Float),
    Column("bau_revenue", Float),
    Column("bau_margin", Float),  # business as usual's gross margin
    Column("created_at", DateTime),
    Index(None, "run_id"),
)

ml_plan_summary = Table(
    "ml_plan_summary",
    metadata,
    Column("plan_id", String, primary_key=True),
    Column("run_id", String, nullable=False),
    Column("start_date", Date),
    Column("weeks", Integer),
    Column("mode", String),
    Column("media_budget", Float),  # NULL: business as usual's total
    Column("media_bounds_lower", Float),
    Column("media_bounds_upper", Float),
    Column("promo_margin_floor", Float),
    Column("revenue", Float),
    Column("gross_margin", Float),
    Column("media_spend", Float),
    Column("promo_cost", Float),
    Column("margin", Float),  # gross margin - media spend - promotion costs
    Column("promotions", Integer),
    Column("bau_revenue", Float),
    Column("bau_gross_margin", Float),
    Column("bau_media_spend", Float),
    Column("bau_promo_cost", Float),
    Column("bau_margin", Float),
    Column("bau_promotions", Integer),
    Column("incremental_revenue", Float),
    Column("incremental_revenue_lower", Float),
    Column("incremental_revenue_upper", Float),
    Column("incremental_margin", Float),
    Column("incremental_margin_lower", Float),
    Column("incremental_margin_upper", Float),
    Column("missing_models", Text),  # JSON list: what the plan could not use
    Column("notes", Text),  # JSON list
    Column("created_at", DateTime),
    Index(None, "run_id"),
)

PLAN_TABLES: tuple[str, ...] = ("ml_plan", "ml_plan_weekly", "ml_plan_summary")


def add_plan_tables(conn: Connection) -> None:
    """the quarter planner's tables: ml_plan, ml_plan_weekly, ml_plan_summary"""
    # Only new tables: create_all makes them after the migrations.
