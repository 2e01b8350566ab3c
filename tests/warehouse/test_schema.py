"""create_schema: idempotent creation, the migration loop, and refusing a newer warehouse."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import Column, Float, MetaData, String, Table, insert, inspect, select
from sqlalchemy.exc import DBAPIError

from liftline.warehouse import (
    SCHEMA_VERSION,
    SchemaVersionError,
    append_audit,
    create_schema,
    metadata,
    schema,
)
from liftline.warehouse.schema import schema_version
from liftline.warehouse.tables import meta_schema_version


def _versions(engine) -> list[tuple[int, str]]:
    query = select(meta_schema_version.c.version, meta_schema_version.c.description)
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query.order_by(meta_schema_version.c.version))]


def _columns(engine, name: str) -> list[str]:
    return [column["name"] for column in inspect(engine).get_columns(name)]


@pytest.fixture
def upgrade_code(monkeypatch) -> tuple[Callable[[int], None], list]:
    """upgrade(n): the code is now n schema versions ahead, with a real migration to +1 only.

    Returns (upgrade, calls), calls recording each run of that migration.
    """
    calls: list = []

    def add_note_column(conn):
        """add ops_alerts.note"""
        calls.append(conn)
        conn.exec_driver_sql("ALTER TABLE ops_alerts ADD COLUMN note VARCHAR(200)")

    def upgrade(versions_ahead: int) -> None:
        monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + versions_ahead)
        monkeypatch.setattr(schema, "MIGRATIONS", {SCHEMA_VERSION + 1: add_note_column})

    return upgrade, calls


def test_create_schema_twice_gives_the_same_tables_and_one_version_row(engine):
    assert schema_version(engine) is None
    assert create_schema(engine) == SCHEMA_VERSION
    tables_once = sorted(inspect(engine).get_table_names())
    assert create_schema(engine) == SCHEMA_VERSION
    assert sorted(inspect(engine).get_table_names()) == tables_once
    assert set(metadata.tables) <= set(tables_once)
    assert [version for version, _ in _versions(engine)] == [SCHEMA_VERSION]
    assert schema_version(engine) == SCHEMA_VERSION


def test_pending_migration_is_applied_once_and_recorded(engine, upgrade_code):
    upgrade, calls = upgrade_code
    create_schema(engine)
    upgrade(1)
    assert create_schema(engine) == SCHEMA_VERSION + 1
    assert create_schema(engine) == SCHEMA_VERSION + 1
    assert len(calls) == 1
    assert "note" in _columns(engine, "ops_alerts")
    assert _versions(engine) == [
        (SCHEMA_VERSION, "initial schema"),
        (SCHEMA_VERSION + 1, "add ops_alerts.note"),
    ]


def test_a_new_warehouse_is_created_at_the_current_version_without_migrating(engine, upgrade_code):
    upgrade, calls = upgrade_code
    upgrade(1)
    assert create_schema(engine) == SCHEMA_VERSION + 1
    assert calls == []
    assert [version for version, _ in _versions(engine)] == [SCHEMA_VERSION + 1]


def test_a_missing_migration_fails_and_rolls_back_the_ones_before_it(engine, upgrade_code):
    upgrade, calls = upgrade_code
    create_schema(engine)
    upgrade(2)
    with pytest.raises(
        SchemaVersionError, match=f"no migration to schema version {SCHEMA_VERSION + 2}"
    ):
        create_schema(engine)
    assert len(calls) == 1
    # One transaction: the migration that did run is rolled back, DDL and version row alike.
    assert schema_version(engine) == SCHEMA_VERSION
    assert "note" not in _columns(engine, "ops_alerts")


def test_a_newer_warehouse_asks_the_user_to_upgrade(engine):
    create_schema(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(meta_schema_version).values(
                version=SCHEMA_VERSION + 1, applied_at=dt.datetime(2030, 1, 1), description="future"
            )
        )
    with pytest.raises(SchemaVersionError) as caught:
        create_schema(engine)
    message = str(caught.value)
    assert "upgrade Liftline" in message
    assert str(SCHEMA_VERSION + 1) in message
    assert "\n" not in message


def test_a_version_1_warehouse_is_migrated_to_the_current_version(engine):
    """A warehouse made by the first release gains ops_alerts.state, the raw layer (v2),
    the feature tables (v3), the mix-model outputs keyed by fit (v4), the forecast's
    grain and plan columns (v5), the promotion-lift columns (v6), the append-only audit
    log (v7), the customer models' columns and tables (v8), the forecast's measure (v9), the
    next-experiment table (v10), the quarter planner's tables (v11), the lift tests'
    post-period (v12) and how the next experiment's narrowing was found (v13)."""
    create_schema(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE ops_alerts DROP COLUMN state")
        conn.exec_driver_sql("DROP TABLE raw_pos")
        conn.exec_driver_sql("DROP TABLE feat_sales_daily")
        conn.exec_driver_sql("DROP TABLE ops_audit_log")
        conn.exec_driver_sql("ALTER TABLE ml_promo_lift DROP COLUMN baseline_method")
        conn.exec_driver_sql("ALTER TABLE ml_satisfaction_scores DROP COLUMN top_reasons")
        conn.exec_driver_sql("DROP TABLE ml_customer_profiles")
        conn.exec_driver_sql("DROP TABLE ml_experiment_recommendations")
        conn.exec_driver_sql("ALTER TABLE ml_sales_forecast DROP COLUMN measure")
        conn.exec_driver_sql("DROP TABLE ml_plan_weekly")
        conn.exec_driver_sql("ALTER TABLE clean_lift_tests DROP COLUMN measured_until")
        conn.exec_driver_sql("ALTER TABLE raw_lift_tests DROP COLUMN measured_until")
        conn.exec_driver_sql("INSERT INTO ml_sales_forecast (run_id, model_name, model_version, "
                             "series_key, date) VALUES ('old', 'm', 'v', 'ST-1', '2026-01-01')")
        conn.execute(meta_schema_version.delete())
        conn.execute(
            insert(meta_schema_version).values(
                version=1, applied_at=dt.datetime(2026, 11, 1), description="initial schema"
            )
        )
    assert create_schema(engine) == SCHEMA_VERSION == 13
    inspector = inspect(engine)
    assert "state" in {c["name"] for c in inspector.get_columns("ops_alerts")}
    assert "baseline_method" in {c["name"] for c in inspector.get_columns("ml_promo_lift")}
    assert inspector.has_table("raw_pos") and inspector.has_table("feat_sales_daily")
    assert inspector.has_table("ops_audit_log")
    assert "top_reasons" in {c["name"] for c in inspector.get_columns("ml_satisfaction_scores")}
    assert inspector.has_table("ml_customer_profiles")
    assert inspector.has_table("ml_experiment_recommendations")
    assert inspector.has_table("ml_plan_weekly")
    for layer in ("raw_lift_tests", "clean_lift_tests"):
        assert "measured_until" in {c["name"] for c in inspector.get_columns(layer)}
    assert [version for version, _ in _versions(engine)] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
    with engine.connect() as conn:  # a forecast written before the measure existed is units
        assert conn.exec_driver_sql("SELECT measure FROM ml_sales_forecast").scalars().all() == [
            "units"]
    append_audit(engine, "rollback", "m", after={}, run_id="r")
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM ops_audit_log")


def test_a_version_12_experiment_table_keeps_its_rows_and_gains_the_narrowing_method(engine):
    create_schema(engine)
    with engine.begin() as conn:
        for column in ("narrowing_method", "screen_interval_narrowing",
                       "least_interval_narrowing"):
            conn.exec_driver_sql(f"ALTER TABLE ml_experiment_recommendations DROP COLUMN {column}")
        conn.exec_driver_sql("INSERT INTO ml_experiment_recommendations (run_id, country, "
                             "channel, weeks, design, recommended) "
                             "VALUES ('old', 'ALL', 'tv', 8, 1, TRUE)")
        conn.execute(meta_schema_version.delete())
        conn.execute(insert(meta_schema_version).values(
            version=12, applied_at=dt.datetime(2026, 12, 6), description="lift tests"))
    assert create_schema(engine) == SCHEMA_VERSION
    columns = {c["name"] for c in inspect(engine).get_columns("ml_experiment_recommendations")}
    assert {"narrowing_method", "screen_interval_narrowing", "least_interval_narrowing"} <= columns
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT channel, narrowing_method FROM "
                                    "ml_experiment_recommendations").all() == [("tv", None)]


def _old_channel_results() -> Table:
    """ml_mmm_channel_results as schema version 3 defined it (keyed by run and channel)."""
    return Table(
        "ml_mmm_channel_results", MetaData(),
        Column("run_id", String, primary_key=True), Column("channel", String, primary_key=True),
        Column("roi", Float),
    )


def _as_version_3_with(engine, old: Table, rows: list[dict]) -> None:
    create_schema(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE {old.name}")
        old.create(conn)
        if rows:
            conn.execute(old.insert(), rows)
        conn.execute(meta_schema_version.delete())
        conn.execute(
            insert(meta_schema_version).values(
                version=3, applied_at=dt.datetime(2026, 12, 1), description="feature tables"
            )
        )


def test_a_version_3_warehouse_gets_mmm_outputs_keyed_by_country_and_segment(engine):
    _as_version_3_with(engine, _old_channel_results(), [])
    assert create_schema(engine) == SCHEMA_VERSION
    pk = inspect(engine).get_pk_constraint("ml_mmm_channel_results")["constrained_columns"]
    assert pk == ["run_id", "country", "segment", "channel"]
    assert dict(_versions(engine))[4] == ("mix-model outputs keyed by run, country and segment "
                                        "(model_tables.py)")


def test_a_version_3_mmm_table_with_rows_is_not_dropped(engine):
    _as_version_3_with(engine, _old_channel_results(), [{"run_id": "r", "channel": "tv",
                                                         "roi": 1.0}])
    with pytest.raises(SchemaVersionError, match="holds rows written before schema version 4"):
        create_schema(engine)
    assert schema_version(engine) == 3
    assert "country" not in _columns(engine, "ml_mmm_channel_results")
