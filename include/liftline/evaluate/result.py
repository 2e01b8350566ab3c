"""What every evaluator returns, and the warehouse reads they share.

A section is a dict: `status` is `evaluated` (with `headline`, the row of the human table, and
the detailed figures) or `not_evaluated` (with `reason`). Numbers are made JSON-safe at the end
(`json_safe`): NaN and infinities become null, floats keep 4 decimals.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, inspect, select

from liftline.warehouse import read_frame, table

EVALUATED, NOT_EVALUATED = "evaluated", "not_evaluated"
DECIMALS = 4


def not_evaluated(reason: str, **details: Any) -> dict[str, Any]:
    return {"status": NOT_EVALUATED, "reason": reason, **details}


def evaluated(metric: str, liftline: float | None, baseline: float | None,
              oracle: float | None, verdict: str, **details: Any) -> dict[str, Any]:
    """An evaluated section; the headline is what the human table shows of it."""
    headline = {"metric": metric, "liftline": liftline, "baseline": baseline,
                "oracle": oracle, "verdict": verdict}
    return {"status": EVALUATED, "headline": headline, **details}


def json_safe(value: Any) -> Any:
    """`value` with numpy scalars as Python numbers, floats rounded, NaN/inf as None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return round(number, DECIMALS) if math.isfinite(number) else None
    if isinstance(value, pd.Timestamp):
        return str(value.date())
    if value is pd.NaT or value is pd.NA:
        return None
    return value


def output_rows(engine: Engine, name: str, *where: Any) -> pd.DataFrame | None:
    """The rows of output table `name` matching `where`, or None when the warehouse lacks the
    table (a warehouse older than the stage that writes it)."""
    if not inspect(engine).has_table(name):
        return None
    target = table(name)
    query = select(target)
    for clause in where:
        query = query.where(clause(target.c) if callable(clause) else clause)
    return read_frame(engine, query)


def absent(name: str, rows: pd.DataFrame | None) -> str | None:
    """Why the rows of `name` cannot be evaluated, or None when there are some."""
    if rows is None:
        return f"the warehouse has no {name} table (run liftline run to create and fill it)"
    if rows.empty:
        return f"{name} is empty: the model has not been trained and scored yet"
    return None


def share(flags: pd.Series | np.ndarray) -> float:
    values = np.asarray(flags, dtype=bool)
    return float(values.mean()) if len(values) else float("nan")


def number(value: Any) -> float | None:
    """A float, or None for a missing value."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None
