"""Store x category x week forecasts, top-down from a store x day forecast.

Each store-day forecast is split over the store's categories by their share of its units in
the `share_weeks` before the origin (de-promoted), moved by how each category's share moved
from those weeks to the target week last year (`seasonal_share`), and by the category's own
planned promotion exposure that day; the shares are renormalised so the categories always
add up to the store. Days are then summed to weeks (Monday start); the first and last week of
the horizon may be partial (`period_days` says how many days they hold). Everything read is
dated on or before the origin, so the backtest is as honest as the store grain's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .frames import KEY
from .naive import SeasonalNaive

YEAR = pd.Timedelta(days=364)
SEP = "|"


def series_key(store_id: pd.Series, category: pd.Series) -> pd.Series:
    return store_id.astype(str) + SEP + category.astype(str)


def promo_uplift(history: pd.DataFrame) -> float:
    """The store-level promotion uplift per unit of exposure (the baseline's estimate)."""
    try:
        return SeasonalNaive().fit(history).uplift_
    except ValueError:
        return 0.0


def category_history_start(origin: pd.Timestamp, share_weeks: int = 8) -> pd.Timestamp:
    """The earliest day the split reads for a forecast from `origin` (last year's weeks before
    it, with a week to spare): older category history need not be read."""
    return pd.Timestamp(origin) - YEAR - pd.Timedelta(days=7 * (share_weeks + 1))


def category_forecast(store_forecast: pd.DataFrame, category_days: pd.DataFrame,
                      category_exposure: pd.DataFrame, origin: pd.Timestamp,
                      share_weeks: int = 8, seasonal_share: bool = True,
                      uplift: float = 0.0) -> pd.DataFrame:
    """Weekly category forecasts (series_key "store|category") from a store-day forecast."""
    fractions = category_fractions(store_forecast, category_days, category_exposure, origin,
                                   share_weeks, seasonal_share, uplift)
    return split_by_category(store_forecast, fractions)


def category_fractions(store_forecast: pd.DataFrame, category_days: pd.DataFrame,
                       category_exposure: pd.DataFrame, origin: pd.Timestamp,
                       share_weeks: int = 8, seasonal_share: bool = True,
                       uplift: float = 0.0) -> pd.DataFrame:
    """Each category's fraction of its store's forecast on each store-day of `store_forecast`
    (`store_id, category, date, week_start, fraction`).

    It depends on the days forecast, not on the forecast: computed once per origin, it splits
    every candidate's forecast (`split_by_category`).
    """
    columns = ["store_id", "category", "date", "week_start", "fraction"]
    if store_forecast.empty or category_days.empty:
        return pd.DataFrame(columns=columns)
    days = store_forecast.rename(columns={KEY: "store_id"})[["store_id", "date"]]
    days = days.drop_duplicates()
    shares = _base_shares(category_days, category_exposure, origin, share_weeks, uplift)
    daily = days.merge(shares, on="store_id", how="inner")
    daily["week_start"] = _week_start(daily["date"])
    if seasonal_share:
        daily = daily.merge(_seasonal_moves(category_days, origin, share_weeks,
                                            daily["week_start"].unique()),
                            on=["store_id", "category", "week_start"], how="left")
        daily["move"] = daily["move"].fillna(1.0).clip(0.5, 2.0)
    else:
        daily["move"] = 1.0
    daily = _with_promotions(daily, category_exposure, uplift)
    weight = daily["share"] * daily["move"] * daily["promo"]
    total = weight.groupby([daily["store_id"], daily["date"]]).transform("sum")
    daily["fraction"] = (weight / total.where(total > 0)).fillna(0.0)
    return daily[columns]


def split_by_category(store_forecast: pd.DataFrame, fractions: pd.DataFrame) -> pd.DataFrame:
    """A store-day forecast split by `category_fractions` and summed to Monday weeks."""
    columns = [KEY, "store_id", "category", "date", "period_days", "closed_days", "horizon",
               "yhat"]
    if store_forecast.empty or fractions.empty:
        return pd.DataFrame(columns=columns)
    days = store_forecast.rename(columns={KEY: "store_id"})
    daily = days.merge(fractions, on=["store_id", "date"], how="inner")
    daily["yhat"] = daily["yhat"] * daily["fraction"]
    weekly = daily.groupby(["store_id", "category", "week_start"], as_index=False).agg(
        yhat=("yhat", "sum"), period_days=("date", "size"),
        closed_days=("closed", "sum"), horizon=("horizon", "max"))
    weekly = weekly.rename(columns={"week_start": "date"})
    weekly[KEY] = series_key(weekly["store_id"], weekly["category"])
    return weekly[columns]


def category_actuals(category_days: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp
                     ) -> pd.DataFrame:
    """Units per store x category x week over days (first, last]."""
    window = category_days.loc[(category_days["date"] > first) & (category_days["date"] <= last)]
    window = window.assign(week_start=_week_start(window["date"]))
    out = window.groupby(["store_id", "category", "week_start"], as_index=False)["units"].sum()
    out = out.rename(columns={"week_start": "date", "units": "y"})
    out[KEY] = series_key(out["store_id"], out["category"])
    return out[[KEY, "date", "y"]]


def _week_start(dates: pd.Series) -> pd.Series:
    dates = pd.to_datetime(dates)
    return (dates - pd.to_timedelta(dates.dt.day_of_week, unit="D")).dt.normalize()


def _base_shares(category_days: pd.DataFrame, category_exposure: pd.DataFrame,
                 origin: pd.Timestamp, weeks: int, uplift: float) -> pd.DataFrame:
    first = origin - pd.Timedelta(days=7 * weeks)
    recent = category_days.loc[(category_days["date"] > first)
                               & (category_days["date"] <= origin)]
    if not category_exposure.empty and uplift > 0:
        recent = recent.merge(category_exposure[["store_id", "category", "date", "promo_share"]],
                              on=["store_id", "category", "date"], how="left")
        factor = 1.0 + uplift * recent["promo_share"].fillna(0.0)
        recent = recent.assign(units=recent["units"] / factor)
    by_category = recent.groupby(["store_id", "category"], as_index=False)["units"].sum()
    total = by_category.groupby("store_id")["units"].transform("sum")
    by_category["share"] = (by_category["units"] / total.where(total > 0)).fillna(0.0)
    return by_category[["store_id", "category", "share"]]


def _seasonal_moves(category_days: pd.DataFrame, origin: pd.Timestamp, weeks: int,
                    week_starts: np.ndarray) -> pd.DataFrame:
    """Per target week: the category's share in that week last year over its share in the
    `weeks` before the origin last year."""
    base = _shares_between(category_days, origin - YEAR - pd.Timedelta(days=7 * weeks),
                           origin - YEAR).rename(columns={"share": "base"})
    parts = []
    for week in pd.to_datetime(week_starts):
        last_year = week - YEAR
        shares = _shares_between(category_days, last_year - pd.Timedelta(days=1),
                                 last_year + pd.Timedelta(days=6))
        parts.append(shares.assign(week_start=week))
    if not parts or base.empty:
        return pd.DataFrame(columns=["store_id", "category", "week_start", "move"])
    moved = pd.concat(parts, ignore_index=True).merge(base, on=["store_id", "category"])
    moved["move"] = moved["share"] / moved["base"].where(moved["base"] > 0)
    return moved[["store_id", "category", "week_start", "move"]]


def _shares_between(category_days: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp
                    ) -> pd.DataFrame:
    rows = category_days.loc[(category_days["date"] > first) & (category_days["date"] <= last)]
    by_category = rows.groupby(["store_id", "category"], as_index=False)["units"].sum()
    total = by_category.groupby("store_id")["units"].transform("sum")
    by_category["share"] = by_category["units"] / total.where(total > 0)
    return by_category[["store_id", "category", "share"]]


def _with_promotions(daily: pd.DataFrame, category_exposure: pd.DataFrame,
                     uplift: float) -> pd.DataFrame:
    if category_exposure.empty or uplift <= 0:
        return daily.assign(promo=1.0)
    daily = daily.merge(category_exposure[["store_id", "category", "date", "promo_share"]],
                        on=["store_id", "category", "date"], how="left")
    return daily.assign(promo=1.0 + uplift * daily["promo_share"].fillna(0.0))
