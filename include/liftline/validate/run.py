"""Running a suite over a typed chunk with Great Expectations Core and reading its verdict.

GX is called from task code (the Airflow GX provider does not install beside Airflow 3.3).
One ephemeral context per process; each chunk is a whole-dataframe batch validated with the
COMPLETE result format, whose unexpected_index_list names the failing rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .suites import build_gx_suite, check_name, referenced_columns

_GX: dict[str, Any] = {}


@dataclass
class RowFailure:
    check: str
    severity: str
    column: str | None
    rows: np.ndarray  # index labels of the chunk
    expectation_type: str = ""


@dataclass
class Verdict:
    """What one suite said about one chunk."""

    row_failures: list[RowFailure] = field(default_factory=list)
    # Checks that fail the whole file (a missing column) or could not run at all.
    file_failures: list[str] = field(default_factory=list)


class PreparedSuite:
    """A suite fitted to one delivery, validated chunk by chunk."""

    def __init__(self, name: str, expectations: list[dict], parameters: dict[str, Any]):
        # Every check carries its name in meta, which GX hands back with each result.
        named = [{**spec, "meta": {**(spec.get("meta") or {}), "check": check_name(spec)}}
                 for spec in expectations]
        self._specs = {spec["meta"]["check"]: spec for spec in named}
        self.parameters = {k: v for k, v in parameters.items() if v is not None}
        self._gx_suite = build_gx_suite(name, named)

    def validate(self, frame: pd.DataFrame) -> Verdict:
        # An unnamed index makes GX list failing rows as bare index labels (not dicts).
        frame = frame.rename_axis(None)
        batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(
            self._gx_suite,
            expectation_parameters=self.parameters,
            result_format={"result_format": "COMPLETE"},
        )
        verdict = Verdict()
        for outcome in result.results:
            if outcome.success:
                continue
            name = outcome.expectation_config.meta["check"]
            spec = self._specs[name]
            info = outcome.exception_info or {}
            if info.get("raised_exception"):
                message = str(info.get("exception_message") or "error").splitlines()[0]
                verdict.file_failures.append(f"{name} could not run: {message}")
                continue
            rows = outcome.result.get("unexpected_index_list")
            if rows is None:
                verdict.file_failures.append(name)
                continue
            columns = referenced_columns(spec.get("kwargs", {}))
            verdict.row_failures.append(RowFailure(
                check=name,
                severity=spec.get("severity", "critical"),
                column=_delivered_column(columns),
                rows=np.asarray(rows, dtype="int64"),
                expectation_type=spec["type"],
            ))
        _count_unreadable_as_type_failures(verdict)
        return verdict


def _count_unreadable_as_type_failures(verdict: Verdict) -> None:
    """A value that is there but does not parse fails its type check, not "present" as well.

    The typed column is empty for it, so a not-null check flags it too; one reason is clearer.
    """
    unparsed = {f.column: set(f.rows.tolist()) for f in verdict.row_failures
                if f.expectation_type == "expect_column_values_to_be_null" and f.column}
    kept = []
    for failure in verdict.row_failures:
        if failure.expectation_type == "expect_column_values_to_not_be_null" and \
                failure.column in unparsed:
            rows = failure.rows[~np.isin(failure.rows, list(unparsed[failure.column]))]
            if not len(rows):
                continue
            failure.rows = rows
        kept.append(failure)
    verdict.row_failures = kept


def _delivered_column(columns: list[str]) -> str | None:
    # "units__unparsed" reports as units; derived helpers ("__key_occurrence") have none.
    if not columns or columns[0].startswith("__"):
        return None
    return columns[0].split("__")[0]


def _batch_definition():
    if "batch" not in _GX:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        # GX logs every dropped expectation at ERROR with a traceback; load_suite reports it.
        logging.getLogger("great_expectations").setLevel(logging.CRITICAL)
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = context.data_sources.add_pandas("liftline")
        asset = source.add_dataframe_asset("delivery")
        _GX["batch"] = asset.add_batch_definition_whole_dataframe("chunk")
    return _GX["batch"]
