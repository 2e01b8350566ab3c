"""Walk-forward backtest: fit at each origin on what was known then, forecast the full horizon.

Origins are `backtest.origins` dates `spacing_days` apart, the latest one `horizon_days`
before the as-of date, so every origin's 56 days have actuals; an origin with less than
`min_train_days` of history before it is dropped (logged). At each origin every candidate
forecasts every series of the region (routing.py) at the store x day grain, and the category
grain is derived top-down (category.py). The rows carry actuals, so metrics, conformal
calibration and costs all come from one frame per grain.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .base import Log
from .category import (
    category_actuals,
    category_fractions,
    category_history_start,
    promo_uplift,
    split_by_category,
)
from .conformal import ResidualQuantiles
from .dataset import Dataset
from .frames import KEY, TARGET
from .metrics import coverage, scores
from .routing import predict_candidates
from .spec import ForecastSpec


@dataclass
class Backtest:
    origins: list[pd.Timestamp]
    store_day: pd.DataFrame  # origin, candidate, series_key, date, horizon, closed, y, yhat
    store_category_week: pd.DataFrame

    def grain(self, name: str) -> pd.DataFrame:
        return getattr(self, name)


def backtest_origins(spec: ForecastSpec, as_of: pd.Timestamp, first: pd.Timestamp,
                     log: Log = print) -> list[pd.Timestamp]:
    settings = spec.backtest
    latest = pd.Timestamp(as_of) - pd.Timedelta(days=spec.horizon_days)
    spacing = pd.Timedelta(days=int(settings.get("spacing_days", 28)))
    wanted = [latest - k * spacing for k in range(int(settings.get("origins", 3)))]
    needed = pd.Timedelta(days=int(settings.get("min_train_days", 182)))
    kept = [o for o in wanted if o - pd.Timestamp(first) >= needed]
    if len(kept) < len(wanted):
        log(f"backtest: {len(wanted) - len(kept)} of {len(wanted)} origins dropped "
            f"(less than {needed.days} days of history before them)")
    return sorted(kept)


def run_backtest(spec: ForecastSpec, data: Dataset, names: list[str], keys: list[str],
                 log: Log = print) -> Backtest:
    origins = backtest_origins(spec, pd.Timestamp(data.as_of), data.first_date(), log)
    store_parts, category_parts = [], []
    # The category split reads a year back from the earliest origin: one read serves them all.
    since = category_history_start(origins[0], int(
        spec.grain("store_category_week").get("share_weeks", 8))) if origins else None
    for number, origin in enumerate(origins, start=1):
        started = time.perf_counter()
        log(f"backtest origin {number}/{len(origins)} ({origin.date()}): fitting "
            f"{', '.join(names)} on {len(keys)} series")
        frame = data.frame_at(origin)
        history, future = split_at(frame, origin, spec.horizon_days)
        actual = future[[KEY, "date", TARGET]].rename(columns={TARGET: "y"})
        forecasts = predict_candidates(spec, names, history, future, keys, log,
                                       quiet=number > 1)
        uplift = promo_uplift(history.loc[history[KEY].isin(keys)])
        categories = _CategoryGrain(spec, data, origin, uplift, forecasts.values(), since)
        for name, forecast in forecasts.items():
            rows = forecast.merge(actual, on=[KEY, "date"], how="inner")
            store_parts.append(rows.assign(origin=origin, candidate=name))
            category_parts.append(categories.rows(forecast).assign(origin=origin,
                                                                   candidate=name))
        log(f"backtest origin {number}/{len(origins)} done in "
            f"{time.perf_counter() - started:.1f} s")
    return Backtest(origins, _concat(store_parts), _concat(category_parts))


def split_at(frame: pd.DataFrame, origin: pd.Timestamp, horizon: int
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(history up to origin, the horizon's rows with their actuals for scoring only)."""
    end = origin + pd.Timedelta(days=horizon)
    history = frame.loc[frame["date"] <= origin]
    history = history.loc[history[KEY].isin(history.loc[history[TARGET].notna(), KEY])]
    future = frame.loc[(frame["date"] > origin) & (frame["date"] <= end)]
    return history, future


class _CategoryGrain:
    """One origin's category split and weekly actuals, shared by every candidate's forecast
    (the split depends on the days forecast, not on the forecast)."""

    def __init__(self, spec: ForecastSpec, data: Dataset, origin: pd.Timestamp, uplift: float,
                 forecasts, since: pd.Timestamp) -> None:  # noqa: ANN001
        grain = spec.grain("store_category_week")
        categories = data.category_days(since)
        self.fractions = pd.DataFrame()
        if categories.empty:
            return
        days = pd.concat([f[[KEY, "date"]] for f in forecasts], ignore_index=True)
        self.fractions = category_fractions(
            days, categories.loc[categories["date"] <= origin],
            data.category_exposure_at(origin), origin, int(grain.get("share_weeks", 8)),
            bool(grain.get("seasonal_share", True)), uplift)
        self.actual = category_actuals(categories, origin,
                                       origin + pd.Timedelta(days=spec.horizon_days))

    def rows(self, forecast: pd.DataFrame) -> pd.DataFrame:
        if self.fractions.empty:
            return pd.DataFrame()
        out = split_by_category(forecast, self.fractions).merge(self.actual, on=[KEY, "date"],
                                                                how="left")
        out["y"] = out["y"].fillna(0.0)
        return out


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def candidate_metrics(rows: pd.DataFrame, spec: ForecastSpec) -> dict:
    """Metrics, calibration and leave-one-origin-out coverage of one candidate at one grain."""
    calibration = calibrate(rows, spec)
    lower, upper = calibration.interval(rows["yhat"], rows["horizon"], rows[KEY])
    open_rows = rows["yhat"] > 0  # closed days are 0 for sure; intervals are about open days
    metrics = scores(rows)
    metrics["coverage_in_sample"] = coverage(rows["y"][open_rows], lower[open_rows],
                                             upper[open_rows])
    metrics["coverage"] = cross_validated_coverage(rows.loc[open_rows], spec)
    metrics["interval_width"] = interval_width(rows, calibration)
    metrics["per_origin_wape"] = {
        str(pd.Timestamp(o).date()): scores(g)["wape"] for o, g in rows.groupby("origin")}
    return {"metrics": metrics, "calibration": calibration}


def calibrate(rows: pd.DataFrame, spec: ForecastSpec) -> ResidualQuantiles:
    """Conformal calibration on backtest rows: per horizon bucket, per-series scales, spread
    for a new origin (conformal.py)."""
    return ResidualQuantiles.fit(rows["y"], rows["yhat"], rows["horizon"], spec.buckets,
                                 spec.level, series=rows[KEY], origin=rows["origin"])


def interval_width(rows: pd.DataFrame, calibration: ResidualQuantiles) -> float:
    """Mean width of the interval relative to the forecast, over open rows."""
    open_rows = rows.loc[rows["yhat"] > 0]
    if open_rows.empty:
        return float("nan")
    lower, upper = calibration.interval(open_rows["yhat"], open_rows["horizon"], open_rows[KEY])
    return float(np.mean((upper - lower) / open_rows["yhat"].to_numpy()))


def cross_validated_coverage(rows: pd.DataFrame, spec: ForecastSpec) -> float:
    """Coverage on each origin of intervals calibrated on the other origins (honest)."""
    origins = rows["origin"].unique()
    if len(origins) < 2:
        return float("nan")
    inside = total = 0
    for origin in origins:
        held = rows["origin"] == origin
        calibration = calibrate(rows.loc[~held], spec)
        lower, upper = calibration.interval(rows.loc[held, "yhat"], rows.loc[held, "horizon"],
                                            rows.loc[held, KEY])
        y = rows.loc[held, "y"].to_numpy()
        inside += int(((y >= lower - 1e-9) & (y <= upper + 1e-9)).sum())
        total += int(held.sum())
    return inside / total if total else float("nan")
