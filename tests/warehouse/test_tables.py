"""The created schema holds every contract output table and one clean table per extract source."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import BigInteger, Date, DateTime, Float, String, inspect
from sqlalchemy.exc import IntegrityError

from liftline.contract import SOURCES
from liftline.warehouse import bulk_insert, clean_table, table

# Copied from CONTRACT.md, "Outputs: tables in the warehouse" (not parsed, on purpose).
CONTRACT_OUTPUTS = {
    "ops_ingest_log": "file_sha256, source, file_name, rows_in, rows_loaded, rows_rejected, status, reason, received_at",
    "ml_sales_forecast": "run_id, model_name, model_version, series_key, date, yhat, yhat_lower, yhat_upper",
    "ml_promo_lift": "promo_id, predicted_lift_pct, predicted_at, model_version, actual_lift_pct, observed_days, divergence_pp, status",
    "ml_promo_recommendations": "run_id, sku, store_id, week_start, discount_pct, duration_days, expected_lift_pct, expected_incremental_margin",
    "ml_mmm_channel_results": "run_id, channel, spend, contribution, roi, roi_lower, roi_upper, mroi, adstock_theta, hill_alpha, hill_gamma, is_significant, zone",
    "ml_mmm_response_curves": "run_id, channel, spend, response, response_lower, response_upper",
    "ml_budget_allocation": "run_id, channel, current_spend, recommended_spend, change_pct, current_response, recommended_response",
    "ml_customer_segments": "run_id, customer_id, segment, recency_days, frequency, monetary",
    "ml_satisfaction_scores": "run_id, interaction_id, p_low_satisfaction, risk_level",
    "ml_model_registry": "model_name, version, trained_at, status, metrics_json, params_json, data_start, data_end, artifact_uri",
    "ops_alerts": "alert_id, kind, entity_key, severity, title, details_json, created_at, delivery_status, attempts",
}
LINEAGE = {"_file_sha256", "_row_number", "_loaded_at"}
EXPECTED_TYPES = {
    "string": String,
    "date": Date,
    "timestamp": DateTime,
    "float": Float,
    "int": BigInteger,
}


def _columns(engine, name: str) -> dict[str, dict]:
    return {column["name"]: column for column in inspect(engine).get_columns(name)}


@pytest.mark.parametrize("name", sorted(CONTRACT_OUTPUTS))
def test_contract_output_table_has_its_listed_columns_and_run_id(warehouse, name):
    actual = _columns(warehouse, name)
    listed = [column.strip() for column in CONTRACT_OUTPUTS[name].split(",")]
    assert set(listed) <= set(actual), f"{name} lacks {set(listed) - set(actual)}"
    # CONTRACT.md: every row written by a run carries that run's run_id.
    assert "run_id" in actual


def test_output_tables_have_the_keys_stages_rely_on(warehouse):
    inspector = inspect(warehouse)
    assert inspector.get_pk_constraint("ops_alerts")["constrained_columns"] == ["alert_id"]
    assert inspector.get_pk_constraint("ops_ingest_log")["constrained_columns"] == ["file_sha256"]
    assert inspector.get_pk_constraint("ml_promo_lift")["constrained_columns"] == ["promo_id"]
    assert inspector.get_pk_constraint("ml_model_registry")["constrained_columns"] == [
        "model_name",
        "version",
    ]
    forecast_indexes = [
        index["column_names"] for index in inspector.get_indexes("ml_sales_forecast")
    ]
    assert ["run_id"] in forecast_indexes
    for name in ("delivered_at", "last_error"):
        assert _columns(warehouse, "ops_alerts")[name]["nullable"]
    assert _columns(warehouse, "ops_ingest_log")["archived_path"]["nullable"]


@pytest.mark.parametrize(
    "source_name", sorted(n for n, s in SOURCES.items() if not s.open_numeric_columns)
)
def test_clean_table_holds_every_contract_column_and_lineage(warehouse, source_name):
    src = SOURCES[source_name]
    name = f"clean_{source_name}"
    actual = _columns(warehouse, name)
    assert set(actual) == set(src.columns) | LINEAGE
    for column, logical in src.columns.items():
        assert isinstance(clean_table(source_name).c[column].type, EXPECTED_TYPES[logical])
        required_key_part = column in src.natural_key and column in src.required
        assert actual[column]["nullable"] is not required_key_part, column
    key_indexes = [
        i for i in inspect(warehouse).get_indexes(name) if i["name"].endswith("natural_key")
    ]
    assert [i["column_names"] for i in key_indexes] == [list(src.natural_key)]
    # Unique only where no key part may be NULL (events, lift_tests have optional key parts).
    assert bool(key_indexes[0]["unique"]) == all(c in src.required for c in src.natural_key)


def test_clean_macro_is_long_with_its_indicator_in_the_key(warehouse):
    actual = _columns(warehouse, "clean_macro")
    assert set(actual) == {"date", "country", "indicator", "value"} | LINEAGE
    (index,) = [i for i in inspect(warehouse).get_indexes("clean_macro") if i["unique"]]
    assert index["column_names"] == ["date", "country", "indicator"]


def test_unique_natural_key_rejects_a_duplicate_row(warehouse):
    row = {"date": dt.date(2024, 1, 1), "store_id": "S1", "sku": "A", "units": 1.0, "revenue": 2.0}
    with pytest.raises(IntegrityError):
        bulk_insert(warehouse, clean_table("pos"), pd.DataFrame([row, row]))


def test_unknown_names_raise_one_line_errors_listing_known_ones():
    with pytest.raises(ValueError, match="unknown warehouse table 'nope'.*ops_alerts"):
        table("nope")
    with pytest.raises(ValueError, match="unknown source 'nope'"):
        clean_table("nope")
    assert table("clean_pos") is clean_table("pos")
