"""ml_sales_forecast: registered on the shared metadata; older warehouses can be upgraded."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Column, Date, Float, MetaData, String, Table, select

from liftline.forecast.writer import write_forecasts
from liftline.warehouse import (
    OUTPUT_TABLES,
    SCHEMA_VERSION,
    create_schema,
    metadata,
    read_frame,
    table,
)
from liftline.warehouse.forecast_tables import (
    ADDED_COLUMNS,
    add_forecast_columns,
    missing_forecast_columns,
)
from liftline.warehouse.tables import meta_schema_version

CONTRACT = ["run_id", "model_name", "model_version", "series_key", "date", "yhat", "yhat_lower",
            "yhat_upper"]


def _old_table(engine) -> None:
    old = MetaData()
    Table("ml_sales_forecast", old, *(Column(name, Date if name == "date" else Float
                                             if name.startswith("yhat") else String)
                                      for name in CONTRACT))
    old.create_all(engine)


def _rows(grain: str, n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"series_key": "ST-1", "model_name": "m", "model_version": "v",
                         "date": pd.date_range("2025-01-01", periods=n), "yhat": 1.0,
                         "plan_qty": 2.0})


def test_the_table_is_registered_with_the_contract_columns_first():
    assert "ml_sales_forecast" in OUTPUT_TABLES and "ml_sales_forecast" in metadata.tables
    assert list(table("ml_sales_forecast").c.keys())[:8] == CONTRACT
    assert {"grain", "plan_qty", "critical_ratio"} <= set(ADDED_COLUMNS)


def test_an_older_table_gains_the_new_columns_when_the_schema_is_upgraded(engine):
    create_schema(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE ml_sales_forecast")
        conn.execute(meta_schema_version.delete())
        conn.execute(meta_schema_version.insert().values(
            version=4, applied_at=dt.datetime(2026, 11, 1), description="before the grain"))
    _old_table(engine)
    with engine.connect() as conn:
        assert missing_forecast_columns(conn) == list(ADDED_COLUMNS)
    assert create_schema(engine) == SCHEMA_VERSION
    with engine.connect() as conn:
        assert missing_forecast_columns(conn) == []
        add_forecast_columns(conn)  # idempotent
    write_forecasts(engine, "r1", {"store_day": _rows("d"), "week": _rows("w", 2)})
    frame = read_frame(engine, select(table("ml_sales_forecast")))
    assert sorted(frame["grain"].unique()) == ["store_day", "week"]
    assert (frame["plan_qty"] == 2.0).all()
