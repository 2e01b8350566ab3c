"""Forecast accuracy: WAPE (primary), MAPE, RMSE, bias and interval coverage.

All take actuals `y` and forecasts `yhat` over the same rows (closed days included: a closed
day forecast as 0 that sold 0 is a correct forecast, one forecast as sales is an error).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def wape(y, yhat) -> float:
    """Weighted absolute percentage error: sum |y - yhat| / sum |y|."""
    y, yhat = _arrays(y, yhat)
    total = np.abs(y).sum()
    return float(np.abs(y - yhat).sum() / total) if total > 0 else float("nan")


def mape(y, yhat) -> float:
    """Mean absolute percentage error over the rows with y > 0."""
    y, yhat = _arrays(y, yhat)
    sold = y > 0
    return float(np.mean(np.abs(y[sold] - yhat[sold]) / y[sold])) if sold.any() else float("nan")


def rmse(y, yhat) -> float:
    y, yhat = _arrays(y, yhat)
    return float(np.sqrt(np.mean((y - yhat) ** 2))) if len(y) else float("nan")


def bias(y, yhat) -> float:
    """Relative bias: sum (yhat - y) / sum y (positive: over-forecast)."""
    y, yhat = _arrays(y, yhat)
    total = y.sum()
    return float((yhat - y).sum() / total) if total > 0 else float("nan")


def coverage(y, lower, upper) -> float:
    """Share of rows whose actual lies inside [lower, upper]."""
    y, lower = _arrays(y, lower)
    upper = np.asarray(upper, dtype="float64")
    if not len(y):
        return float("nan")
    return float(np.mean((y >= lower - 1e-9) & (y <= upper + 1e-9)))


def scores(frame: pd.DataFrame) -> dict[str, float]:
    """Every metric of a backtest frame (y, yhat and, when present, yhat_lower/yhat_upper)."""
    out = {
        "wape": wape(frame["y"], frame["yhat"]),
        "mape": mape(frame["y"], frame["yhat"]),
        "rmse": rmse(frame["y"], frame["yhat"]),
        "bias": bias(frame["y"], frame["yhat"]),
        "rows": int(len(frame)),
    }
    if {"yhat_lower", "yhat_upper"} <= set(frame.columns):
        out["coverage"] = coverage(frame["y"], frame["yhat_lower"], frame["yhat_upper"])
    return out


def _arrays(y, yhat) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(y, dtype="float64"), np.asarray(yhat, dtype="float64")
