"""The frames every estimator takes: one row per series and day, drivers beside the target.

A *history* frame has `series_key`, `date` and `units` (the target) up to the forecast origin;
a *future* frame has the same drivers for the days to forecast (its `units`, if present, is
ignored). Drivers are what is known or planned for the day before it starts: the promotion
calendar, events and holidays, closures, the calendar, and the store's attributes. Missing
driver columns take neutral defaults, so a real extract without spend or discounts still runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KEY = "series_key"
TARGET = "units"
HOLIDAY_AFTER = 3  # days after a named day that still follow it (Black Friday to Cyber Monday)

# Driver columns and the value a missing column (or NULL) means.
DRIVER_DEFAULTS: dict[str, object] = {
    "promo_sku_share": 0.0,  # share of the store's SKUs on promotion that day
    "promo_max_discount": np.nan,  # deepest discount, percent (NULL: unknown depth)
    "promo_count": 0,
    "days_until_promo": np.nan,
    "days_since_promo": np.nan,
    "media_spend": np.nan,  # known for past days only
    "event_count": 0,
    "is_holiday": False,
    "is_closed": False,  # a closure known in advance (events of kind closure)
    "holiday_name": "",  # "; "-joined names of the day's holidays and events
    "format": "",
    "country": "",
    # Sales-weighted promotion exposure (exposure.py); when absent, derived from the SKU share.
    "promo_share": np.nan,
    "promo_depth": np.nan,
    "promo_ended": np.nan,
}


def prepare(frame: pd.DataFrame, future: bool = False) -> pd.DataFrame:
    """A copy with every driver present, dates as Timestamps, sorted by series and date.

    `future=True` drops the target: nothing observed on a day to forecast reaches a model.
    """
    if KEY not in frame.columns:
        if "store_id" not in frame.columns:
            raise ValueError("a forecast frame needs a series_key (or store_id) column")
        frame = frame.assign(**{KEY: frame["store_id"]})
    if "date" not in frame.columns:
        raise ValueError("a forecast frame needs a date column")
    out = frame.copy()
    out[KEY] = out[KEY].astype(str)
    out["date"] = pd.to_datetime(out["date"]).astype("datetime64[ns]")
    if future:
        out = out.drop(columns=[TARGET], errors="ignore")
    elif TARGET not in out.columns:
        raise ValueError("a history frame needs a units column (the target)")
    else:
        out[TARGET] = pd.to_numeric(out[TARGET], errors="coerce").astype("float64")
    for column, default in DRIVER_DEFAULTS.items():
        if column not in out.columns:
            out[column] = default
        elif isinstance(default, bool):
            out[column] = out[column].astype("boolean").fillna(default).astype(bool)
        elif isinstance(default, str):
            out[column] = out[column].astype(object).where(out[column].notna(), default)
            out[column] = out[column].astype(str)
        elif not (isinstance(default, float) and np.isnan(default)):
            out[column] = pd.to_numeric(out[column], errors="coerce").fillna(default)
        else:
            out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    out = _with_exposure_fallback(out)
    out = out.sort_values([KEY, "date"], kind="mergesort")
    return out.drop_duplicates([KEY, "date"], keep="last").reset_index(drop=True)


def _with_exposure_fallback(frame: pd.DataFrame) -> pd.DataFrame:
    """Without sales-weighted exposure, use the SKU share (and its deepest discount)."""
    discount = frame["promo_max_discount"].fillna(0.0) / 100.0
    frame["promo_share"] = frame["promo_share"].fillna(frame["promo_sku_share"])
    frame["promo_depth"] = frame["promo_depth"].fillna(frame["promo_sku_share"] * discount)
    frame["promo_ended"] = frame["promo_ended"].fillna(0.0)
    return frame


def holiday_names(value: str) -> list[str]:
    return [name for name in (part.strip() for part in str(value).split(";")) if name]


def named_days(dates, names) -> dict[pd.Timestamp, list[str]]:
    """Date -> the holiday and event names on it (`names`: one list per date), named dates only."""
    return {pd.Timestamp(day): found for day, found in zip(dates, names, strict=True) if found}


def days_after_holidays(named: dict[pd.Timestamp, list[str]], dates) -> dict[str, np.ndarray]:
    """Per holiday name, for each of `dates`: days since the name last fell on or before it (0
    on the day), or -1 beyond HOLIDAY_AFTER. A holiday week's days are all 0, the days after it
    1, 2, 3: the shopping weekend after Black Friday carries no name of its own."""
    day = _day_numbers(dates)
    by_name: dict[str, list[pd.Timestamp]] = {}
    for when, names in named.items():
        for name in names:
            by_name.setdefault(name, []).append(when)
    out = {}
    for name, days in by_name.items():
        named_day = np.unique(_day_numbers(days))
        since = np.full(len(day), -1)
        for offset in range(HOLIDAY_AFTER, -1, -1):  # the nearest offset is written last, wins
            since[np.isin(day - offset, named_day)] = offset
        out[name] = since
    return out


def _day_numbers(dates) -> np.ndarray:
    """Days since the epoch as integers: day arithmetic without Timestamp objects."""
    return pd.DatetimeIndex(dates).to_numpy(dtype="datetime64[D]").astype("int64")


def dense_days(frame: pd.DataFrame) -> pd.DataFrame:
    """Each series reindexed to every day from its first to its last row (new rows: NaN units,
    neutral drivers), so day arithmetic is index arithmetic."""
    parts = []
    for key, rows in frame.groupby(KEY, sort=True):
        days = pd.date_range(rows["date"].min(), rows["date"].max(), freq="D")
        if len(days) == len(rows):
            parts.append(rows)
            continue
        full = rows.set_index("date").reindex(days).rename_axis("date").reset_index()
        full[KEY] = key
        full["format"] = rows["format"].iloc[-1]
        full["country"] = rows["country"].iloc[-1]
        parts.append(full)
    if not parts:
        return frame.iloc[0:0]
    out = pd.concat(parts, ignore_index=True)
    for column, default in DRIVER_DEFAULTS.items():
        if not (isinstance(default, float) and np.isnan(default)):
            out[column] = out[column].where(out[column].notna(), default)
    for column in ("is_holiday", "is_closed"):
        out[column] = out[column].astype(bool)
    return out
