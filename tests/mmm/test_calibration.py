"""Lift tests as a likelihood: they correct a confounded channel, carry their uncertainty into
the interval, and a test the fit cannot meet is a `calibration_conflict`."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from mmm_helpers import quiet, small_spec

from liftline.alerts import latest_alert_state
from liftline.mmm import MarketingMixModel
from liftline.mmm.design import build_design
from liftline.mmm.evaluate import Evaluator, place_lift_tests
from liftline.mmm.outputs import (
    CALIBRATION_CONFLICT,
    baseline_name,
    model_name,
    promotion,
    write_mmm_fit,
)
from liftline.mmm.simulate import lift_tests, simulate

STARTS = [30, 60, 85]  # test windows: 4 weeks each, spread over the 104


def _fit(data, spec=None):
    return MarketingMixModel(spec or small_spec(), log=quiet).fit(data).fit_


@pytest.fixture(scope="module")
def confounded():
    """104 weeks, 3 channels; the first one's spend follows demand the data does not show."""
    data, truth = simulate(weeks=104, channels=3, seed=5, noise=0.01, confounding=0.05)
    return data, truth, truth["channel"].iat[0]


@pytest.fixture(scope="module")
def uncalibrated(confounded):
    return _fit(confounded[0])


@pytest.fixture(scope="module")
def calibrated(confounded):
    data, truth, channel = confounded
    return _fit(replace(data, lift_tests=lift_tests(data, truth, channel, STARTS, 0.1, seed=1)))


def _roi(fit, channel):
    i = fit.channels.index(channel)
    return fit.roi[i], fit.roi_lower[i], fit.roi_upper[i]


def test_lift_tests_pull_a_confounded_channel_to_the_truth(confounded, uncalibrated,
                                                           calibrated):
    _, truth, channel = confounded
    true_roi = truth.set_index("channel").loc[channel, "roi"]
    roi, lower, upper = _roi(uncalibrated, channel)
    assert roi > 1.5 * true_roi and lower > true_roi  # the data alone is fooled, confidently
    roi, lower, upper = _roi(calibrated, channel)
    assert roi == pytest.approx(true_roi, rel=0.15)
    assert lower <= true_roi <= upper
    report = calibrated.lift_report
    assert len(report) == len(STARTS) and report["reconciled"].all()
    assert (report["z_score"].abs() <= 2).all()
    assert calibrated.metrics["calibration_conflicts"] == 0


def test_the_interval_carries_the_tests_standard_error(confounded, calibrated):
    data, truth, channel = confounded
    precise = _fit(replace(data, lift_tests=lift_tests(data, truth, channel, STARTS, 0.02,
                                                       seed=1)))
    width = lambda fit: np.subtract(*_roi(fit, channel)[2:0:-1])  # noqa: E731
    assert width(precise) < 0.7 * width(calibrated)


def test_tests_that_contradict_each_other_are_a_conflict(confounded):
    data, truth, channel = confounded
    tests = pd.concat([lift_tests(data, truth, channel, [30], 0.05, seed=1),
                       lift_tests(data, truth, channel, [60], 0.05, seed=2, bias=3.0)],
                      ignore_index=True)
    fit = _fit(replace(data, lift_tests=tests))
    assert fit.metrics["calibration_conflicts"] >= 1
    assert not fit.lift_report["reconciled"].all()


def test_a_test_the_data_cannot_meet_raises_calibration_conflict(warehouse, confounded,
                                                                 calibrated):
    data, truth, channel = confounded
    tests = lift_tests(data, truth, channel, [60], 0.05, seed=1, bias=-1.0)  # a loss
    fit = _fit(replace(data, lift_tests=tests))
    assert fit.metrics["calibration_conflicts"] == 1
    write_mmm_fit(warehouse, "run-1", fit, log=quiet)
    name = model_name(fit.spec, fit.country, fit.segment)
    assert latest_alert_state(warehouse, CALIBRATION_CONFLICT, name) == "conflict"
    # A later fit of the same model that meets its tests closes the alert.
    write_mmm_fit(warehouse, "run-2", calibrated, log=quiet)
    assert latest_alert_state(warehouse, CALIBRATION_CONFLICT, name) == "ok"


def test_the_roi_a_channels_tests_imply_and_the_searchs_distance_from_it(confounded):
    """Without carry-over a channel's tests imply their own incremental per dollar; with it,
    more. The search term is the tested channel's distance from that, less the tolerance."""
    data, truth, channel = confounded
    tests = lift_tests(data, truth, channel, STARTS, 0.1, seed=1)
    spec = small_spec()
    design = build_design(data, spec, quiet)
    evaluator = Evaluator(design, spec, place_lift_tests(tests, design, spec, []))
    hyper = evaluator.space.decode(np.full((2, evaluator.space.dimension), 0.5))
    c = design.channels.index(channel)
    hyper["theta"][:, c] = [0.0, 0.5]
    state = evaluator.fit(hyper)
    tested, implied, relative_se = evaluator.implied_roi(state)
    assert list(tested) == [c]
    revenue = tests["incremental_revenue"]
    relative = tests["std_error"] / revenue
    assert implied[0, 0] == pytest.approx(  # equal precision: revenue over spend
        revenue.sum() / tests["spend"].sum(), rel=1e-9)
    assert relative_se[0, 0] == pytest.approx(
        np.hypot.reduce(revenue / relative**2 * relative) / (revenue / relative**2).sum(),
        rel=1e-9)
    assert implied[1, 0] > 1.2 * implied[0, 0]  # half of each week's effect comes later
    roi = np.ones((2, design.n_channels))
    roi[:, c] = [implied[0, 0], 2.0 * implied[1, 0]]
    assert evaluator.tested_roi_gap(state, roi) == pytest.approx([0.0, 1.0])
    tolerant = Evaluator(design, replace(spec, lift_roi_tolerance=0.15), evaluator.lift)
    assert tolerant.tested_roi_gap(state, roi) == pytest.approx([0.0, 0.85])
    # Tests four times vaguer than the default precision hold the channel a sixteenth as much.
    vague = tests.assign(std_error=4 * spec.lift_default_relative_se * np.sqrt(len(tests))
                         * tests["incremental_revenue"])
    loose = Evaluator(design, spec, place_lift_tests(vague, design, spec, []))
    vague_state = loose.fit(hyper)
    _, vague_implied, vague_se = loose.implied_roi(vague_state)
    assert vague_se[0, 0] == pytest.approx(4 * spec.lift_default_relative_se, rel=0.1)
    vague_roi = roi.copy()
    vague_roi[:, c] = 2.0 * vague_implied[:, 0]
    assert loose.tested_roi_gap(vague_state, vague_roi) == pytest.approx(
        (spec.lift_default_relative_se / vague_se[:, 0]) ** 2)
    # One vague test beside precise ones barely moves what they imply, however large it is.
    outlier = pd.concat([tests, vague.iloc[[0]].assign(
        incremental_revenue=10 * tests["incremental_revenue"].iat[0],
        std_error=10 * vague["std_error"].iat[0])], ignore_index=True)
    dragged = Evaluator(design, spec, place_lift_tests(outlier, design, spec, []))
    moved = dragged.implied_roi(dragged.fit(hyper))[1][0, 0] / implied[0, 0]
    assert 1.0 < moved < 1.05


def test_a_post_period_measures_the_carry_over_the_decay_would_otherwise_decide(confounded):
    """A test that keeps counting after its window measures the carry-over itself: the ROI
    its channel's tests imply hardly depends on the candidate's decay, where a window-only
    test's implied ROI rises with it; the model's incremental is summed over the counted weeks."""
    data, truth, channel = confounded
    spec = small_spec()
    design = build_design(data, spec, quiet)
    window_only = lift_tests(data, truth, channel, STARTS, 0.1, seed=1)
    counted = lift_tests(data, truth, channel, STARTS, 0.1, seed=1, post_weeks=12)
    assert (counted["incremental_revenue"] > window_only["incremental_revenue"]).all()
    c = design.channels.index(channel)
    implied, incremental = {}, {}
    for name, tests in (("window", window_only), ("post", counted)):
        lift = place_lift_tests(tests, design, spec, [])
        assert (lift.window.sum(axis=0) == 4).all()
        assert (lift.counted.sum(axis=0) == (16 if name == "post" else 4)).all()
        evaluator = Evaluator(design, spec, lift)
        hyper = evaluator.space.decode(np.full((2, evaluator.space.dimension), 0.5))
        hyper["theta"][:, c] = [0.0, 0.5]
        state = evaluator.fit(hyper)
        implied[name] = evaluator.implied_roi(state)[1][:, 0]
        incremental[name] = state.unit_lift
    assert implied["window"][1] > 1.2 * implied["window"][0]
    assert implied["post"][1] == pytest.approx(implied["post"][0], rel=0.02)
    # With no decay nothing lingers: the counted weeks add nothing to the window's loss.
    assert incremental["post"][0] == pytest.approx(incremental["window"][0], rel=1e-9)
    assert (incremental["post"][1] > 1.1 * incremental["window"][1]).all()


def test_lift_tests_that_show_media_works_refute_the_no_media_baseline(confounded, calibrated,
                                                                      uncalibrated):
    """The no-media regression is the bar a fit must beat, unless the fit's own lift tests put
    media's incremental revenue 2 standard errors above 0: then a fit within the spec's
    tolerance of the baseline's CV error passes (media adds variance even where it is real)."""
    m = calibrated.metrics
    tests = calibrated.lift_report
    assert m["lift_evidence_z"] == pytest.approx(
        tests["measured"].sum() / np.sqrt((tests["std_error"] ** 2).sum()), rel=1e-6)
    assert m["lift_evidence_z"] > 2 and m["baseline_refuted_by_lift_tests"]
    tolerance = calibrated.spec.baseline_tolerance_tested
    assert m["baseline_bar_cv_mape"] == pytest.approx(m["baseline_cv_mape"] * (1 + tolerance))
    assert not uncalibrated.metrics["baseline_refuted_by_lift_tests"]
    assert uncalibrated.metrics["baseline_bar_cv_mape"] == uncalibrated.metrics[
        "baseline_cv_mape"]

    def judged(fit, cv_mape):
        bar = fit.metrics["baseline_bar_cv_mape"]
        return promotion(replace(fit, metrics={**fit.metrics, "cv_mape": cv_mape,
                                               "passes_baseline": cv_mape <= bar}))

    trailing = m["baseline_cv_mape"] * (1 + tolerance / 2)  # worse than the baseline, within
    assert judged(calibrated, trailing)[0]
    assert baseline_name(calibrated).startswith("no_media +10% (refuted by 3 lift tests, z ")
    passes, reason = judged(calibrated, m["baseline_cv_mape"] * (1 + 2 * tolerance))
    assert not passes and "though its lift tests refute that baseline" in reason
    passes, reason = judged(uncalibrated, uncalibrated.metrics["baseline_cv_mape"] * 1.05)
    assert not passes and "does not beat the baseline without media" in reason


def test_a_vague_tests_miss_steers_the_search_in_proportion_to_its_precision(confounded):
    """The search's lift term counts a test's miss fully at the default precision or better,
    and (default / its relative se)^2 of it otherwise: four times vaguer, a sixteenth."""
    data, truth, channel = confounded
    tests = lift_tests(data, truth, channel, STARTS, 0.1, seed=1)
    # Tests only in the search's lift term: no likelihood, no ROI term, so both fits agree.
    spec = replace(small_spec(), lift_calibration_weight=0.0, weight_lift_roi=0.0)
    design = build_design(data, spec, quiet)
    vague = tests.assign(std_error=4 * spec.lift_default_relative_se
                         * tests["incremental_revenue"].abs())
    scores = {}
    for name, frame in (("precise", tests), ("vague", vague)):
        evaluator = Evaluator(design, spec, place_lift_tests(frame, design, spec, []))
        hyper = evaluator.space.decode(np.full((1, evaluator.space.dimension), 0.5))
        scores[name] = evaluator.score(hyper)
        expected = 1.0 if name == "precise" else 1 / 16
        assert evaluator.lift_precision == pytest.approx(np.full(len(tests), expected))
    precise, loose = scores["precise"], scores["vague"]
    assert loose.lift_mape == pytest.approx(precise.lift_mape) and precise.lift_mape[0] > 0.01
    term = spec.weight_lift * precise.lift_mape[0]
    assert precise.objective[0] - precise.nrmse[0] == pytest.approx(term, rel=1e-9)
    assert loose.objective[0] - loose.nrmse[0] == pytest.approx(term / 16, rel=1e-9)
