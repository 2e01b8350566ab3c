"""The budget optimizer keeps the budget, respects bounds and equalises marginal ROI."""

from __future__ import annotations

import numpy as np
import pytest

from liftline.mmm import ResponseCurve, allocate_budget, target_efficiency
from liftline.mmm.transforms import GeometricAdstock


def _curves() -> list[ResponseCurve]:
    rng = np.random.default_rng(3)
    curves = []
    specs = [("search", 0.2, 1.0, 400.0, 3000.0), ("social", 0.3, 1.3, 600.0, 2500.0),
             ("display", 0.5, 0.8, 300.0, 900.0), ("tv", 0.9, 2.0, 4000.0, 4000.0)]
    for name, theta, alpha, inflexion, beta in specs:
        spend = rng.uniform(200, 600, 52)
        adstocked = GeometricAdstock().apply(spend, theta=theta)
        curves.append(ResponseCurve(name, float(spend.sum()), adstocked, alpha, inflexion, beta))
    return curves


def test_budget_neutral_keeps_the_budget_and_the_bounds():
    curves = _curves()
    plan = allocate_budget(curves, bounds=(-0.3, 0.3))
    assert plan["recommended_spend"].sum() == pytest.approx(plan["current_spend"].sum(), rel=1e-9)
    ratio = plan["recommended_spend"] / plan["current_spend"]
    assert (ratio >= 0.7 - 1e-9).all() and (ratio <= 1.3 + 1e-9).all()
    assert plan["recommended_response"].sum() >= plan["current_response"].sum()


def test_unconstrained_channels_end_with_equal_marginal_roi():
    curves = _curves()
    plan = allocate_budget(curves, bounds=(-0.9, 3.0))
    ratio = plan["recommended_spend"] / plan["current_spend"]
    free = (ratio > 0.1 + 1e-6) & (ratio < 4.0 - 1e-6)
    assert free.sum() >= 2
    marginal = plan.loc[free, "recommended_mroi"].to_numpy()
    assert marginal == pytest.approx(np.full(len(marginal), marginal.mean()), rel=1e-4)
    # Channels at a bound are there because moving them would not pay: at the lower bound
    # their marginal ROI is below the common one, at the upper bound above it.
    common = marginal.mean()
    assert (plan.loc[ratio <= 0.1 + 1e-6, "recommended_mroi"] <= common * (1 + 1e-4)).all()
    assert (plan.loc[ratio >= 4.0 - 1e-6, "recommended_mroi"] >= common * (1 - 1e-4)).all()


def test_target_efficiency_spends_until_marginal_roi_meets_the_target():
    curves = _curves()
    target = 1.2
    plan = target_efficiency(curves, target, bounds=(-1.0, 1.0))
    ratio = plan["recommended_spend"] / plan["current_spend"]
    inside = (ratio > 1e-3) & (ratio < 2.0 - 1e-6)
    assert inside.any()
    assert plan.loc[inside, "recommended_mroi"].to_numpy() == pytest.approx(target, rel=1e-3)
    assert (plan.loc[ratio >= 2.0 - 1e-6, "recommended_mroi"] >= target * (1 - 1e-3)).all()
    # A lower target buys more.
    cheaper = target_efficiency(curves, 0.6, bounds=(-1.0, 1.0))
    assert cheaper["recommended_spend"].sum() > plan["recommended_spend"].sum()
