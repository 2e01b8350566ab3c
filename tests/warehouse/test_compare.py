"""Two warehouses compared table by table: equal despite row order, float noise, run ids, homes
and backend; a changed value is named with its table and the differing rows."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from liftline.warehouse import bulk_insert, create_schema, get_engine, table
from liftline.warehouse.compare import (
    HOME_PLACEHOLDER,
    canonical_text,
    compare_warehouses,
    rounded,
    snapshot_table,
)

LOADED = dt.datetime(2025, 1, 2, 3, 4, 5)
LOG = ("ops_ingest_log",)  # the tables compared (all of them take seconds: schema reflection)


def ingest_rows(home: str, run: str, price: float = 1.23456789) -> pd.DataFrame:
    return pd.DataFrame({
        "file_sha256": ["a" * 64, "b" * 64],
        "source": ["pos", "erp"],
        "file_name": ["pos_1.csv", "erp_1.csv"],
        "rows_in": [10, 20],
        "rows_loaded": [10, 19],
        "rows_rejected": [0, 1],
        "status": ["loaded", "partial"],
        "reason": [None, json.dumps({"price": price, "note": "x"})],
        "received_at": [LOADED, LOADED],
        "archived_path": [f"{home}/archive/pos/pos_1.csv", f"{home}/archive/erp/erp_1.csv"],
        "run_id": [run, run],
    })


@pytest.fixture
def sqlite_side(tmp_path):
    engine = get_engine(f"sqlite:///{tmp_path / 'left.db'}")
    create_schema(engine)
    return engine


def test_the_same_rows_compare_equal_across_backends_order_noise_and_homes(sqlite_side,
                                                                            warehouse):
    bulk_insert(sqlite_side, table("ops_ingest_log"), ingest_rows("/home/a", "manual__1"))
    other = ingest_rows("/tmp/b", "manual__2", price=1.23456789 + 1e-12).iloc[::-1]
    bulk_insert(warehouse, table("ops_ingest_log"), other)

    snapshots, differences = compare_warehouses(sqlite_side, warehouse, left_home="/home/a",
                                                right_home="/tmp/b", prefixes=LOG)

    assert differences == []
    log = next(s for s in snapshots if s.name == "ops_ingest_log")
    assert log.count == 2
    assert "run_id" not in log.columns and "received_at" not in log.columns
    assert f"{HOME_PLACEHOLDER}/archive/pos/pos_1.csv" in set(log.frame["archived_path"])


def test_a_changed_value_names_the_table_counts_and_first_rows(sqlite_side, warehouse):
    bulk_insert(sqlite_side, table("ops_ingest_log"), ingest_rows("/h", "r"))
    bulk_insert(warehouse, table("ops_ingest_log"), ingest_rows("/h", "r", price=1.2346))

    _, differences = compare_warehouses(sqlite_side, warehouse, prefixes=LOG)

    assert [d.table for d in differences] == ["ops_ingest_log"]
    difference = differences[0]
    assert (difference.left_count, difference.right_count) == (2, 2)
    assert "1.23457" in difference.left_only and "1.2346}" in difference.right_only
    assert "ops_ingest_log: left 2 rows, right 2 rows" in difference.text()


def test_a_missing_row_and_a_missing_table_are_differences(sqlite_side, tmp_path):
    bulk_insert(sqlite_side, table("ops_ingest_log"), ingest_rows("/h", "r"))
    other = get_engine(f"sqlite:///{tmp_path / 'right.db'}")
    create_schema(other)
    bulk_insert(other, table("ops_ingest_log"), ingest_rows("/h", "r").iloc[:1])
    with other.begin() as conn:
        conn.exec_driver_sql("DROP TABLE ml_promo_lift")

    _, differences = compare_warehouses(sqlite_side, other, prefixes=(*LOG, "ml_promo"))

    by_table = {d.table: d for d in differences}
    assert set(by_table) == {"ops_ingest_log", "ml_promo_lift"}  # not ml_promo_recommendations
    assert by_table["ops_ingest_log"].right_only is None
    assert "erp_1.csv" in by_table["ops_ingest_log"].left_only
    assert by_table["ml_promo_lift"].right_count is None
    assert snapshot_table(other, "ml_promo_lift") is None


def controls(values: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"week_start": [dt.date(2025, 1, 6 + 7 * i) for i in range(len(values))],
                         "country": "DE", "control": "price_index", "value": values,
                         "run_id": "r"})


@pytest.mark.parametrize(("right", "equal"), [
    ([1479.4649999999, 2.0], True),  # either side of 1479.465: one unit of the 6th digit apart
    ([1479.47, 2.0], True),
    ([1479.48, 2.0], False),  # two units: a real difference
    ([1479.465, 2.1], False),
])
def test_floats_are_equal_to_six_significant_digits_even_across_a_rounding_boundary(
        sqlite_side, tmp_path, right, equal):
    bulk_insert(sqlite_side, table("feat_mmm_controls_weekly"), controls([1479.465, 2.0]))
    other = get_engine(f"sqlite:///{tmp_path / 'right.db'}")
    create_schema(other)
    bulk_insert(other, table("feat_mmm_controls_weekly"), controls(right))

    _, differences = compare_warehouses(sqlite_side, other, prefixes=("feat_mmm_controls",))

    assert (differences == []) is equal, differences
    if not equal:
        assert differences[0].table == "feat_mmm_controls_weekly"
        assert "value=" in differences[0].left_only and "country=DE" in differences[0].right_only


def test_canonical_values():
    assert list(rounded(np.array([0.1 + 0.2, -0.0, 123456789.0]))) == [0.3, 0.0, 123457000.0]
    assert canonical_text('{"b": 1.0000001, "a": [2.5]}') == 'json:{"a": [2.5], "b": 1.0}'
    assert canonical_text("{not json") == "{not json"
    link = "http://x/dags/d/runs/manual__2026-12-05T03%3A19%3A39.910167%2B00%3A00"
    assert canonical_text(link) == "http://x/dags/d/runs/<RUN_ID>"
    assert canonical_text("/home/me/archive/a.csv", home="/home/me") == (
        f"{HOME_PLACEHOLDER}/archive/a.csv")


def test_a_known_difference_says_why_and_counts_the_rows(sqlite_side, tmp_path, monkeypatch):
    from liftline.warehouse import compare

    monkeypatch.setitem(compare.KNOWN_DIFFERENCES, "feat_mmm_controls_weekly", "a reason")
    bulk_insert(sqlite_side, table("feat_mmm_controls_weekly"), controls([1.0, 2.0, 3.0]))
    other = get_engine(f"sqlite:///{tmp_path / 'right.db'}")
    create_schema(other)
    bulk_insert(other, table("feat_mmm_controls_weekly"), controls([1.0, 2.5, 3.0]))

    [difference] = compare_warehouses(sqlite_side, other, prefixes=("feat_mmm_controls",))[1]

    assert difference.known == "a reason" and difference.unmatched == (1, 1)
    assert "1 and 1 rows only in left and in right (known: a reason)" in difference.text()
