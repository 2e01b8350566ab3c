"""Creating the warehouse schema and bringing an existing one up to this code's version."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import Connection, Engine, func, insert, inspect, select, text

from .audit import guard_audit_log
from .columns import add_missing_columns
from .customer_tables import add_customer_columns
from .engine import write_transaction
from .experiment_tables import add_experiment_refit_columns, add_experiment_tables
from .forecast_tables import add_forecast_columns, add_forecast_measure
from .model_tables import add_model_status_columns
from .plan_tables import add_plan_tables
from .promo_tables import add_promo_columns
from .tables import (
    SCHEMA_VERSION,
    clean_table,
    meta_schema_version,
    metadata,
    ops_alerts,
    raw_table,
)


# version -> function that changes a warehouse at version-1 into one at `version`. Each runs
# inside create_schema's transaction; its docstring is recorded as the version's description.
def _v2_alert_state(conn: Connection) -> None:
    """raw layer, rejected rows, ops_alerts.state"""
    # New tables (raw_*, ops_rejected_rows) are made by create_all after the migrations.
    if "state" not in {c["name"] for c in inspect(conn).get_columns(ops_alerts.name)}:
        conn.execute(text("ALTER TABLE ops_alerts ADD COLUMN state VARCHAR"))


def _v3_feature_tables(conn: Connection) -> None:
    """feature tables (feat_*) and feat_build_inputs"""
    # Only new tables: create_all makes them after the migrations.


# Tables whose key changed in version 4: nothing wrote them before it, so an empty one is
# dropped and created anew by create_all.
_REKEYED_V4 = ("ml_mmm_channel_results", "ml_mmm_response_curves", "ml_budget_allocation")


def _v4_model_tables(conn: Connection) -> None:
    """mix-model outputs keyed by run, country and segment (model_tables.py)"""
    inspector = inspect(conn)
    for name in _REKEYED_V4:
        if not inspector.has_table(name):
            continue
        quoted = conn.dialect.identifier_preparer.quote_identifier(name)
        if conn.exec_driver_sql(f"SELECT COUNT(*) FROM {quoted}").scalar():
            raise SchemaVersionError(
                f"{name} holds rows written before schema version 4, which keys it by "
                "country and segment: export them, drop the table and run again"
            )
        conn.exec_driver_sql(f"DROP TABLE {quoted}")


def _v7_audit_log(conn: Connection) -> None:
    """append-only ops_audit_log; the registry verdict beside mix-model outputs"""
    # ops_audit_log is new: create_all makes it after the migrations, guard_audit_log its
    # triggers.
    add_model_status_columns(conn)


def _v12_lift_test_post_period(conn: Connection) -> None:
    """lift_tests.measured_until (a test's post-period) in the raw and clean layers"""
    for layer in (raw_table("lift_tests"), clean_table("lift_tests")):
        add_missing_columns(conn, layer, ["measured_until"])


MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    2: _v2_alert_state,
    3: _v3_feature_tables,
    4: _v4_model_tables,
    5: add_forecast_columns,
    6: add_promo_columns,
    7: _v7_audit_log,
    8: add_customer_columns,
    9: add_forecast_measure,
    10: add_experiment_tables,
    11: add_plan_tables,
    12: _v12_lift_test_post_period,
    13: add_experiment_refit_columns,
}

# Arbitrary constant: serializes concurrent create_schema calls on one PostgreSQL database.
_PG_SCHEMA_LOCK = 7_362_811_204


class SchemaVersionError(RuntimeError):
    """The warehouse cannot be used by this version of Liftline."""


def create_schema(engine: Engine) -> int:
    """Create missing tables and apply pending migrations; return the warehouse's version.

    Idempotent and safe to call from every task: a current warehouse is left untouched.
    """
    with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            # Two tasks starting at once would both try to CREATE TABLE; the second waits here.
            conn.execute(select(func.pg_advisory_xact_lock(_PG_SCHEMA_LOCK)))
        meta_schema_version.create(conn, checkfirst=True)
        stored = conn.execute(select(func.max(meta_schema_version.c.version))).scalar()
        if stored is None:
            metadata.create_all(conn)
            guard_audit_log(conn)
            _record(conn, SCHEMA_VERSION, "initial schema")
            return SCHEMA_VERSION
        if stored > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"the warehouse is at schema version {stored} but this Liftline only knows up to "
                f"{SCHEMA_VERSION}: upgrade Liftline (or point LIFTLINE_WAREHOUSE_URL elsewhere)"
            )
        for version in range(stored + 1, SCHEMA_VERSION + 1):
            migrate = MIGRATIONS.get(version)
            if migrate is None:
                raise SchemaVersionError(
                    f"no migration to schema version {version} (warehouse is at {stored}): "
                    "this Liftline build is incomplete; reinstall it"
                )
            migrate(conn)
            _record(conn, version, (migrate.__doc__ or migrate.__name__).strip().splitlines()[0])
        # Tables added in later versions that no migration created are created here.
        metadata.create_all(conn)
        guard_audit_log(conn)
        return SCHEMA_VERSION


def schema_version(engine: Engine) -> int | None:
    """The warehouse's recorded schema version, or None if it has no schema yet."""
    with engine.connect() as conn:
        if not engine.dialect.has_table(conn, meta_schema_version.name):
            return None
        return conn.execute(select(func.max(meta_schema_version.c.version))).scalar()


def _record(conn: Connection, version: int, description: str) -> None:
    applied_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    conn.execute(
        insert(meta_schema_version).values(
            version=version, applied_at=applied_at, description=description
        )
    )
