"""Write a starting Great Expectations suite per source from the contract: `python -m
liftline.validate.scaffold [--force] [SOURCE ...]`.

The suites in expectations/ are the source of truth at run time and are meant to be edited (a
threshold, a range, a severity); this tool only writes the first version of a suite, e.g. for a
new source, and never overwrites an existing file without --force.

Conventions the validator relies on (see liftline.validate.suites):
- `meta.check` names each check in reasons and in ops_rejected_rows;
- `severity` "critical" rejects the row (or the file, for a table-level check), "warning" only
  counts it;
- `{"$PARAMETER": name}` values are supplied per delivery: earliest_date, latest_actual_date,
  latest_planned_date;
- derived columns: `<col>__unparsed` (text that did not parse), `__key_occurrence` (repeats of
  the natural key in the file) and `<col>__not_in_<dimension>` (values the dimension's clean
  table does not hold; the check is skipped while that dimension is empty).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from liftline.contract import CRM_STAGES, DATE, FLOAT, INT, SOURCES, STRING, TIMESTAMP, Source

from .coerce import KEY_OCCURRENCE, NOT_IN, UNPARSED_SUFFIX
from .suites import DEFAULT_POLICY

# Columns that hold money, counts or quantities: never negative.
NON_NEGATIVE = {
    "pos": ["units", "revenue", "unit_price", "customer_count"],
    "promotions": ["cost"],
    "spend": ["spend", "impressions", "clicks", "video_views"],
    "crm": ["amount"],
    "erp": ["amount", "quantity"],
    "products": ["unit_cost", "list_price"],
    "customers": ["income"],
    "inventory": ["on_hand", "on_order"],
    "lift_tests": ["spend", "std_error"],
}
# Columns dated in the future by design: they may reach the planning horizon (a promotion
# calendar, an expected close date, next month's holidays).
PLANNED_DATES = {("promotions", "start_date"), ("promotions", "end_date"), ("crm", "close_date"),
                 ("events", "date")}
# Required columns that may be empty: the contract allows an unknown discount.
MAY_BE_EMPTY = {("promotions", "discount_pct")}
RANGES = {
    ("promotions", "discount_pct"): (0, 100),
    ("service", "satisfaction_rating"): (1, 5),
    ("customers", "age"): (0, 120),
}
ORDERED_PAIRS = {  # (later, earlier, severity)
    "promotions": [("end_date", "start_date", "critical")],
    "lift_tests": [("end_date", "start_date", "critical"),
                   ("measured_until", "end_date", "critical")],
    "service": [("closed_at", "opened_at", "warning")],
    "crm": [("close_date", "created_date", "warning")],
}
# Foreign keys checked against the dimension's clean table when it has rows (warnings: a new
# store may reach POS before the stores extract, and its sales must not be lost). The check
# reads `<col>__not_in_<dimension>`, which holds the values the dimension does not know.
REFERENCES = {"store_id": "stores", "sku": "products", "customer_id": "customers"}
REFERENCING_SOURCES = {"pos", "inventory", "promotions", "erp", "service", "events"}


def expectation(type_: str, check: str, severity: str = "critical", **kwargs) -> dict:
    return {"type": type_, "kwargs": kwargs, "meta": {"check": check}, "severity": severity}


def build_suite(src: Source) -> dict:
    """The starting suite for `src`, as the JSON GX's ExpectationSuite(**suite) accepts."""
    expectations = [
        expectation("expect_column_to_exist", f"has_column_{col}", column=col)
        for col in src.required
    ]
    for col in src.required:
        if (src.name, col) not in MAY_BE_EMPTY:
            expectation_ = expectation("expect_column_values_to_not_be_null", f"{col}_present",
                                       column=col)
            expectations.append(expectation_)
    for col, logical in src.columns.items():
        expectations.extend(_type_and_range_checks(src, col, logical))
    for later, earlier, severity in ORDERED_PAIRS.get(src.name, []):
        expectations.append(expectation(
            "expect_column_pair_values_a_to_be_greater_than_b", f"{later}_not_before_{earlier}",
            severity, column_A=later, column_B=earlier, or_equal=True,
            ignore_row_if="either_value_is_missing"))
    if src.name == "crm":
        expectations.append(expectation("expect_column_values_to_be_in_set", "stage_known",
                                         column="stage", value_set=list(CRM_STAGES)))
    if src.name in REFERENCING_SOURCES:
        for col, dimension in REFERENCES.items():
            if col in src.columns:
                expectations.append(expectation(
                    "expect_column_values_to_be_null", f"{col}_in_{dimension}", "warning",
                    column=f"{col}{NOT_IN}{dimension}"))
    expectations.append(expectation(
        "expect_column_values_to_be_between", "natural_key_unique_in_file",
        column=KEY_OCCURRENCE, max_value=1))
    return {
        "name": src.name,
        "expectations": expectations,
        "meta": {
            "liftline": {
                **DEFAULT_POLICY,
                "natural_key": list(src.natural_key),
                # Free-form indicator columns (macro): each gets a number check at run time.
                "open_numeric_columns": src.open_numeric_columns,
                "notes": (
                    f"{src.name}: {src.grain}. Severity critical rejects the row (a table-level "
                    "check rejects the file); warning only counts it. <col>__unparsed holds text "
                    "that did not parse as the column's type; __key_occurrence counts repeats of "
                    "the natural key within the file."
                ),
            }
        },
    }


def _type_and_range_checks(src: Source, col: str, logical: str) -> list[dict]:
    checks = []
    if logical != STRING:
        kind = {FLOAT: "number", INT: "whole_number", DATE: "date", TIMESTAMP: "timestamp"}
        checks.append(expectation("expect_column_values_to_be_null", f"{col}_is_{kind[logical]}",
                                  column=col + UNPARSED_SUFFIX))
    if col in NON_NEGATIVE.get(src.name, []):
        checks.append(expectation("expect_column_values_to_be_between", f"{col}_not_negative",
                                  column=col, min_value=0))
    if (src.name, col) in RANGES:
        low, high = RANGES[(src.name, col)]
        checks.append(expectation("expect_column_values_to_be_between", f"{col}_in_range",
                                  column=col, min_value=low, max_value=high))
    if logical in (DATE, TIMESTAMP):
        latest = ("latest_planned_date" if (src.name, col) in PLANNED_DATES
                  else "latest_actual_date")
        checks.append(expectation("expect_column_values_to_be_between", f"{col}_plausible",
                                  column=col, min_value={"$PARAMETER": "earliest_date"},
                                  max_value={"$PARAMETER": latest}))
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m liftline.validate.scaffold",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="*", help="default: every contract source")
    parser.add_argument("--out", type=Path, default=Path("expectations"))
    parser.add_argument("--force", action="store_true", help="overwrite existing suites")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.sources) - set(SOURCES))
    if unknown:
        print(f"unknown source(s) {', '.join(unknown)}: expected {', '.join(SOURCES)}",
              file=sys.stderr)
        return 2
    for name in args.sources or list(SOURCES):
        path = args.out / f"{name}.json"
        if path.exists() and not args.force:
            print(f"kept {path} (exists; --force overwrites)")
            continue
        path.write_text(json.dumps(build_suite(SOURCES[name]), indent=2) + "\n")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
