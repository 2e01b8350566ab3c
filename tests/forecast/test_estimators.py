"""The estimators on synthetic series: hand-checked baseline, closures, no look-ahead."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from synthetic import START, split, store_days

from liftline.forecast import LightGBMForecaster, ProphetForecaster, SeasonalNaive
from liftline.forecast.candidates import make_forecaster
from liftline.forecast.routing import predict_candidates
from liftline.forecast.spec import load_spec


def _series(values: list[float], start: pd.Timestamp = START, **drivers) -> pd.DataFrame:
    dates = pd.date_range(start, periods=len(values), freq="D")
    return pd.DataFrame({"series_key": "S1", "date": dates, "units": values, **drivers})


def test_seasonal_naive_is_the_mean_of_the_last_four_same_weekdays():
    # Five weeks: week k sells 10*k + weekday. The last four weeks are k = 2..5.
    values = [10.0 * k + d for k in range(1, 6) for d in range(7)]
    history = _series(values)
    future = _series([np.nan] * 14, start=START + pd.Timedelta(days=35)).drop(columns="units")
    forecast = SeasonalNaive(weeks=4).fit(history).predict(future)
    expected = [np.mean([10.0 * k + d for k in (2, 3, 4, 5)]) for d in range(7)] * 2
    assert forecast["yhat"].tolist() == pytest.approx(expected)
    assert forecast["horizon"].tolist() == list(range(1, 15))


def test_seasonal_naive_scales_planned_promotions_by_the_observed_uplift():
    # Base 100 every day; days with half the SKUs on promotion sold 150: uplift 1.0 per share.
    days = 84
    share = np.zeros(days)
    share[[40, 47, 54, 61, 68, 75]] = 0.5
    history = _series(list(np.where(share > 0, 150.0, 100.0)), promo_sku_share=share)
    planned = np.array([0.0, 0.5, 0.0, 0.2])
    future = _series([np.nan] * 4, start=START + pd.Timedelta(days=days),
                     promo_sku_share=planned).drop(columns="units")
    model = SeasonalNaive(weeks=4).fit(history)
    assert model.uplift_ == pytest.approx(1.0)
    # Same-weekday history is de-promoted first, so the base stays 100.
    assert model.predict(future)["yhat"].tolist() == pytest.approx([100, 150, 100, 120])


def test_closed_days_are_forecast_as_zero_known_and_learned():
    frame = store_days(stores=2, days=140, closed_sunday=(1,), seed=3)
    # Christmas Day: the store sold nothing on its last occurrence, so the name is closed.
    christmas = frame["date"] == START + pd.Timedelta(days=22)  # a Tuesday
    frame.loc[christmas, ["holiday_name", "is_holiday"]] = ["Christmas Day", True]
    frame.loc[christmas, "units"] = 0.0
    origin = START + pd.Timedelta(days=111)
    history, future = split(frame, origin, 28)
    future = future.copy()
    future.loc[future["date"] == origin + pd.Timedelta(days=3), "is_closed"] = True  # renovation
    future.loc[future["date"] == origin + pd.Timedelta(days=10),
               ["holiday_name", "is_holiday"]] = ["Christmas Day", True]
    for model in (SeasonalNaive(), LightGBMForecaster(n_estimators=30)):
        forecast = model.fit(history).predict(future)
        by_day = forecast.merge(future[["series_key", "date", "is_closed"]])
        sunday = by_day["date"].dt.day_of_week == 6
        assert (by_day.loc[by_day["is_closed"], "yhat"] == 0).all()
        assert (by_day.loc[(by_day["series_key"] == "ST-0002") & sunday, "yhat"] == 0).all()
        assert (by_day.loc[by_day["date"] == origin + pd.Timedelta(days=10), "yhat"] == 0).all()
        assert (by_day.loc[(by_day["series_key"] == "ST-0001") & sunday, "yhat"] > 0).all()
        assert forecast.loc[forecast["closed"], "yhat"].eq(0).all()


@pytest.mark.parametrize("name", ["seasonal_naive", "lightgbm", "prophet"])
def test_no_forecast_reads_actuals_after_the_origin(name):
    frame = store_days(stores=3, days=300, promo_every=17, seed=5)
    origin = START + pd.Timedelta(days=240)
    params = {"lightgbm": {"n_estimators": 40}, "prophet": {}, "seasonal_naive": {}}[name]

    def forecast(units_after_origin) -> pd.DataFrame:
        perturbed = frame.copy()
        later = perturbed["date"] > origin
        perturbed.loc[later, "units"] = units_after_origin(perturbed.loc[later, "units"])
        history, future = split(perturbed, origin)
        # The future frame still carries (perturbed) units: they must be ignored.
        return make_forecaster(name, params).fit(history).predict(future)

    reference = forecast(lambda units: units)
    for change in (lambda u: u * 10, lambda u: u * 0, lambda u: u.sample(frac=1, random_state=1)
                   .to_numpy()):
        pd.testing.assert_frame_equal(forecast(change), reference)


def test_the_backtest_pipeline_is_blind_to_post_origin_actuals():
    spec = load_spec()
    spec.candidates["lightgbm"]["n_estimators"] = 40
    frame = store_days(stores=3, days=300, promo_every=17, seed=9)
    origin = START + pd.Timedelta(days=240)

    def run(scale: float) -> pd.DataFrame:
        perturbed = frame.assign(units=np.where(frame["date"] > origin, frame["units"] * scale,
                                                frame["units"]))
        history, future = split(perturbed, origin)
        out = predict_candidates(spec, ["seasonal_naive", "lightgbm"], history, future,
                                 ["ST-0001", "ST-0002", "ST-0003"], lambda _: None)
        return pd.concat(out.values(), keys=list(out), names=["candidate"])

    pd.testing.assert_frame_equal(run(3.0), run(1.0))


def test_prophet_and_lightgbm_follow_the_weekly_pattern_and_promotions():
    frame = store_days(stores=2, days=300, noise=0.03, promo_every=13, promo_lift=0.8, seed=2)
    origin = START + pd.Timedelta(days=244)
    history, future = split(frame, origin)
    truth = future["expected"].to_numpy()
    for model in (ProphetForecaster(), LightGBMForecaster(n_estimators=200)):
        yhat = model.fit(history).predict(future)["yhat"].to_numpy()
        wape = np.abs(yhat - truth).sum() / truth.sum()
        assert wape < 0.08, f"{model.name}: WAPE vs the expected demand {wape:.3f}"


def test_estimators_refuse_unknown_series_and_non_future_rows():
    frame = store_days(stores=1, days=60)
    history, future = split(frame, START + pd.Timedelta(days=40))
    model = SeasonalNaive().fit(history)
    with pytest.raises(ValueError, match="no history for series"):
        model.predict(future.assign(series_key="other"))
    with pytest.raises(ValueError, match="after each series' last history day"):
        model.predict(history.tail(3))
    with pytest.raises(RuntimeError, match="call fit"):
        SeasonalNaive().predict(future)
    assert SeasonalNaive(weeks=3).set_params(weeks=5).weeks == 5


def test_the_counterfactual_switches_promotions_off_and_reads_nothing_after_the_origin():
    """On promotion days the counterfactual is the promotion-free demand, not the actual."""
    frame = store_days(stores=2, days=300, noise=0.03, promo_every=13, promo_lift=0.8, seed=2)
    model = LightGBMForecaster(n_estimators=200).fit(frame)
    promo_days = frame.loc[(frame["promo_sku_share"] > 0) & (frame["date"] > START
                                                             + pd.Timedelta(days=200))]
    first = promo_days["date"].min()
    windows = pd.DataFrame({"window_id": ["w1", "w2"], "series_key": ["ST-0001", "ST-0002"],
                            "origin": first - pd.Timedelta(days=1), "first": first,
                            "last": first + pd.Timedelta(days=4)})
    found = model.counterfactual(windows).merge(frame, on=["series_key", "date"])
    free = found["expected"] / (1 + 0.8 * found["promo_sku_share"])  # demand without it
    assert (found["promo_sku_share"] > 0).all() and len(found) == 10
    assert np.abs(found["yhat"] - free).sum() / free.sum() < 0.1
    assert (found["yhat"] < 0.85 * found["units"]).all()  # the 40% promotion lift is gone

    # Units after the origin cannot move it: the same trees over a history whose later
    # units are scrambled give the same counterfactual.
    blind = copy.copy(model)
    after = model.history_["date"] > first - pd.Timedelta(days=1)
    blind.history_ = model.history_.assign(units=np.where(after, 1.0, model.history_["units"]))
    again = blind.counterfactual(windows)
    np.testing.assert_allclose(again["yhat"], model.counterfactual(windows)["yhat"])
