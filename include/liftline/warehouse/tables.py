"""The warehouse schema as SQLAlchemy Core tables: clean extract tables and the contract outputs.

Clean tables are derived from `liftline.contract`, so a column added to the contract appears
here without editing this file. Output tables follow CONTRACT.md ("Outputs"); their columns may
only be added to, never renamed or removed. DateTime columns hold naive UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeEngine

from liftline.contract import DATE, FLOAT, INT, SOURCES, STRING, TIMESTAMP, Source, source

# Bump with a migration in schema.MIGRATIONS whenever an existing warehouse must change.
SCHEMA_VERSION = 13

# Deterministic constraint and index names, so future migrations can refer to them.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

LOGICAL_TYPES: dict[str, type[TypeEngine]] = {
    STRING: String,
    DATE: Date,
    TIMESTAMP: DateTime,
    FLOAT: Float,
    INT: BigInteger,
}

CLEAN_PREFIX = "clean_"
RAW_PREFIX = "raw_"


def _lineage_columns() -> list[Column]:
    """Where each clean row came from: the delivery's hash and its row number in that file."""
    return [
        Column("_file_sha256", String(64)),
        Column("_row_number", BigInteger),
        Column("_loaded_at", DateTime),
    ]


def _natural_key_index(name: str, key: tuple[str, ...], unique: bool) -> Index:
    # Unique only when no key part may be NULL: SQL treats NULLs as distinct, so a unique
    # index over an optional column would not stop duplicates anyway; upsert_by_key does.
    prefix = "ux" if unique else "ix"
    return Index(f"{prefix}_{name}_natural_key", *key, unique=unique)


def _clean_table(src: Source) -> Table:
    name = CLEAN_PREFIX + src.name
    # Only required key parts are NOT NULL: other required columns may legitimately be empty
    # (e.g. an unknown promotions.discount_pct), and validation decides what is acceptable.
    columns = []
    for col, logical in src.columns.items():
        required_key_part = col in src.required and col in src.natural_key
        columns.append(Column(col, LOGICAL_TYPES[logical](), nullable=not required_key_part))
    unique = all(col in src.required for col in src.natural_key)
    index = _natural_key_index(name, src.natural_key, unique)
    return Table(name, metadata, *columns, *_lineage_columns(), index)


def _clean_macro_table() -> Table:
    # Macro indicator columns are free-form (any numeric column is data), so it is stored long.
    name = CLEAN_PREFIX + "macro"
    key = ("date", "country", "indicator")
    return Table(
        name,
        metadata,
        Column("date", Date, nullable=False),
        Column("country", String, nullable=False),
        Column("indicator", String, nullable=False),
        Column("value", Float),
        *_lineage_columns(),
        _natural_key_index(name, key, unique=True),
    )


for _src in SOURCES.values():
    if _src.open_numeric_columns:
        if _src.name != "macro":
            raise RuntimeError(f"no long clean table defined for open-column source {_src.name!r}")
        _clean_macro_table()
    else:
        _clean_table(_src)


def _raw_table(src: Source) -> Table:
    # The raw layer keeps every parsed row exactly as delivered (text), valid or not, so a
    # rejected row can always be found and a clean table rebuilt. Unknown columns go to _extra.
    name = RAW_PREFIX + src.name
    return Table(
        name,
        metadata,
        Column("_file_sha256", String(64), primary_key=True),
        Column("_row_number", BigInteger, primary_key=True, autoincrement=False),
        Column("_received_at", DateTime),
        *(Column(col, Text) for col in src.columns),
        Column("_extra", Text),  # JSON object of columns the contract does not name
    )


for _src in SOURCES.values():
    _raw_table(_src)


def _run_id(nullable: bool = False) -> Column:
    return Column("run_id", String, nullable=nullable)


# --- Contract outputs (CONTRACT.md, "Outputs: tables in the warehouse") ---------------------

ops_ingest_log = Table(
    "ops_ingest_log",
    metadata,
    # A delivery is its bytes: the same file delivered twice is one row.
    Column("file_sha256", String(64), primary_key=True),
    Column("source", String, nullable=False),
    Column("file_name", String, nullable=False),
    Column("rows_in", BigInteger),
    Column("rows_loaded", BigInteger),
    Column("rows_rejected", BigInteger),
    Column("status", String, nullable=False),
    Column("reason", Text),
    Column("received_at", DateTime),
    Column("archived_path", String),
    _run_id(nullable=True),
    Index(None, "source", "received_at"),
)

ops_rejected_rows = Table(
    "ops_rejected_rows",
    metadata,
    # Every row ingest did not load, with the checks it failed; the row itself is in raw_<source>.
    Column("file_sha256", String(64), primary_key=True),
    Column("row_number", BigInteger, primary_key=True, autoincrement=False),
    Column("source", String, nullable=False),
    Column("checks", Text, nullable=False),  # JSON list of failed check names
    Column("detail", Text),
    _run_id(nullable=True),
    Index(None, "source"),
)

# ml_sales_forecast is defined in forecast_tables.py (registered on this metadata).

# ml_promo_lift and ml_promo_recommendations are defined in promo_tables.py.

# ml_mmm_channel_results, ml_mmm_response_curves and ml_budget_allocation: model_tables.py.

# ml_plan, ml_plan_weekly and ml_plan_summary: plan_tables.py.

# ml_customer_segments, ml_customer_profiles, ml_segment_migrations and
# ml_satisfaction_scores: customer_tables.py.

ml_model_registry = Table(
    "ml_model_registry",
    metadata,
    Column("model_name", String, primary_key=True),
    Column("version", String, primary_key=True),
    Column("trained_at", DateTime),
    Column("status", String, nullable=False),
    Column("metrics_json", Text),
    Column("params_json", Text),
    Column("data_start", Date),
    Column("data_end", Date),
    Column("artifact_uri", String),
    _run_id(nullable=True),
)

ops_alerts = Table(
    "ops_alerts",
    metadata,
    Column("alert_id", String, primary_key=True),
    Column("kind", String, nullable=False),
    Column("entity_key", String),
    Column("severity", String),
    Column("title", String),
    Column("details_json", Text),
    Column("created_at", DateTime),
    Column("delivery_status", String, nullable=False),
    # A server default, because COPY bypasses SQLAlchemy's Python-side defaults.
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("delivered_at", DateTime),
    Column("last_error", Text),
    # What the entity's condition is (e.g. "quarantined"); a new alert only when it changes.
    Column("state", String),
    _run_id(nullable=True),
    # The outbox scan (undelivered alerts) and "already alerted about this?" lookups.
    Index(None, "delivery_status"),
    Index(None, "kind", "entity_key"),
)

meta_schema_version = Table(
    "meta_schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", DateTime, nullable=False),
    Column("description", String),
)

OUTPUT_TABLES: tuple[str, ...] = (
    "ops_ingest_log",
    "ml_sales_forecast",
    "ml_promo_lift",
    "ml_promo_recommendations",
    "ml_mmm_channel_results",
    "ml_mmm_response_curves",
    "ml_budget_allocation",
    "ml_customer_segments",
    "ml_satisfaction_scores",
    "ml_model_registry",
    "ops_alerts",
)


def clean_table(source_name: str) -> Table:
    """The clean table of contract source `source_name` (e.g. "pos" -> clean_pos)."""
    return metadata.tables[CLEAN_PREFIX + source(source_name).name]


def raw_table(source_name: str) -> Table:
    """The raw layer table of contract source `source_name` (e.g. "pos" -> raw_pos)."""
    return metadata.tables[RAW_PREFIX + source(source_name).name]


def table(name: str) -> Table:
    """The warehouse table called `name`, or a one-line error listing the known ones."""
    try:
        return metadata.tables[name]
    except KeyError:
        known = ", ".join(sorted(metadata.tables))
        raise ValueError(f"unknown warehouse table {name!r}: expected one of {known}") from None
