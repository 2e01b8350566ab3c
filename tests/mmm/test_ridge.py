"""The ridge keeps media coefficients and the intercept non-negative as a hard constraint."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import lsq_linear

from liftline.mmm import ConstrainedRidge, solve_nonneg
from liftline.mmm.ridge import kkt_violation, normal_equations


def _problem(seed: int):
    rng = np.random.default_rng(seed)
    n = 80
    media = rng.random((n, 3))
    control = rng.normal(size=(n, 1))
    # The second medium truly lowers revenue: unconstrained OLS makes its coefficient negative.
    y = 5.0 + media @ np.array([2.0, -1.5, 0.5]) - 0.8 * control[:, 0] + 0.05 * rng.normal(
        size=n)
    X = np.column_stack([np.ones(n), media, control])
    return X, y


def test_media_coefficients_stay_non_negative_while_controls_take_either_sign():
    X, y = _problem(0)
    ols = np.linalg.lstsq(X, y, rcond=None)[0]
    assert ols[2] < 0  # the unconstrained fit wants a negative media effect
    constrained = np.array([True, True, True, True, False])
    penalised = np.array([False, True, True, True, True])
    model = ConstrainedRidge(lam=1e-4, constrained=constrained, penalised=penalised).fit(X, y)
    assert (model.coef_[:4] >= 0).all()
    assert model.coef_[2] == 0.0
    assert model.coef_[4] < 0  # a control keeps its sign
    G, c = normal_equations(X, y, 1e-4, penalised)
    assert kkt_violation(G, c, model.coef_, constrained) < 1e-9


def test_batched_active_set_matches_bounded_least_squares():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 30, 6))
    y = rng.normal(size=(40, 30))
    constrained = np.array([True, True, True, False, False, True])
    penalised = np.ones(6, bool)
    G, c = normal_equations(X, y, 0.01, penalised)
    b = solve_nonneg(G, c, constrained)
    assert (b[:, constrained] >= 0).all()
    for i in range(40):
        L = np.linalg.cholesky(G[i])
        exact = lsq_linear(L.T, np.linalg.solve(L, c[i]),
                           bounds=(np.where(constrained, 0, -np.inf), np.inf), method="bvls").x
        assert b[i] == pytest.approx(exact, abs=1e-9)
