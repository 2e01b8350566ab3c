"""Input profiles and the population stability index (PSI) that compares two of them.

A training run stores, in its model card's `inputs`, a profile of the feature columns it learned
from (`profile_inputs`); the drift check later puts the recent values of the same columns into
the same bins (`current_shares`) and measures how far they moved (`psi`).

Per column, the profile keeps one of three layouts, each with the share of missing values as
a bin of its own (a feature that stops being delivered is drift too):

- `numeric`: values that alone hold a tenth of the rows or more (`atoms`: no spend, no
  promotion) each get a bin, and the rest is split at its training deciles (ties merged), the
  outer bins open-ended so a value beyond the training range lands in the first or last bin;
- `discrete`: a numeric column with at most `bins` distinct values (a constant, a count, a
  flag): the share of each value, and an `other` bin for values never seen in training, so a
  constant that changes is caught;
- `categorical`: a string column's share per category (the `MAX_CATEGORIES` most common) and
  an `other` bin.

Each column also records its `reference_psi`: the largest PSI that a window of the monitored
length inside the training data itself shows against the whole (see `reference_psi`), the
yardstick for features that come in bursts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

BINS = 10
MAX_CATEGORIES = 30
# A bin empty on one side would make the PSI infinite; shares are floored at this instead.
EPSILON = 1e-4
NUMERIC, DISCRETE, CATEGORICAL = "numeric", "discrete", "categorical"
WINDOW_DAYS = 28  # the recent window the drift check compares with the training profile
MIN_BLOCK_ROWS = 30  # fewer rows: a window's PSI mostly measures sampling noise
REFERENCE_STEP_DAYS = 7


def profile_inputs(frame: pd.DataFrame, columns: Iterable[str], *, table: str | None = None,
                   date_column: str = "date", scope: Mapping[str, list] | None = None,
                   window_days: int = WINDOW_DAYS, bins: int = BINS) -> dict[str, Any]:
    """The training-window profile of `columns` of `frame` (JSON-ready, for a model card).

    `table` is the feature table the same columns are read from when monitoring, `date_column`
    the column that places a row in time, and `scope` the filters (column: allowed values)
    that select the rows this model serves there (e.g. its stores). Columns not in `frame`
    are left out. `window_days` is the length of the recent window monitoring compares; each
    column's `reference_psi` is how far the training data's own windows of that length stray
    from the whole.
    """
    present = [c for c in columns if c in frame.columns]
    dates = (pd.to_datetime(frame[date_column]) if date_column in frame.columns and len(frame)
             else None)
    profiles = {c: profile_column(frame[c], bins) for c in present}
    references = reference_psi(frame, dates, profiles, window_days)
    return {
        "table": table,
        "date_column": date_column,
        "scope": {k: list(v) for k, v in (scope or {}).items()},
        "window": {"start": _day(dates.min()) if dates is not None else None,
                   "end": _day(dates.max()) if dates is not None else None},
        "window_days": window_days,
        "rows": int(len(frame)),
        "columns": {c: {**p, "reference_psi": references.get(c)} for c, p in profiles.items()},
    }


def reference_psi(frame: pd.DataFrame, dates: pd.Series | None,
                  profiles: Mapping[str, Mapping[str, Any]], window_days: int
                  ) -> dict[str, float]:
    """Per column, the largest PSI against the whole training data of any `window_days`
    window inside it (windows ending every `REFERENCE_STEP_DAYS` days, counted back from its
    last day): how far an ordinary window already strays.

    Features that come in bursts (promotions, media flights, holidays) differ a lot between
    any month and the long run; the drift check only counts a column as drifting when it
    moves more than that. Windows with fewer than `MIN_BLOCK_ROWS` rows, as the check's own,
    are left out; with fewer than two windows there is no reference.
    """
    if dates is None or dates.isna().all():
        return {}
    age = (dates.max() - dates).dt.days.to_numpy()
    starts = range(0, max(int(age.max()) - window_days + 2, 1), REFERENCE_STEP_DAYS)
    windows = [np.flatnonzero((age >= k) & (age < k + window_days)) for k in starts]
    windows = [rows for rows in windows if rows.size >= MIN_BLOCK_ROWS]
    if len(windows) < 2:
        return {}
    out = {}
    for column, profile in profiles.items():
        values = frame[column].reset_index(drop=True)
        found = [column_psi(profile, values.iloc[rows]) for rows in windows]
        known = [v for v in found if v is not None]
        if known:
            out[column] = max(known)
    return out


def profile_column(values: pd.Series, bins: int = BINS) -> dict[str, Any]:
    """One column's layout and training shares (see the module docstring)."""
    if _is_text(values):
        return _categorical_profile(values)
    numbers = _numbers(values)
    total = max(len(numbers), 1)
    observed = numbers[~np.isnan(numbers)]
    missing = float(np.isnan(numbers).sum() / total)
    distinct, counts = np.unique(np.round(observed, 9), return_counts=True)
    if distinct.size <= bins:
        return {"kind": DISCRETE, "values": distinct.tolist(),
                "shares": [*(counts / total).tolist(), 0.0], "missing": missing}
    # Values holding a decile or more on their own (zero spend, no promotion) are bins of
    # their own; deciles of the rest split the others.
    atoms = distinct[counts >= len(observed) / bins]
    rest = observed[~np.isin(np.round(observed, 9), atoms)]
    edges = (np.unique(np.quantile(rest, np.linspace(0, 1, bins + 1)))[1:-1] if rest.size
             else np.array([]))
    counts = np.bincount(_numeric_bins(observed, atoms, edges),
                         minlength=atoms.size + edges.size + 1).astype(float)
    return {"kind": NUMERIC, "atoms": atoms.tolist(), "edges": edges.tolist(),
            "shares": (counts / total).tolist(), "missing": missing}


def current_shares(profile: Mapping[str, Any], values: pd.Series | np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(training shares, current shares) of one column, bin by bin, the missing bin last."""
    values = pd.Series(values)
    expected = np.array([*profile["shares"], profile.get("missing", 0.0)], dtype=float)
    total = len(values)
    if total == 0:
        return expected, np.full(expected.size, np.nan)
    kind = profile["kind"]
    if kind == CATEGORICAL:
        text = values.astype("string")
        missing = text.isna().to_numpy()
        known = list(profile["categories"])
        position = pd.Series(range(len(known)), index=known)
        index = text.map(position).fillna(len(known)).to_numpy(dtype=int)
    else:
        numbers = _numbers(values)
        missing = np.isnan(numbers)
        if kind == DISCRETE:
            seen = np.asarray(profile["values"], dtype=float)
            position = {v: i for i, v in enumerate(seen.tolist())}
            index = np.array([position.get(v, len(seen)) for v in np.round(numbers, 9).tolist()],
                             dtype=int)
        else:
            index = _numeric_bins(numbers, np.asarray(profile.get("atoms", []), dtype=float),
                                  np.asarray(profile["edges"], dtype=float))
    counts = np.bincount(index[~missing], minlength=expected.size - 1).astype(float)
    actual = np.append(counts, missing.sum()) / total
    return expected, actual


def psi(expected: Iterable[float], actual: Iterable[float], epsilon: float = EPSILON) -> float:
    """Population stability index: sum over bins of (actual - expected) x ln(actual / expected).

    Shares are floored at `epsilon`, so a bin empty on one side adds a large but finite term
    and a bin empty on both sides adds nothing. Identical distributions give 0; the usual
    reading is < 0.1 stable, 0.1-0.25 moving, > 0.25 shifted.
    """
    e = np.maximum(np.asarray(list(expected), dtype=float), epsilon)
    a = np.maximum(np.asarray(list(actual), dtype=float), epsilon)
    if e.shape != a.shape:
        raise ValueError(f"psi needs the same bins on both sides, got {e.size} and {a.size}")
    return float(np.sum((a - e) * np.log(a / e)))


def column_psi(profile: Mapping[str, Any], values: pd.Series | np.ndarray) -> float | None:
    """The PSI of `values` against one column's training profile (None without values)."""
    expected, actual = current_shares(profile, values)
    if np.isnan(actual).any():
        return None
    found = psi(expected, actual)
    return found if math.isfinite(found) else None


def _numeric_bins(numbers: np.ndarray, atoms: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each number: its atom's position (atoms are sorted), else len(atoms) + the
    position of its decile between `edges`."""
    rounded = np.round(numbers, 9)
    position = np.searchsorted(atoms, rounded)
    is_atom = np.zeros(numbers.size, dtype=bool)
    inside = position < atoms.size
    is_atom[inside] = atoms[position[inside]] == rounded[inside]
    return np.where(is_atom, position, atoms.size + np.searchsorted(edges, numbers, side="right"))


def _categorical_profile(values: pd.Series) -> dict[str, Any]:
    text = values.astype("string")
    total = max(len(text), 1)
    counts = text.value_counts(dropna=True)
    kept = counts.iloc[:MAX_CATEGORIES]
    other = float(counts.iloc[MAX_CATEGORIES:].sum())
    return {"kind": CATEGORICAL, "categories": [str(c) for c in kept.index],
            "shares": [*(kept.to_numpy(dtype=float) / total).tolist(), other / total],
            "missing": float(text.isna().sum() / total)}


def _is_text(values: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values))


def _numbers(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(values):
        values = values.astype("float64")
    return pd.to_numeric(values, errors="coerce").astype("float64").to_numpy(na_value=np.nan)


def _day(value: Any) -> str | None:
    return None if pd.isna(value) else str(pd.Timestamp(value).date())
