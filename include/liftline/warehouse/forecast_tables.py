"""The sales forecast output table, `ml_sales_forecast`, written by `liftline.forecast`.

CONTRACT.md columns first (run_id, model_name, model_version, series_key, date, yhat,
yhat_lower, yhat_upper); the rest are additive. One row per series and period of a scoring
run, at two grains:

- `store_day`: series_key = store_id, date = the day (all SKUs summed);
- `store_category_week`: series_key = "<store_id>|<category>", date = the Monday of the week;
  `period_days` says how many of the week's days are in the horizon (first/last may be partial).

`measure` says what is forecast: `units` or `revenue` (the extract's currency). A reader that
means units filters `measure = 'units'`; rows written before the column existed are units.

A run rewrites its own rows (delete-then-insert by run_id and grain in one transaction).
Imported by `liftline.warehouse` so `create_schema` creates it on the shared metadata.
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
    update,
)

from .columns import add_missing_columns, missing_columns
from .tables import metadata

ml_sales_forecast = Table(
    "ml_sales_forecast",
    metadata,
    Column("run_id", String, nullable=False),
    Column("model_name", String, nullable=False),  # the champion candidate that made the row
    Column("model_version", String, nullable=False),  # spec version . training run
    Column("series_key", String, nullable=False),
    Column("date", Date, nullable=False),
    Column("yhat", Float),
    Column("yhat_lower", Float),  # `interval_level` conformal interval (backtest residuals)
    Column("yhat_upper", Float),
    Column("grain", String),  # store_day | store_category_week
    Column("store_id", String),
    Column("category", String),  # NULL at the store_day grain
    Column("as_of_date", Date),  # the forecast origin: the last day of observed sales
    Column("horizon_days", Integer),  # days from as_of_date to the row's (last) day
    Column("period_days", Integer),  # 1 per day; days of the week inside the horizon
    Column("closed_days", Integer),  # days of the period forecast closed (yhat 0 on them)
    Column("is_young_series", Boolean),  # forecast by the global fallback model
    Column("interval_level", Float),
    Column("plan_qty", Float),  # newsvendor quantity at `critical_ratio`
    Column("critical_ratio", Float),  # underage / (underage + overage)
    Column("expected_underage_cost", Float),  # expected lost margin when stocking plan_qty
    Column("expected_overage_cost", Float),  # expected written-off cost when stocking plan_qty
    Column("trained_run_id", String),  # the training run that chose the champion
    Column("created_at", DateTime),
    Column("measure", String),  # units | revenue (schema version 9; older rows: units)
    Index(None, "run_id"),
    Index(None, "series_key", "date"),
)

FORECAST_TABLES: tuple[str, ...] = ("ml_sales_forecast",)
MEASURES: tuple[str, ...] = ("units", "revenue")

# Columns added after schema version 1 created the table with only the CONTRACT columns.
ADDED_COLUMNS: tuple[str, ...] = tuple(c.name for c in ml_sales_forecast.columns)[8:]


def add_forecast_columns(conn: Connection) -> None:
    """ml_sales_forecast: grain, plan quantity, costs and provenance columns (migration).

    For the schema module's MIGRATIONS: adds whatever of ADDED_COLUMNS an existing table
    lacks (a fresh warehouse gets them from create_all). Idempotent.
    """
    add_missing_columns(conn, ml_sales_forecast, ADDED_COLUMNS)


def missing_forecast_columns(conn: Connection) -> list[str]:
    """ADDED_COLUMNS an existing ml_sales_forecast lacks (empty: up to date)."""
    return missing_columns(conn, ml_sales_forecast, ADDED_COLUMNS)


def add_forecast_measure(conn: Connection) -> None:
    """ml_sales_forecast.measure (units | revenue); rows written before it are units"""
    add_missing_columns(conn, ml_sales_forecast, ["measure"])
    conn.execute(update(ml_sales_forecast).where(ml_sales_forecast.c.measure.is_(None))
                 .values(measure="units"))
