"""Newsvendor plan quantities and the expected cost of forecast errors.

Per unit, under-forecasting (a sale lost) costs the margin, `list_price - unit_cost`, and
over-forecasting (a unit stocked and not sold) costs `unit_cost` (written off; a spec can
only choose these two definitions today). The cost-optimal stock is the forecast
distribution's quantile at the critical ratio underage / (underage + overage), read from the
conformal residual quantiles. Costs per series are sales-weighted over its SKUs (inputs.py);
without prices and costs the plan is the median (`default_critical_ratio`), costs unknown.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .conformal import ResidualQuantiles
from .frames import KEY


def series_costs(economics: pd.DataFrame, keys: pd.Series, grain: str) -> pd.DataFrame:
    """(series_key, underage, overage) for the series in `keys` (NaN where unknown)."""
    frame = pd.DataFrame({KEY: keys.drop_duplicates().to_numpy()})
    if economics.empty:
        return frame.assign(underage=np.nan, overage=np.nan)
    if grain == "store_day":
        costs = economics.loc[economics["category"].isna()].assign(**{KEY: lambda f: f["store_id"]})
    else:
        costs = economics.loc[economics["category"].notna()]
        costs = costs.assign(**{KEY: costs["store_id"] + "|" + costs["category"]})
    return frame.merge(costs[[KEY, "underage", "overage"]], on=KEY, how="left")


def critical_ratio(underage, overage, default: float) -> np.ndarray:
    underage = np.asarray(underage, dtype="float64")
    overage = np.asarray(overage, dtype="float64")
    total = underage + overage
    ratio = np.where(total > 0, underage / np.where(total > 0, total, 1.0), np.nan)
    return np.where(np.isnan(ratio), default, np.clip(ratio, 0.01, 0.99))


def plan(forecast: pd.DataFrame, calibration: ResidualQuantiles, costs: pd.DataFrame,
         default_ratio: float) -> pd.DataFrame:
    """`forecast` with critical_ratio, plan_qty and expected under/over-forecast costs."""
    out = forecast.merge(costs, on=KEY, how="left")
    ratio = critical_ratio(out["underage"], out["overage"], default_ratio)
    yhat, horizon = out["yhat"].to_numpy(), out["horizon"].to_numpy()
    plan_qty = np.zeros(len(out))
    series = out[KEY].to_numpy()
    for value in np.unique(ratio):
        rows = ratio == value
        plan_qty[rows] = calibration.value_quantile(yhat[rows], horizon[rows], float(value),
                                                    series[rows])
    short, excess = calibration.expected_costs(yhat, horizon, plan_qty, 1.0, 1.0, series)
    out["critical_ratio"] = ratio
    out["plan_qty"] = plan_qty
    out["expected_underage_cost"] = short * out["underage"].to_numpy()
    out["expected_overage_cost"] = excess * out["overage"].to_numpy()
    return out


def backtest_costs(rows: pd.DataFrame, calibration: ResidualQuantiles, costs: pd.DataFrame,
                   default_ratio: float) -> dict:
    """Realised cost per day of stocking the point forecast vs the plan quantity."""
    planned = plan(rows, calibration, costs, default_ratio)
    known = planned["underage"].notna() & planned["overage"].notna()
    if not known.any():
        return {"known": False, "note": "no list_price/unit_cost: costs not computed"}
    p = planned.loc[known]
    days = max(p["date"].nunique(), 1) * max(p["origin"].nunique(), 1)

    def cost(stock: pd.Series) -> dict:
        under = (np.maximum(p["y"] - stock, 0) * p["underage"]).sum() / days
        over = (np.maximum(stock - p["y"], 0) * p["overage"]).sum() / days
        return {"underage_per_day": float(under), "overage_per_day": float(over),
                "total_per_day": float(under + over)}

    return {"known": True, "point_forecast": cost(p["yhat"]), "plan_qty": cost(p["plan_qty"]),
            "mean_critical_ratio": float(p["critical_ratio"].mean())}
