"""The vectorised builders give exactly what the straightforward pandas versions gave.

Each reference below is the earlier implementation, kept here as the definition of the result.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from liftline.forecast.frames import HOLIDAY_AFTER, days_after_holidays


def _days_after_holidays_reference(named, dates):
    dates = pd.DatetimeIndex(dates)
    by_name: dict[str, list[pd.Timestamp]] = {}
    for day, names in named.items():
        for name in names:
            by_name.setdefault(name, []).append(day)
    out = {}
    for name, days in by_name.items():
        since = np.full(len(dates), -1)
        for offset in range(HOLIDAY_AFTER, -1, -1):
            since[(dates - pd.Timedelta(days=offset)).isin(days)] = offset
        out[name] = since
    return out


def test_days_after_holidays_equals_the_pandas_reference():
    rng = np.random.default_rng(3)
    dates = pd.date_range("2023-01-01", periods=400, freq="D")
    named = {pd.Timestamp(day): list(rng.choice(["Easter", "Black Friday", "Fair"],
                                                rng.integers(1, 3), replace=False))
             for day in rng.choice(dates, 40, replace=False)}
    named[dates[0] - pd.Timedelta(days=2)] = ["Eve"]  # before the first date: offset 2 on it
    for subset in (dates, dates[50:120], pd.Series(dates[::3])):
        expected = _days_after_holidays_reference(named, subset)
        found = days_after_holidays(named, subset)
        assert found.keys() == expected.keys()
        for name in expected:
            np.testing.assert_array_equal(found[name], expected[name])
    assert (days_after_holidays(named, dates)["Eve"][:3] == [2, 3, -1]).all()


def _category_forecast_reference(store_forecast, category_days, category_exposure, origin,
                                 share_weeks, uplift):
    from liftline.forecast.category import (
        _base_shares,
        _seasonal_moves,
        _week_start,
        _with_promotions,
        series_key,
    )

    days = store_forecast.rename(columns={"series_key": "store_id"})
    shares = _base_shares(category_days, category_exposure, origin, share_weeks, uplift)
    daily = days.merge(shares, on="store_id", how="inner")
    daily["week_start"] = _week_start(daily["date"])
    daily = daily.merge(_seasonal_moves(category_days, origin, share_weeks,
                                        daily["week_start"].unique()),
                        on=["store_id", "category", "week_start"], how="left")
    daily["move"] = daily["move"].fillna(1.0).clip(0.5, 2.0)
    daily = _with_promotions(daily, category_exposure, uplift)
    weight = daily["share"] * daily["move"] * daily["promo"]
    total = weight.groupby([daily["store_id"], daily["date"]]).transform("sum")
    daily["yhat"] = daily["yhat"] * (weight / total.where(total > 0)).fillna(0.0)
    weekly = daily.groupby(["store_id", "category", "week_start"], as_index=False).agg(
        yhat=("yhat", "sum"), period_days=("date", "size"),
        closed_days=("closed", "sum"), horizon=("horizon", "max"))
    weekly = weekly.rename(columns={"week_start": "date"})
    weekly["series_key"] = series_key(weekly["store_id"], weekly["category"])
    return weekly[["series_key", "store_id", "category", "date", "period_days", "closed_days",
                   "horizon", "yhat"]]


def test_one_category_split_per_origin_serves_every_candidate_as_before():
    from liftline.forecast.category import category_forecast, category_fractions, split_by_category

    rng = np.random.default_rng(5)
    dates = pd.date_range("2023-01-02", periods=500, freq="D")
    grid = pd.MultiIndex.from_product([["A", "B"], ["food", "toys", "home"], dates],
                                      names=["store_id", "category", "date"]).to_frame(
                                          index=False)
    grid["units"] = rng.gamma(5.0, 10.0, len(grid)).round()
    exposure = grid[["store_id", "category", "date"]].assign(
        promo_share=np.where(rng.random(len(grid)) < 0.1, 0.5, 0.0))
    origin = dates[430]
    horizon = pd.date_range(origin + pd.Timedelta(days=1), periods=56, freq="D")
    forecasts = []
    for seed in (1, 2):
        noise = np.random.default_rng(seed)
        forecast = pd.MultiIndex.from_product([["A", "B"], horizon],
                                              names=["series_key", "date"]).to_frame(index=False)
        forecast["horizon"] = np.tile(np.arange(1, 57), 2)
        forecast["closed"] = forecast["date"].dt.day_of_week == 6
        forecast["yhat"] = np.where(forecast["closed"], 0.0, noise.gamma(20.0, 10.0, 112))
        forecasts.append(forecast)
    known = grid.loc[grid["date"] <= origin]
    shared = category_fractions(pd.concat(forecasts), known, exposure, origin, 8, True, 0.4)
    for forecast in forecasts:
        expected = _category_forecast_reference(forecast, known, exposure, origin, 8, 0.4)
        pd.testing.assert_frame_equal(split_by_category(forecast, shared), expected)
        pd.testing.assert_frame_equal(category_forecast(forecast, known, exposure, origin, 8,
                                                        True, 0.4), expected)
        store_total = forecast.groupby("series_key")["yhat"].sum()
        np.testing.assert_allclose(expected.groupby("store_id")["yhat"].sum(), store_total)


def test_residual_quantiles_per_row_equal_the_row_by_row_reading():
    from liftline.forecast.conformal import GRID, ResidualQuantiles

    rng = np.random.default_rng(11)
    rows = 3 * 4 * 56
    series = np.repeat([f"ST-{i}" for i in range(12)], 56)
    horizon = np.tile(np.arange(1, 57), 12)
    yhat = rng.gamma(20.0, 10.0, rows)
    y = yhat * (1 + rng.normal(0, 0.1, rows)) * np.repeat(rng.uniform(0.8, 1.2, 12), 56)
    origin = np.repeat(np.arange(3), rows // 3)
    fitted = ResidualQuantiles.fit(pd.Series(y), pd.Series(yhat), pd.Series(horizon),
                                   [7, 14, 28, 56], 0.9, series=pd.Series(series),
                                   origin=pd.Series(origin))
    new_series = np.where(np.arange(rows) % 5 == 0, "unseen", series)  # scale 1
    for p in (0.05, 0.5, 0.95):
        reference = ResidualQuantiles.from_dict(fitted.to_dict())
        expected = np.array([float(np.interp(p, GRID, grid))
                             for grid in reference._rows(horizon, new_series)])
        found = ResidualQuantiles.from_dict(fitted.to_dict()).quantile(horizon, p, new_series)
        np.testing.assert_array_equal(found, expected)
    assert len(fitted.quantile(np.array([], dtype="int64"), 0.5, np.array([]))) == 0
