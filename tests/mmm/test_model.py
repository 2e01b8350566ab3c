"""The mix model end to end on simulated series: messages, determinism, recovery, outputs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from mmm_helpers import quiet, small_spec

from liftline.mmm import MarketingMixModel, MMMData, MMMInputError
from liftline.mmm.simulate import simulate


def _fit(data, spec, log=quiet):
    return MarketingMixModel(spec, log=log).fit(data).fit_


def test_zero_spend_and_constant_channels_are_left_out_with_a_reason(simulated, spec):
    data, _ = simulated
    spend = data.spend.assign(radio=0.0, print=250.0)
    lines: list[str] = []
    fit = _fit(replace(data, spend=spend), spec, log=lines.append)
    assert set(fit.channels) == set(data.spend.columns)
    said = "\n".join(lines)
    assert "channel radio: no spend in the modelled weeks; left out" in said
    assert "channel print: the same spend every week" in said
    assert all("\n" not in line for line in lines)


def test_no_channel_left_is_a_one_line_input_error(simulated, spec):
    data, _ = simulated
    nothing = replace(data, spend=pd.DataFrame({"tv": 0.0}, index=data.spend.index))
    with pytest.raises(MMMInputError, match="no channel can be modelled") as caught:
        _fit(nothing, spec)
    assert "\n" not in str(caught.value)


def test_too_few_weeks_is_a_one_line_input_error(simulated, spec):
    data, _ = simulated
    short = MMMData(spend=data.spend.iloc[:30], revenue=data.revenue.iloc[:30])
    with pytest.raises(MMMInputError, match="30 week.* at least 65"):
        _fit(short, spec)


def test_the_same_seed_gives_identical_results(simulated, spec):
    data, _ = simulated
    first, second = _fit(data, spec), _fit(data, spec)
    pd.testing.assert_frame_equal(first.channel_results(), second.channel_results())
    pd.testing.assert_frame_equal(first.response_curves(), second.response_curves())
    pd.testing.assert_frame_equal(first.allocation, second.allocation)
    other = _fit(data, small_spec(seed=99))
    assert not np.array_equal(other.roi, first.roi)


def test_media_coefficients_are_non_negative_and_outputs_are_complete(simulated, spec):
    data, _ = simulated
    fit = _fit(data, spec)
    assert (fit.beta >= 0).all() and fit.coef[0] >= 0
    results = fit.channel_results()
    assert list(results.columns[:2]) == ["channel", "channel_type"]
    assert (results["roi_lower"] <= results["roi_upper"]).all()
    assert (results["is_significant"] == (results["roi_lower"] > 0)).all()
    assert set(results["zone"]) <= {"efficient", "diminishing", "saturated"}
    curves = fit.response_curves()
    assert curves.groupby("channel").size().eq(100).all()
    assert (curves["response_lower"] <= curves["response_upper"] + 1e-9).all()
    first_point = curves[curves["point"] == 0]
    assert (first_point["response"] == 0).all()  # no spend, no response
    assert set(fit.allocation["scenario"]) == {"budget_neutral", "target_efficiency"}
    assert fit.metrics["grade"] in ("excellent", "good", "acceptable", "poor")
    decomposition = fit.decomposition()
    assert decomposition["fitted"].to_numpy() == pytest.approx(fit.fitted)


def test_known_roi_is_recovered_on_a_simulated_series():
    data, truth = simulate(weeks=156, channels=3, seed=5, noise=0.01)
    fit = _fit(data, small_spec(search={"budget": 600, "trials": 2}))
    true_roi = truth.set_index("channel").loc[list(fit.channels), "roi"].to_numpy()
    assert fit.roi == pytest.approx(true_roi, rel=0.25)
    inside = (true_roi >= fit.roi_lower) & (true_roi <= fit.roi_upper)
    assert inside.sum() >= 2


def test_lift_tests_calibrate_and_report_their_error(simulated, spec):
    data, truth = simulated
    channel = truth["channel"].iat[0]
    weeks = data.spend.index
    tests = pd.DataFrame({
        "channel": [channel, channel, "unknown_channel"],
        "start_date": [weeks[60], weeks[80], weeks[60]],
        "end_date": [weeks[63] + pd.Timedelta(days=6), weeks[83] + pd.Timedelta(days=6),
                     weeks[63]],
        "incremental_revenue": [5000.0, 4000.0, 100.0],
        "spend": [np.nan, np.nan, np.nan],
        "std_error": [500.0, np.nan, 10.0],
    })
    lines: list[str] = []
    fit = _fit(replace(data, lift_tests=tests), spec, log=lines.append)
    report = fit.lift_report
    assert len(report) == 2 and set(report["channel"]) == {channel}
    assert report["abs_pct_error"].notna().all()
    assert any("unknown_channel" in line and "not modelled" in line for line in lines)
    assert fit.metrics["lift_tests_used"] == 2


def test_predict_reproduces_the_fitted_weeks(simulated, spec):
    data, _ = simulated
    model = MarketingMixModel(spec, log=quiet).fit(data)
    predicted = model.predict(data.spend, data.controls)
    assert predicted.to_numpy() == pytest.approx(model.fit_.fitted, rel=1e-9)


def test_weibull_adstock_and_fixed_hyperparameter_bootstrap_are_options(simulated):
    data, _ = simulated
    spec = small_spec(transforms={"adstock": "weibull"},
                      bootstrap={"hyperparameters": "chosen"})
    fit = _fit(data, spec)
    results = fit.channel_results()
    assert results["adstock_theta"].isna().all()
    assert results["adstock_shape"].notna().all() and results["adstock_scale"].notna().all()
    # Fixed hyperparameters: every draw's curve has the chosen shape, only beta varies.
    draws = fit.curves[0].draws
    assert np.all(draws.alpha == draws.alpha[0]) and np.all(draws.inflexion == draws.inflexion[0])
