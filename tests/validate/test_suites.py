"""The suites in expectations/: GX keeps every check, and they cover the contract."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pandas as pd
import pytest

from liftline.contract import SOURCES, STRING
from liftline.validate import (
    KEY_OCCURRENCE,
    KeyCounter,
    PreparedSuite,
    SuiteError,
    blank_to_missing,
    load_suite,
    typed_frame,
)
from liftline.validate.suites import build_gx_suite

# How many checks each suite holds. GX silently drops an expectation it does not know, so a
# change here must be deliberate: edit the suite and this table together.
EXPECTED_CHECKS = {
    "pos": 22, "promotions": 19, "spend": 19, "crm": 17, "erp": 16, "stores": 5,
    "products": 9, "customers": 9, "service": 17, "events": 8, "macro": 10, "inventory": 17,
    "lift_tests": 22,
}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_each_suite_loads_whole_into_great_expectations(name):
    suite = load_suite(name)
    on_disk = json.loads(suite.path.read_text())["expectations"]
    assert len(suite.expectations) == len(on_disk) == EXPECTED_CHECKS[name]
    assert len(build_gx_suite(name, list(suite.expectations)).expectations) == len(on_disk)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_each_suite_covers_the_contract(name):
    src = SOURCES[name]
    checks = {e["meta"]["check"]: e for e in load_suite(name).expectations}
    for column in src.required:
        assert f"has_column_{column}" in checks
    for column, logical in src.columns.items():
        if logical != STRING:
            assert any(c.startswith(f"{column}_is_") for c in checks), column
    assert checks["natural_key_unique_in_file"]["kwargs"]["column"] == KEY_OCCURRENCE


def test_a_pos_delivery_may_carry_revenue_without_units():
    """Contract addition: units are optional in POS (turnover-only tills); revenue is not."""
    checks, _ = load_suite("pos").for_delivery({"date", "store_id", "sku", "revenue"}, {})
    names = {check["meta"]["check"] for check in checks}
    assert "has_column_revenue" in names and not any("units" in name for name in names)


def test_a_misspelled_expectation_is_refused_not_dropped(tmp_path):
    folder = tmp_path / "expectations"
    shutil.copytree(load_suite("pos").path.parent, folder)
    spec = json.loads((folder / "pos.json").read_text())
    spec["expectations"][5]["type"] = "expect_column_values_to_not_be_nul"
    (folder / "pos.json").write_text(json.dumps(spec))
    with pytest.raises(SuiteError, match="expect_column_values_to_not_be_nul"):
        load_suite("pos", folder)


def test_repeated_check_names_and_bad_policy_are_refused(tmp_path):
    spec = json.loads(load_suite("stores").path.read_text())
    spec["expectations"].append(dict(spec["expectations"][0]))
    (tmp_path / "stores.json").write_text(json.dumps(spec))
    with pytest.raises(SuiteError, match="used twice"):
        load_suite("stores", tmp_path)
    spec["expectations"].pop()
    spec["meta"]["liftline"]["row_threshold_pct"] = 250
    (tmp_path / "stores.json").write_text(json.dumps(spec))
    with pytest.raises(SuiteError, match="row_threshold_pct"):
        load_suite("stores", tmp_path)


def test_a_missing_suite_says_how_to_make_one(tmp_path):
    with pytest.raises(SuiteError, match="liftline.validate.scaffold pos"):
        load_suite("pos", tmp_path)


def _text(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, dtype="str")
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame.apply(blank_to_missing)


def test_typed_frame_keeps_what_did_not_parse():
    text = _text([
        {"date": "2024-03-01", "store_id": "S", "sku": "A", "units": " 3 ", "revenue": "1e2",
         "customer_count": "2"},
        {"date": "2024-02-30", "store_id": "S", "sku": "B", "units": "n/a", "revenue": "",
         "customer_count": "1.5"},
    ])
    typed = typed_frame(text, SOURCES["pos"])
    assert typed.units.tolist()[0] == 3.0 and typed.revenue.tolist()[0] == 100.0
    assert typed.loc[2, "units__unparsed"] == "n/a"
    assert pd.isna(typed.loc[2, "revenue__unparsed"])  # empty is missing, not unreadable
    assert typed.loc[2, "date__unparsed"] == "2024-02-30"
    assert typed.loc[2, "customer_count__unparsed"] == "1.5"  # not a whole number


def test_crm_stages_are_case_insensitive():
    text = _text([{"opportunity_id": "O1", "created_date": "2024-01-01", "stage": "closed WON",
                   "amount": "10"}])
    assert typed_frame(text, SOURCES["crm"]).stage.tolist() == ["Closed Won"]


def test_key_repeats_are_counted_across_chunks():
    counter = KeyCounter(("date", "store_id", "sku"))
    first = _text([{"date": "d", "store_id": "s", "sku": "a"}, {"date": "d", "store_id": "s",
                                                                 "sku": "a"}])
    second = _text([{"date": "d", "store_id": "s", "sku": "a"}, {"date": "d", "store_id": "s",
                                                                  "sku": "b"}])
    assert counter.occurrences(first).tolist() == [1, 2]
    assert counter.occurrences(second).tolist() == [3, 1]


def test_a_suite_names_each_failing_row_once_per_reason():
    suite = load_suite("pos")
    text = _text([
        {"date": "2024-03-01", "store_id": "S", "sku": "A", "units": "1", "revenue": "5"},
        {"date": "1999-03-01", "store_id": "S", "sku": "B", "units": "x", "revenue": "-5"},
        {"date": "2024-03-01", "store_id": "S", "sku": "A", "units": "1", "revenue": "5"},
    ])
    typed = typed_frame(text, SOURCES["pos"])
    typed[KEY_OCCURRENCE] = KeyCounter(SOURCES["pos"].natural_key).occurrences(text)
    parameters = suite.policy.date_bounds(dt.datetime(2024, 3, 2))
    specs, notes = suite.for_delivery(set(typed.columns), parameters)
    assert notes == ["store_id_in_stores skipped: no stores delivered yet",
                     "sku_in_products skipped: no products delivered yet"]
    verdict = PreparedSuite("pos", specs, parameters).validate(typed)
    failed = {f.check: f.rows.tolist() for f in verdict.row_failures}
    assert failed == {"date_plausible": [2], "units_is_number": [2],
                      "revenue_not_negative": [2], "natural_key_unique_in_file": [3]}
    assert verdict.file_failures == []
