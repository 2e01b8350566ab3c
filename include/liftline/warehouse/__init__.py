"""The warehouse layer: engine, schema (clean and output tables), and idempotent frame loading.

One dialect-agnostic layer on SQLAlchemy Core: SQLite is the embedded default, PostgreSQL
(psycopg 3) is production. Stages write through `replace_partition` / `upsert_by_key` and read
through `read_frame`.
"""

from .audit import append_audit, read_audit  # noqa: E402 (registers ops_audit_log)
from .customer_tables import CUSTOMER_TABLES  # noqa: E402  (registers ml_customer_*)
from .engine import (
    advisory_xact_lock,
    dispose_engines,
    get_engine,
    normalize_url,
    write_transaction,
)
from .exact import exact_sum
from .experiment_tables import EXPERIMENT_TABLES  # noqa: E402  (registers ml_experiment_*)
from .feature_tables import FEATURE_TABLES  # noqa: E402  (registers feat_* in metadata)
from .forecast_tables import FORECAST_TABLES  # noqa: E402  (registers ml_sales_forecast)
from .load import bulk_insert, read_frame, replace_partition, upsert_by_key
from .locks import file_lock, holder_name, sqlite_file, warehouse_lock
from .model_tables import MODEL_TABLES  # noqa: E402  (registers ml_mmm_* in metadata)
from .plan_tables import PLAN_TABLES  # noqa: E402  (registers ml_plan* in metadata)
from .promo_tables import PROMO_TABLES  # noqa: E402  (registers ml_promo_* in metadata)
from .schema import MIGRATIONS, SchemaVersionError, create_schema, schema_version
from .tables import OUTPUT_TABLES, SCHEMA_VERSION, clean_table, metadata, raw_table, table

__all__ = [
    "exact_sum",
    "CUSTOMER_TABLES",
    "EXPERIMENT_TABLES",
    "FEATURE_TABLES",
    "FORECAST_TABLES",
    "MIGRATIONS",
    "MODEL_TABLES",
    "PLAN_TABLES",
    "PROMO_TABLES",
    "OUTPUT_TABLES",
    "SCHEMA_VERSION",
    "SchemaVersionError",
    "advisory_xact_lock",
    "append_audit",
    "read_audit",
    "bulk_insert",
    "clean_table",
    "create_schema",
    "dispose_engines",
    "file_lock",
    "get_engine",
    "holder_name",
    "metadata",
    "normalize_url",
    "raw_table",
    "read_frame",
    "replace_partition",
    "schema_version",
    "sqlite_file",
    "table",
    "upsert_by_key",
    "warehouse_lock",
    "write_transaction",
]
