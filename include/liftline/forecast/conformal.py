"""Conformal intervals: quantiles of backtest residuals, per horizon bucket.

Residuals are relative, r = (y - yhat) / max(yhat, 1), so one table serves large and small
series. For each horizon bucket (days ahead, e.g. 1-7, 8-14, 15-28, 29-56) the table keeps the
residual quantiles on a fine probability grid. From it come the 90% interval (split conformal:
the 5% and 95% quantiles), the newsvendor quantile at any critical ratio, and the expected
over- and under-forecast cost of a plan quantity. The grid is small JSON, stored with the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

GRID = np.round(np.arange(0.005, 1.0, 0.005), 3)  # 199 probabilities
MIN_RESIDUALS = 30  # a bucket with fewer residuals borrows the pooled quantiles


@dataclass
class ResidualQuantiles:
    """Relative-residual quantiles per horizon bucket, with the interval level they serve."""

    level: float = 0.9
    buckets: list[int] = field(default_factory=lambda: [56])
    table: dict[int, list[float]] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)

    @classmethod
    def fit(cls, y, yhat, horizon, buckets: list[int], level: float = 0.9) -> ResidualQuantiles:
        """Calibrate on backtest rows (closed days, forecast 0 for sure, are left out)."""
        y = np.asarray(y, dtype="float64")
        yhat = np.asarray(yhat, dtype="float64")
        horizon = np.asarray(horizon, dtype="int64")
        keep = (yhat > 0) & ~np.isnan(y) & ~np.isnan(yhat)
        residual = relative_residual(y[keep], yhat[keep])
        bucket = bucket_of(horizon[keep], buckets)
        pooled = np.quantile(residual, GRID).tolist() if len(residual) else [0.0] * len(GRID)
        table, counts = {}, {}
        for edge in buckets:
            mine = residual[bucket == edge]
            counts[edge] = int(len(mine))
            table[edge] = (np.quantile(mine, GRID).tolist() if len(mine) >= MIN_RESIDUALS
                           else pooled)
        return cls(level=level, buckets=list(buckets), table=table, counts=counts)

    def quantile(self, horizon, p: float) -> np.ndarray:
        """The relative residual quantile at probability `p` for each row's horizon."""
        bucket = bucket_of(np.asarray(horizon, dtype="int64"), self.buckets)
        per_bucket = {int(b): float(np.interp(p, GRID, self.table[int(b)]))
                      for b in np.unique(bucket)}
        return np.array([per_bucket[int(b)] for b in bucket], dtype="float64")

    def value_quantile(self, yhat, horizon, p: float) -> np.ndarray:
        """The forecast distribution's `p` quantile (units), never below 0."""
        yhat = np.asarray(yhat, dtype="float64")
        value = yhat + self.quantile(horizon, p) * _scale(yhat)
        return np.where(yhat > 0, np.maximum(value, 0.0), 0.0)

    def interval(self, yhat, horizon) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) of the central `level` interval, ordered around yhat."""
        yhat = np.asarray(yhat, dtype="float64")
        tail = (1 - self.level) / 2
        lower = np.minimum(self.value_quantile(yhat, horizon, tail), yhat)
        upper = np.maximum(self.value_quantile(yhat, horizon, 1 - tail), yhat)
        return lower, upper

    def expected_costs(self, yhat, horizon, plan, underage: float, overage: float
                       ) -> tuple[np.ndarray, np.ndarray]:
        """Expected (under-forecast, over-forecast) cost of stocking `plan` per row."""
        yhat = np.asarray(yhat, dtype="float64")
        plan = np.asarray(plan, dtype="float64")
        rows = np.asarray(self._rows(horizon))  # n x grid
        demand = np.maximum(yhat[:, None] + rows * _scale(yhat)[:, None], 0.0)
        demand = np.where(yhat[:, None] > 0, demand, 0.0)
        short = np.maximum(demand - plan[:, None], 0.0).mean(axis=1) * underage
        excess = np.maximum(plan[:, None] - demand, 0.0).mean(axis=1) * overage
        return short, excess

    def to_dict(self) -> dict:
        return {"level": self.level, "buckets": self.buckets, "grid": GRID.tolist(),
                "table": {str(k): [round(v, 6) for v in vals] for k, vals in self.table.items()},
                "counts": {str(k): v for k, v in self.counts.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> ResidualQuantiles:
        return cls(level=float(data["level"]), buckets=[int(b) for b in data["buckets"]],
                   table={int(k): list(v) for k, v in data["table"].items()},
                   counts={int(k): int(v) for k, v in data.get("counts", {}).items()})

    def _rows(self, horizon) -> list[list[float]]:
        bucket = bucket_of(np.asarray(horizon, dtype="int64"), self.buckets)
        return [self.table[int(b)] for b in bucket]


def relative_residual(y: np.ndarray, yhat: np.ndarray) -> np.ndarray:
    return (y - yhat) / _scale(yhat)


def bucket_of(horizon: np.ndarray, buckets: list[int]) -> np.ndarray:
    """The bucket (its upper edge) of each horizon; beyond the last edge: the last bucket."""
    edges = np.asarray(sorted(buckets))
    index = np.minimum(np.searchsorted(edges, horizon, side="left"), len(edges) - 1)
    return edges[index]


def _scale(yhat: np.ndarray) -> np.ndarray:
    return np.maximum(np.asarray(yhat, dtype="float64"), 1.0)
