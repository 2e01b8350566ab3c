"""pandas values -> plain DB-API values, chosen by the target column's SQL type.

Drivers reject or mangle pandas values: NaN is a float, not NULL; numpy scalars are not ints
or floats to psycopg's COPY; SQLite's Date type only accepts `datetime.date`. Converting by the
column type (not the frame's dtype) makes the result the same whatever pandas inferred.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Boolean, Column, Date, DateTime, Float, Integer, Numeric, String

Values = list[Any]


def column_values(series: pd.Series, column: Column) -> Values:
    """The values of `series` as Python objects for `column`, with None for every missing value."""
    convert = _converter(column)
    try:
        return convert(series)
    except (TypeError, ValueError, OverflowError) as exc:
        raise _conversion_error(series, column, exc) from None


def _conversion_error(series: pd.Series, column: Column, exc: Exception) -> ValueError:
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ValueError(
        f"column {column.table.name}.{column.name}: cannot convert {series.dtype} values "
        f"to {column.type}: {detail}"
    )


def scalar_value(value: Any, column: Column) -> Any:
    """One value converted exactly as `column_values` would (e.g. a partition key)."""
    return column_values(pd.Series([value], dtype=object), column)[0]


def _converter(column: Column) -> Callable[[pd.Series], Values]:
    # Order matters: DateTime and Date are unrelated classes, Integer before Numeric.
    sql_type = column.type
    if isinstance(sql_type, DateTime):
        return _to_datetimes
    if isinstance(sql_type, Date):
        return _to_dates
    if isinstance(sql_type, Boolean):
        return _to_bools
    if isinstance(sql_type, Integer):
        return _to_ints
    if isinstance(sql_type, Float | Numeric):
        return _to_floats
    if isinstance(sql_type, String):
        return _to_strings
    return _to_python


def _missing(series: pd.Series) -> np.ndarray:
    return series.isna().to_numpy(dtype=bool)


def _with_nones(values: Any, missing: np.ndarray) -> Values:
    if not missing.any():
        return list(values)
    out = np.empty(len(missing), dtype=object)
    out[:] = list(values)
    out[missing] = None
    return out.tolist()


def sqlite_values(series: pd.Series, column: Column) -> Values:
    """Like `column_values`, but dates and timestamps already in SQLAlchemy's SQLite text form.

    The SQLite fast path hands rows straight to the driver, skipping SQLAlchemy's per-value
    bind processors; rendering whole columns with pandas is many times faster and stores
    exactly what those processors would ("2024-03-01", "2024-03-01 10:00:00.000000").
    """
    sql_type = column.type
    if not isinstance(sql_type, Date | DateTime):
        return column_values(series, column)
    try:
        naive = _as_utc_naive_datetimes(series)
        if isinstance(sql_type, DateTime):
            text = naive.dt.strftime("%Y-%m-%d %H:%M:%S.%f")
        else:
            if (naive.dropna() != naive.dropna().dt.normalize()).any():
                raise ValueError("a value has a time of day; truncate it to a date first")
            text = naive.dt.strftime("%Y-%m-%d")
    except (TypeError, ValueError, OverflowError) as exc:
        raise _conversion_error(series, column, exc) from None
    return _with_nones(text.to_numpy(dtype=object), _missing(naive))


def _as_utc_naive_datetimes(series: pd.Series) -> pd.Series:
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        # ISO strings, datetime.date/datetime objects; "" and None become NaT.
        try:
            series = pd.to_datetime(series.astype(object), format="ISO8601")
        except (TypeError, ValueError) as exc:
            # pandas appends multi-line advice; its first sentence names the bad value.
            raise ValueError(str(exc).split(". ")[0].splitlines()[0]) from None
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series


def _to_datetimes(series: pd.Series) -> Values:
    series = _as_utc_naive_datetimes(series)
    return _with_nones(series.dt.to_pydatetime(), _missing(series))


def _to_dates(series: pd.Series) -> Values:
    series = _as_utc_naive_datetimes(series)
    if (series.dropna() != series.dropna().dt.normalize()).any():
        raise ValueError("a value has a time of day; truncate it to a date first")
    return _with_nones(series.dt.date, _missing(series))


def _numeric(series: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("Int64")
    # Strings ("1.5"), objects holding numbers; "" becomes NaN rather than an error.
    stripped = series.astype(object).map(
        lambda v: None if isinstance(v, str) and not v.strip() else v
    )
    return pd.to_numeric(stripped)


def _to_floats(series: pd.Series) -> Values:
    numbers = _numeric(series)
    floats = numbers.to_numpy(dtype="float64", na_value=np.nan)
    return _with_nones(floats.tolist(), np.isnan(floats))


def _to_ints(series: pd.Series) -> Values:
    numbers = _numeric(series)
    missing = _missing(numbers)
    if pd.api.types.is_integer_dtype(numbers.dtype):
        # Keep exact integers: a float round trip would corrupt values above 2**53.
        return _with_nones(numbers.to_numpy(dtype=object, na_value=None), missing)
    floats = numbers.to_numpy(dtype="float64", na_value=np.nan)
    fractional = ~missing & (np.mod(np.nan_to_num(floats), 1) != 0)
    if fractional.any():
        raise ValueError(f"{floats[fractional][0].item()!r} is not a whole number")
    return [
        None if gone else int(value) for value, gone in zip(floats.tolist(), missing, strict=True)
    ]


def _to_bools(series: pd.Series) -> Values:
    def one(value: Any) -> bool:
        if isinstance(value, bool | np.bool_):
            return bool(value)
        if isinstance(value, int | np.integer) and value in (0, 1):
            return bool(value)
        raise ValueError(f"{value!r} is not a boolean")

    missing = _missing(series)
    return [
        None if gone else one(v) for v, gone in zip(series.astype(object), missing, strict=True)
    ]


def _to_strings(series: pd.Series) -> Values:
    if pd.api.types.is_string_dtype(series.dtype) and series.dtype != object:
        # pandas' own string dtypes hold only str and missing values: no per-value work.
        return series.to_numpy(dtype=object, na_value=None).tolist()

    def one(value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, dict | list):
            # json columns: callers may hand over the structure itself.
            return json.dumps(value, sort_keys=True, default=str)
        if isinstance(value, np.generic):
            value = value.item()
        return str(value)

    missing = _missing(series)
    return [
        None if gone else one(v) for v, gone in zip(series.astype(object), missing, strict=True)
    ]


def _to_python(series: pd.Series) -> Values:
    def one(value: Any) -> Any:
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, pd.Timestamp):
            return value.to_pydatetime()
        return value

    missing = _missing(series)
    return [
        None if gone else one(v) for v, gone in zip(series.astype(object), missing, strict=True)
    ]
