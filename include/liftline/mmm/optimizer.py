"""Budget allocation on the response curves, with a gradient-based constrained solver.

budget_neutral: the same total spend, each channel within its bounds (default +-30% of current
spend), maximising the predicted revenue. At the optimum every channel strictly inside its
bounds has the same marginal ROI (the KKT conditions); SLSQP with exact gradients finds it.

target_efficiency: the largest budget whose every marginal dollar still returns at least the
target ROI: maximise revenue - target * spend within wider bounds (L-BFGS-B), i.e. each channel
grows until its marginal ROI falls to the target (or it reaches a bound).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from .curves import ResponseCurve

BUDGET_NEUTRAL = "budget_neutral"
TARGET_EFFICIENCY = "target_efficiency"


def _responses(curves: list[ResponseCurve], spend: np.ndarray) -> np.ndarray:
    return np.array([float(c.response(s)) for c, s in zip(curves, spend, strict=True)])


def _marginals(curves: list[ResponseCurve], spend: np.ndarray) -> np.ndarray:
    return np.array([float(c.marginal(s)) for c, s in zip(curves, spend, strict=True)])


def allocate_budget(curves: list[ResponseCurve], bounds: tuple[float, float] = (-0.3, 0.3)
                    ) -> pd.DataFrame:
    """Budget-neutral reallocation; one row per channel."""
    current = np.array([c.current_spend for c in curves])
    total = current.sum()
    weights = current / total
    scale = max(float(_responses(curves, current).sum()), total)
    lower, upper = 1.0 + bounds[0], 1.0 + bounds[1]

    def objective(u: np.ndarray) -> tuple[float, np.ndarray]:
        spend = u * current
        value = -_responses(curves, spend).sum() / scale
        grad = -_marginals(curves, spend) * current / scale
        return value, grad

    result = minimize(
        objective, np.ones(len(curves)), jac=True, method="SLSQP",
        bounds=[(lower, upper)] * len(curves),
        constraints=[{"type": "eq", "fun": lambda u: float(weights @ u - 1.0),
                      "jac": lambda u: weights}],
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    u = np.clip(result.x, lower, upper)
    u = _restore_total(u, weights, lower, upper)
    return _allocation_rows(curves, current, u * current, lower * current, upper * current,
                            BUDGET_NEUTRAL)


def _restore_total(u: np.ndarray, weights: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """Remove the solver's rounding from the budget: spread the gap over free channels."""
    for _ in range(3):
        gap = 1.0 - weights @ u
        free = (u > lower + 1e-9) & (u < upper - 1e-9) if gap else np.zeros_like(u, bool)
        if abs(gap) < 1e-15 or not free.any():
            break
        u = np.where(free, u + gap / weights[free].sum(), u)
        u = np.clip(u, lower, upper)
    return u


def target_efficiency(curves: list[ResponseCurve], target_mroi: float,
                      bounds: tuple[float, float] = (-1.0, 1.0)) -> pd.DataFrame:
    """The largest spend keeping marginal ROI >= target; one row per channel."""
    current = np.array([c.current_spend for c in curves])
    scale = max(current.sum(), 1.0)
    lower = max(1.0 + bounds[0], 1e-6)
    upper = 1.0 + bounds[1]

    def objective(u: np.ndarray) -> tuple[float, np.ndarray]:
        spend = u * current
        value = -(_responses(curves, spend).sum() - target_mroi * spend.sum()) / scale
        grad = -(_marginals(curves, spend) - target_mroi) * current / scale
        return value, grad

    best = None
    for start in (1.0, upper, lower):  # S-shaped curves can have two local optima
        x0 = np.full(len(curves), min(max(start, lower), upper))
        result = minimize(objective, x0, jac=True, method="L-BFGS-B",
                          bounds=[(lower, upper)] * len(curves),
                          options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 2000})
        if best is None or result.fun < best.fun - 1e-15:
            best = result
    u = np.clip(best.x, lower, upper)
    u = np.where(u <= lower + 1e-9, 1.0 + bounds[0], u)  # a channel cut to its floor
    return _allocation_rows(curves, current, u * current, (1.0 + bounds[0]) * current,
                            upper * current, TARGET_EFFICIENCY)


def _allocation_rows(curves: list[ResponseCurve], current: np.ndarray, recommended: np.ndarray,
                     lower: np.ndarray, upper: np.ndarray, scenario: str) -> pd.DataFrame:
    return pd.DataFrame({
        "scenario": scenario,
        "channel": [c.channel for c in curves],
        "current_spend": current,
        "recommended_spend": recommended,
        "change_pct": (recommended / current - 1.0) * 100.0,
        "current_response": _responses(curves, current),
        "recommended_response": _responses(curves, recommended),
        "current_mroi": _marginals(curves, current),
        "recommended_mroi": _marginals(curves, np.maximum(recommended, 1e-9 * current)),
        "lower_spend": lower,
        "upper_spend": upper,
    })
