"""Delivered text -> typed columns, keeping what could not be parsed so validation can name it.

Every extract is read as text. Each contract column is parsed to its logical type; a non-empty
value that does not parse becomes missing in the typed column and is kept in `<col>__unparsed`,
which the suites expect to be null ("units is a number"). Two more derived columns serve the
suites: `__key_occurrence` (1 for the first row with a natural key in this file, 2 for its
first repeat, ...) and canonical CRM stages (the contract's stage names are case-insensitive).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from liftline.contract import CRM_STAGES, DATE, FLOAT, INT, STRING, TIMESTAMP, Source

UNPARSED_SUFFIX = "__unparsed"
NOT_IN = "__not_in_"
_BIGINT_LIMIT = 2.0**63  # <col>__not_in_<dimension>: values of col the dimension does not know
KEY_OCCURRENCE = "__key_occurrence"
_STAGES_BY_LOWER = {stage.lower(): stage for stage in CRM_STAGES}


def blank_to_missing(text: pd.Series) -> pd.Series:
    """As pandas strings with surrounding whitespace removed; empty cells become missing."""
    # NUL cannot be stored in a PostgreSQL text value; it is never meaningful in an extract.
    stripped = text.astype("str").str.replace("\x00", "", regex=False).str.strip()
    return stripped.mask(stripped == "")


def parse_column(text: pd.Series, logical: str) -> pd.Series:
    """Parse one text column to `logical`; values that do not parse become missing."""
    if logical == STRING:
        return text
    if logical in (FLOAT, INT):
        numbers = pd.to_numeric(text, errors="coerce").astype("float64")
        numbers = numbers.where(np.isfinite(numbers))  # "inf", "nan" are text, not numbers
        if logical == INT:
            # Whole numbers that fit a BIGINT; they stay float64 because GX compares numpy
            # floats vectorised and nullable ints value by value.
            return numbers.where((numbers % 1 == 0) & (numbers.abs() < _BIGINT_LIMIT))
        return numbers
    if logical == DATE:
        # ISO dates only (CONTRACT.md): "2024-03-05"; a time of day makes it not a date.
        return _in_nanosecond_range(pd.to_datetime(text, format="%Y-%m-%d", errors="coerce"))
    if logical == TIMESTAMP:
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
        return _in_nanosecond_range(parsed.dt.tz_localize(None))
    raise ValueError(f"unknown logical type {logical!r}")


def _in_nanosecond_range(parsed: pd.Series) -> pd.Series:
    """datetime64[ns], which GX range checks compare vectorised; dates outside 1677-2262 (e.g. a
    9999-12-31 "open end") become missing, so their text is reported as not a date."""
    inside = (parsed >= pd.Timestamp.min) & (parsed <= pd.Timestamp.max)
    return parsed.where(inside).astype("datetime64[ns]")


def typed_frame(text: pd.DataFrame, src: Source, extra_numeric: list[str] = ()) -> pd.DataFrame:
    """The chunk `text` (contract column names, blanks missing) as typed columns plus helpers.

    Columns the delivery lacks are absent here too, so "column exists" checks can fail;
    `extra_numeric` names the free-form indicator columns of an open-column source (macro).
    """
    out: dict[str, pd.Series] = {}
    types = {**src.columns, **dict.fromkeys(extra_numeric, FLOAT)}
    for column, logical in types.items():
        if column not in text.columns:
            continue
        raw = text[column]
        parsed = parse_column(raw, logical)
        if column == "stage" and src.name == "crm":
            canonical = raw.str.lower().map(_STAGES_BY_LOWER)
            parsed = canonical.where(canonical.notna(), raw)
        out[column] = parsed
        if logical != STRING:
            out[column + UNPARSED_SUFFIX] = raw.where(parsed.isna())
    return pd.DataFrame(out, index=text.index)


def reference_column(text: pd.DataFrame, name: str, known: pd.Index) -> pd.Series:
    """`<col>__not_in_<dimension>`: the values of col missing from `known`, else missing.

    Membership is tested here with pandas rather than by GX's in-set check, which copies its
    value set many times per chunk (seconds for a dimension of 20,000 customers).
    """
    column = name.split(NOT_IN)[0]
    values = text[column]
    # get_indexer hashes `known` once; Series.isin on arrow strings is ~80x slower here.
    unknown = known.get_indexer(values) < 0
    return values.where(values.notna() & unknown)


class KeyCounter:
    """Counts natural keys across the chunks of one file, so a repeat in a later chunk is seen.

    Keys are compared by a 64-bit hash of their parts (vectorised; a collision between two
    different keys of one file is about as likely as 1 in 10^9 for a 100-million-row file).
    """

    def __init__(self, key_columns: tuple[str, ...]):
        self.key_columns = key_columns
        self._seen = pd.Series(dtype="float64")  # key hash -> rows with that key so far

    def occurrences(self, text: pd.DataFrame) -> pd.Series:
        """1 for a key's first row in the file so far, 2 for the next, ..."""
        present = [c for c in self.key_columns if c in text.columns]
        if not present:
            return pd.Series(1, index=text.index, dtype="int64")
        keys = pd.util.hash_pandas_object(text[present], index=False)
        within_chunk = keys.groupby(keys, sort=False).cumcount() + 1
        before = keys.map(self._seen).fillna(0) if len(self._seen) else 0
        self._seen = self._seen.add(keys.value_counts(), fill_value=0)
        return (within_chunk + before).astype("int64").set_axis(text.index)
