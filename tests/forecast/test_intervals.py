"""Conformal intervals cover what they claim on series with known noise; newsvendor quantities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic import START, split, store_days

from liftline.forecast import ResidualQuantiles, SeasonalNaive
from liftline.forecast.newsvendor import critical_ratio, plan

BUCKETS = [7, 14, 28, 56]


def test_calibrated_intervals_cover_the_level_on_fresh_noise():
    rng = np.random.default_rng(11)
    mean = rng.uniform(50, 500, 4000)
    horizon = rng.integers(1, 57, 4000)
    observed = mean * (1 + rng.normal(0, 0.1, 4000))
    calibration = ResidualQuantiles.fit(observed, mean, horizon, BUCKETS, level=0.9)
    fresh = mean * (1 + rng.normal(0, 0.1, 4000))
    lower, upper = calibration.interval(mean, horizon)
    assert np.all(lower <= mean) and np.all(mean <= upper) and np.all(lower >= 0)
    covered = np.mean((fresh >= lower) & (fresh <= upper))
    assert covered == pytest.approx(0.9, abs=0.02)
    # +-1.645 sigma of N(0, 0.1): the interval is about +-16.4% wide.
    assert np.median((upper - lower) / mean) == pytest.approx(0.329, abs=0.03)


def test_a_backtested_baseline_covers_ninety_percent_of_later_weeks():
    frame = store_days(stores=6, days=560, noise=0.12, seed=4)
    origins = [START + pd.Timedelta(days=d) for d in range(120, 540 - 56, 28)]
    rows = []
    for origin in origins:
        history, future = split(frame, origin)
        forecast = SeasonalNaive().fit(history).predict(future)
        rows.append(forecast.merge(future[["series_key", "date", "units"]]).assign(
            origin=origin))
    rows = pd.concat(rows, ignore_index=True)
    fit_on = rows["origin"] < origins[-3]  # calibrate on the early origins only
    calibration = ResidualQuantiles.fit(rows.loc[fit_on, "units"], rows.loc[fit_on, "yhat"],
                                        rows.loc[fit_on, "horizon"], BUCKETS)
    held = rows.loc[~fit_on]
    lower, upper = calibration.interval(held["yhat"], held["horizon"])
    assert np.all(lower <= held["yhat"]) and np.all(held["yhat"] <= upper)
    covered = np.mean((held["units"] >= lower) & (held["units"] <= upper))
    assert abs(covered - 0.9) <= 0.05, covered


def test_estimator_intervals_come_from_its_calibration_and_are_ordered():
    frame = store_days(stores=2, days=200, seed=8)
    history, future = split(frame, START + pd.Timedelta(days=143))
    calibration = ResidualQuantiles.fit(np.full(200, 110.0), np.full(200, 100.0),
                                        np.arange(200) % 56 + 1, BUCKETS)
    uncalibrated = SeasonalNaive().fit(history).predict(future)
    assert uncalibrated["yhat_lower"].isna().all()  # no invented intervals
    forecast = SeasonalNaive(calibration=calibration).fit(history).predict(future)
    assert (forecast["yhat_lower"] <= forecast["yhat"]).all()
    assert (forecast["yhat"] <= forecast["yhat_upper"]).all()
    assert forecast["yhat_upper"].to_numpy() == pytest.approx(forecast["yhat"] * 1.1)


def test_newsvendor_plans_at_the_cost_optimal_quantile():
    rng = np.random.default_rng(3)
    mean = np.full(3000, 100.0)
    horizon = np.full(3000, 10)
    calibration = ResidualQuantiles.fit(mean * (1 + rng.normal(0, 0.2, 3000)), mean, horizon,
                                        BUCKETS)
    # Margin 3, unit cost 1: under-stocking is 3x as costly, plan at the 75% quantile.
    assert critical_ratio([3.0], [1.0], 0.5)[0] == pytest.approx(0.75)
    forecast = pd.DataFrame({"series_key": ["A", "B"], "yhat": [100.0, 100.0],
                             "horizon": [10, 10]})
    costs = pd.DataFrame({"series_key": ["A", "B"], "underage": [3.0, np.nan],
                          "overage": [1.0, np.nan]})
    planned = plan(forecast, calibration, costs, default_ratio=0.5)
    a, b = planned.iloc[0], planned.iloc[1]
    assert a["plan_qty"] == pytest.approx(100 * (1 + 0.2 * 0.674), rel=0.03)
    assert b["plan_qty"] == pytest.approx(100.0, abs=1.5)  # no prices: the median
    assert np.isnan(b["expected_underage_cost"])
    expected_total = a["expected_underage_cost"] + a["expected_overage_cost"]
    for other in (90.0, 100.0, 125.0):
        short, excess = calibration.expected_costs([100.0], [10], [other], 3.0, 1.0)
        assert expected_total <= short[0] + excess[0] + 1e-9


def _origins_of_noise(rng, origins: int, noise: np.ndarray, shock: float) -> pd.DataFrame:
    """Backtest-like rows: per origin, every series' 56 days around a known mean, Gaussian
    noise of the series' own size plus a shock shared by the whole origin."""
    shape = (origins, len(noise), 56)
    mean = rng.uniform(100, 300, shape)
    common = rng.normal(0, shock, (origins, 1, 1)) if shock else np.zeros((origins, 1, 1))
    y = mean * (1 + common + rng.normal(0, 1, shape) * noise[None, :, None])
    index = np.indices(shape)
    return pd.DataFrame({"series_key": np.char.add("S", index[1].ravel().astype(str)),
                         "origin": index[0].ravel(), "horizon": index[2].ravel() + 1,
                         "yhat": mean.ravel(), "y": y.ravel()})


def _coverage(calibration, rows) -> float:
    lower, upper = calibration.interval(rows["yhat"], rows["horizon"], rows["series_key"])
    return float(np.mean((rows["y"] >= lower) & (rows["y"] <= upper)))


def _fit(rows) -> ResidualQuantiles:
    return ResidualQuantiles.fit(rows["y"], rows["yhat"], rows["horizon"], BUCKETS, 0.9,
                                 series=rows["series_key"], origin=rows["origin"])


def test_each_series_gets_an_interval_as_wide_as_its_own_noise():
    rng = np.random.default_rng(5)
    noise = np.array([0.04] * 10 + [0.16] * 10)  # steady and noisy stores
    calibration = _fit(_origins_of_noise(rng, 3, noise, shock=0.0))
    fresh = _origins_of_noise(rng, 3, noise, shock=0.0)
    steady = fresh["series_key"].isin([f"S{k}" for k in range(10)])
    for part in (fresh.loc[steady], fresh.loc[~steady]):
        assert 0.85 <= _coverage(calibration, part) <= 0.95
    # Pooled quantiles would give both the same width; these follow the noise (4x).
    lower, upper = calibration.interval(fresh["yhat"], fresh["horizon"], fresh["series_key"])
    width = pd.Series((upper - lower) / fresh["yhat"]).groupby(steady.to_numpy()).mean()
    assert 2.5 < width[False] / width[True] < 4.5
    assert calibration.scale(["never-seen"])[0] == 1.0  # a new series: the pooled scale


def test_intervals_hold_on_a_fresh_origin_when_origins_share_shocks():
    """Three calibration origins, each with a shock common to all series (5% sd): pooled
    within-origin quantiles alone miss fresh origins; the between-origin term restores it."""
    covered = []
    within = []
    for seed in range(12):
        rng = np.random.default_rng(100 + seed)
        noise = np.full(20, 0.08)
        rows = _origins_of_noise(rng, 3, noise, shock=0.05)
        fresh = _origins_of_noise(rng, 20, noise, shock=0.05)
        covered.append(_coverage(_fit(rows), fresh))
        within.append(_coverage(_fit(rows.assign(origin=0)), fresh))  # origins ignored
    assert 0.85 <= np.mean(covered) <= 0.95, covered
    assert np.mean(within) < np.mean(covered) - 0.02, (within, covered)
