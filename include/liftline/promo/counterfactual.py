"""The counterfactual baseline: what the promoted SKUs would have sold without the promotion.

Method `forecast` (the default): the sales-forecast stage's global LightGBM model, fitted on
every store-day up to the as-of date, forecasts each covered store from `lookback_days` before the
promotion's start with every promotion switched off until 14 days after the window
(`LightGBMForecaster.counterfactual`). That gives the store's promotion-free shape: weekday,
season, holidays, closures. The promoted SKUs' part of it is their share of that store
counterfactual on the latest `share_days` clean pre-period days within `lookback_days` before
the start (trading, and no SKU of the category in the store on a promotion or in the dip after
one; a sibling's promotion cannibalises the promoted SKUs):

    baseline(day) = store_cf(day) x sum(promoted units, clean pre days) / sum(store_cf, same days)

Scaling by the pre-period ratio cancels any level bias of the store model: the model supplies
only how the days of the window differ from the days before it. The same holds for siblings.

Method `pre_period` (and the fallback, with the reason logged): the mean daily units of the
clean pre-period, flat over the window — the naive baseline feat_promo_effectiveness keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from liftline.forecast import SERIES_KEY, ForecastSpec, LightGBMForecaster, load_dataset
from liftline.forecast import load_spec as load_forecast_spec

Log = Callable[[str], None]
MIN_CLEAN_DAYS = 7  # fewer clean pre-period days: the share is too noisy to scale by


def store_counterfactuals(engine: Engine, windows: pd.DataFrame, as_of: date, log: Log,
                          forecast_spec: ForecastSpec | None = None,
                          model: LightGBMForecaster | None = None) -> tuple[pd.DataFrame, str]:
    """Promotion-free store units per window and day, and a note ("" when all went well).

    `windows`: window_id, store_id, origin, first, last. Returns window_id, store_id, date,
    store_cf. An empty frame (with the reason as the note) when no model could be fitted.
    `model`: a forecaster fitted earlier (on history up to some day before as-of) to reuse
    instead of fitting one on everything up to as-of.
    """
    empty = pd.DataFrame(columns=["window_id", "store_id", "date", "store_cf"])
    if windows.empty:
        return empty, ""
    frame = _store_history(engine, as_of)
    if frame is None:
        return empty, "no store-day history to fit the forecast model on"
    if model is None:
        try:
            model = fit_store_model(frame, forecast_spec)
        except ValueError as exc:  # too little history for any training row
            return empty, f"the forecast model could not be fitted ({exc})"
    fitted_to = model.history_["date"].max()
    future = frame.loc[frame["date"] > fitted_to].drop(columns=["units"], errors="ignore")
    found = model.counterfactual(windows.rename(columns={"store_id": SERIES_KEY}), future)
    found = found.rename(columns={SERIES_KEY: "store_id", "yhat": "store_cf"})
    missing = set(windows["store_id"]) - set(found["store_id"])
    note = f"no forecast history for stores {sorted(missing)[:5]}" if missing else ""
    return found, note


def fit_counterfactual_model(engine: Engine, as_of: date,
                             forecast_spec: ForecastSpec | None = None
                             ) -> LightGBMForecaster | None:
    """The store model fitted on every store-day up to `as_of`, to register with the lift
    model so the daily monitor reuses it; None when there is too little history."""
    frame = _store_history(engine, as_of)
    if frame is None:
        return None
    try:
        return fit_store_model(frame, forecast_spec)
    except ValueError:
        return None


def _store_history(engine: Engine, as_of: date) -> pd.DataFrame | None:
    data = load_dataset(engine, as_of, log=lambda _: None)
    if data is None:
        return None
    frame = data.frame_at(pd.Timestamp(as_of))
    return frame.loc[frame["date"] <= pd.Timestamp(as_of)]


def fit_store_model(history: pd.DataFrame, forecast_spec: ForecastSpec | None = None
                    ) -> LightGBMForecaster:
    """The sales-forecast spec's global LightGBM, fitted on store-day `history`."""
    spec = forecast_spec or load_forecast_spec()
    return LightGBMForecaster(**spec.params("lightgbm")).fit(history)


def scale_to_cells(daily: pd.DataFrame, store_cf: pd.DataFrame) -> pd.DataFrame:
    """Add `baseline` (counterfactual units of the role's SKUs) to each promotion-store-role day.

    `daily`: promo_id, store_id, role, date, units, baseline_day, trading, start_date,
    window_id. Rows of windows without a store counterfactual, or with fewer than
    MIN_CLEAN_DAYS clean pre-period days, get NaN (the caller falls back).
    """
    rows = daily.merge(store_cf, on=["window_id", "store_id", "date"], how="left")
    clean = rows["baseline_day"] & (rows["store_cf"] > 0)
    group = ["promo_id", "store_id", "role"]
    sums = rows.loc[clean].groupby(group).agg(pre_units=("units", "sum"),
                                              pre_cf=("store_cf", "sum"),
                                              clean_days=("units", "size"))
    rows = rows.merge(sums.reset_index(), on=group, how="left")
    share = rows["pre_units"] / rows["pre_cf"].where(rows["pre_cf"] > 0)
    share = share.where(rows["clean_days"] >= MIN_CLEAN_DAYS)
    rows["baseline"] = np.where(rows["trading"], share * rows["store_cf"], 0.0)
    rows.loc[share.isna(), "baseline"] = np.nan
    return rows.drop(columns=["pre_units", "pre_cf"])


def pre_period_baseline(daily: pd.DataFrame) -> pd.Series:
    """The naive fallback: mean units of the clean pre-period days, flat over the window."""
    mean = daily.loc[daily["baseline_day"]].groupby(["promo_id", "store_id", "role"])["units"].mean()
    level = daily.join(mean.rename("level"), on=["promo_id", "store_id", "role"])["level"]
    return level.where(daily["trading"], 0.0)
