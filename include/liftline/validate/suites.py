"""Loading a source's suite from expectations/<source>.json and fitting it to one delivery.

The JSON is a Great Expectations 1.x suite; `meta.liftline` holds the source's policy (the
row threshold and the date bounds). GX drops an expectation it does not know with only a log
line, so loading counts what GX kept and refuses a suite that lost any.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liftline import settings
from liftline.contract import source as contract_source

from .coerce import NOT_IN, UNPARSED_SUFFIX

SEVERITIES = ("critical", "warning", "info")
# A suite's meta.liftline may override any of these.
DEFAULT_POLICY = {
    "row_threshold_pct": 5.0,  # above this share of rejected rows, the whole file is quarantined
    "earliest_date": "2000-01-01",
    "actual_date_slack_days": 1,  # facts may be dated at most this long after their delivery
    "planning_horizon_days": 400,  # plans (promotions, expected close dates) may reach this far
}


class SuiteError(ValueError):
    """A suite file that cannot be used; the message says which and how to fix it."""


@dataclass(frozen=True)
class Policy:
    row_threshold_pct: float
    earliest_date: dt.date
    actual_date_slack_days: int
    planning_horizon_days: int
    open_numeric_columns: bool = False

    def date_bounds(self, received_at: dt.datetime) -> dict[str, dt.datetime]:
        """The date parameters for a delivery received at `received_at`."""
        day = dt.datetime.combine(received_at.date(), dt.time())
        return {
            "earliest_date": dt.datetime.combine(self.earliest_date, dt.time()),
            # End of the last allowed day, so timestamps during it pass too.
            "latest_actual_date": day + dt.timedelta(days=self.actual_date_slack_days + 1)
            - dt.timedelta(microseconds=1),
            "latest_planned_date": day + dt.timedelta(days=self.planning_horizon_days + 1)
            - dt.timedelta(microseconds=1),
        }


@dataclass(frozen=True)
class Suite:
    """One source's checks as JSON dicts, and its policy."""

    source: str
    path: Path
    expectations: tuple[dict, ...]
    policy: Policy
    meta: dict = field(default_factory=dict)

    def for_delivery(
        self, columns: set[str], parameters: dict[str, Any], extra_numeric: list[str] = (),
        dimensions_with_keys: set[str] = frozenset(),
    ) -> tuple[list[dict], list[str]]:
        """The expectations that apply to a delivery with `columns`, and notes on skipped ones.

        A check of a column the delivery lacks is skipped (a missing required column already
        fails its expect_column_to_exist check); so is a check against a dimension with no
        rows yet, or one whose parameter has no value, each with a note.
        """
        applicable, notes = [], []
        for spec in self.expectations:
            kwargs = spec.get("kwargs", {})
            referenced = referenced_columns(kwargs)
            absent = any(_base(c) not in columns for c in referenced)
            if absent and spec["type"] != "expect_column_to_exist":
                continue
            empty = sorted({d for c in referenced if (d := referenced_dimension(c))}
                           - set(dimensions_with_keys))
            if empty:
                notes.append(f"{check_name(spec)} skipped: no {', '.join(empty)} delivered yet")
                continue
            missing = [p for p in _parameters(kwargs) if parameters.get(p) is None]
            if missing:
                notes.append(f"{check_name(spec)} skipped: no {', '.join(missing)}")
                continue
            applicable.append(spec)
        for column in extra_numeric:  # macro's free-form indicators must be numbers
            applicable.append({
                "type": "expect_column_values_to_be_null",
                "kwargs": {"column": column + UNPARSED_SUFFIX},
                "meta": {"check": f"{column}_is_number"},
                "severity": "critical",
            })
        return applicable, notes


def referenced_dimension(column: str) -> str | None:
    """"store_id__not_in_stores" -> "stores"; None for other columns."""
    return column.split(NOT_IN, 1)[1] if NOT_IN in column else None


def check_name(spec: dict) -> str:
    """The name a check is reported by: meta.check, else type(column)."""
    name = (spec.get("meta") or {}).get("check")
    if name:
        return str(name)
    columns = referenced_columns(spec.get("kwargs", {}))
    return f"{spec['type']}({', '.join(columns)})" if columns else spec["type"]


def referenced_columns(kwargs: dict) -> list[str]:
    columns = [kwargs[k] for k in ("column", "column_A", "column_B") if isinstance(kwargs.get(k), str)]
    columns += list(kwargs.get("column_list") or [])
    return columns


def load_suite(source_name: str, folder: Path | None = None) -> Suite:
    """The suite of `source_name` from `folder` (default: settings.expectations_dir())."""
    src = contract_source(source_name)
    path = (folder or settings.expectations_dir()) / f"{src.name}.json"
    try:
        spec = json.loads(path.read_text())
    except FileNotFoundError:
        raise SuiteError(
            f"no expectation suite {path}: restore it, or write a starting one with "
            f"`python -m liftline.validate.scaffold {src.name}`"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SuiteError(f"cannot read expectation suite {path}: {exc}") from None
    expectations = spec.get("expectations")
    if not isinstance(expectations, list) or not expectations:
        raise SuiteError(f"expectation suite {path} has no expectations list")
    for spec_ in expectations:
        severity = spec_.get("severity", "critical")
        if severity not in SEVERITIES:
            raise SuiteError(
                f"{path}: check {check_name(spec_)} has severity {severity!r}; "
                f"use one of {', '.join(SEVERITIES)}"
            )
    names = [check_name(e) for e in expectations]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SuiteError(f"{path}: check name(s) {', '.join(repeated)} used twice; make meta.check "
                         "unique, it is how rejected rows name their reason")
    _require_gx_accepts(path, spec)
    meta = (spec.get("meta") or {}).get("liftline") or {}
    return Suite(src.name, path, tuple(expectations), _policy(path, meta), meta)


def build_gx_suite(name: str, expectations: list[dict]):
    """A GX ExpectationSuite of `expectations`; SuiteError if GX silently dropped any."""
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=name, expectations=[dict(e) for e in expectations])
    if len(suite.expectations) != len(expectations):
        kept = {e.expectation_type for e in suite.expectations}
        lost = sorted({e["type"] for e in expectations} - kept) or ["(a malformed one)"]
        raise SuiteError(
            f"Great Expectations did not accept {len(expectations) - len(suite.expectations)} "
            f"check(s) of suite {name}: {', '.join(lost)}; fix the type or its arguments"
        )
    return suite


def _require_gx_accepts(path: Path, spec: dict) -> None:
    try:
        build_gx_suite(path.stem, spec["expectations"])
    except SuiteError as exc:
        raise SuiteError(f"{path}: {exc}") from None


def _policy(path: Path, meta: dict) -> Policy:
    values = {**DEFAULT_POLICY, **meta}
    try:
        threshold = float(values["row_threshold_pct"])
        if not 0 <= threshold <= 100:
            raise ValueError
        return Policy(
            row_threshold_pct=threshold,
            earliest_date=dt.date.fromisoformat(str(values["earliest_date"])),
            actual_date_slack_days=int(values["actual_date_slack_days"]),
            planning_horizon_days=int(values["planning_horizon_days"]),
            open_numeric_columns=bool(values.get("open_numeric_columns", False)),
        )
    except (TypeError, ValueError):
        raise SuiteError(
            f"{path}: meta.liftline policy is invalid (row_threshold_pct 0-100, earliest_date "
            f"YYYY-MM-DD, day counts as whole numbers): {json.dumps(meta, default=str)[:200]}"
        ) from None


def _base(column: str) -> str:
    # Derived columns ("units__unparsed", "sku__not_in_products") stand for their column.
    return column.split("__")[0] if not column.startswith("__") else column


def _parameters(kwargs: dict) -> list[str]:
    return [
        value["$PARAMETER"]
        for value in kwargs.values()
        if isinstance(value, dict) and "$PARAMETER" in value
    ]
