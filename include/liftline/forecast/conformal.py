"""Conformal intervals: quantiles of backtest residuals, per horizon bucket.

Residuals are relative, r = (y - yhat) / max(yhat, 1), so one table serves large and small
series. The errors of a forecast made at a new origin are modelled as a shock shared by the
whole origin plus each series' own noise, r = b + s e, and both are calibrated:

- **Each series' own noise** (s e): residuals around their origin's mean, divided by the
  series' scale s, its mean |r| over the pooled mean |r|, shrunk towards 1 by `SHRINK_ROWS`
  pseudo-rows (a series with few residuals keeps the pooled scale; a series the calibration
  never saw gets 1). A steady store gets a narrow interval, a noisy one a wide one.
- **The origin's shock** (b): an origin's rows share its shocks (a warm month, a market move),
  so 2-3 origins pooled show the spread *within* an origin and a fresh origin falls outside
  more often than the level says. The shock is a normal draw with the between-origin standard
  deviation of the origins' mean residuals, times sqrt(1 + 1/K) for a new draw after K
  origins, centred on the forecast: with 2-3 origins their average bias is as much the luck
  of those origins as a property of the model. It is the same for every series (not scaled).
- **Finite samples**: the quantile probabilities of e are widened to 0.5 + (p - 0.5)(n + 1)/n,
  the split-conformal correction for n residuals.

Per horizon bucket (days ahead, e.g. 1-7, 8-14, 15-28, 29-56) the table keeps the quantiles of
e on a fine probability grid and the shock's standard deviation; a series' distribution is
s e + b (convolved by normal quadrature, cached per scale). From it come the 90% interval (the
5% and 95% quantiles), the newsvendor quantile at any critical ratio, and the expected over-
and under-forecast cost of a plan quantity. Grid, shocks and scales are small JSON, stored
with the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

GRID = np.round(np.arange(0.005, 1.0, 0.005), 3)  # 199 probabilities
MIN_RESIDUALS = 30  # a bucket with fewer residuals borrows the pooled quantiles
SHRINK_ROWS = 14  # pseudo-rows at the pooled scale in each series' scale
# Standard normal quadrature for the between-origin term: the quantiles at (i - 0.5) / 7,
# rescaled to unit variance.
_NORMAL_POINTS = np.array([-1.6076, -0.8685, -0.4017, 0.0, 0.4017, 0.8685, 1.6076])


@dataclass
class ResidualQuantiles:
    """Normalised residual quantiles per horizon bucket, the per-series scales and the
    interval level they serve."""

    level: float = 0.9
    buckets: list[int] = field(default_factory=lambda: [56])
    table: dict[int, list[float]] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)
    scales: dict[str, float] = field(default_factory=dict)
    shocks: dict[int, float] = field(default_factory=dict)  # per bucket: the origin shock's sd
    _grids: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def fit(cls, y, yhat, horizon, buckets: list[int], level: float = 0.9, series=None,
            origin=None) -> ResidualQuantiles:
        """Calibrate on backtest rows (closed days, forecast 0 for sure, are left out).

        `series` (the rows' series keys) gives per-series scales; `origin` (the rows'
        backtest origins) the between-origin spread. Without them: one scale, one origin.
        """
        y = np.asarray(y, dtype="float64")
        yhat = np.asarray(yhat, dtype="float64")
        horizon = np.asarray(horizon, dtype="int64")
        keep = (yhat > 0) & ~np.isnan(y) & ~np.isnan(yhat)
        residual = relative_residual(y[keep], yhat[keep])
        keys = np.asarray(series, dtype=object)[keep] if series is not None else None
        scales = series_scales(residual, keys) if keys is not None else {}
        divisor = (np.array([scales.get(str(k), 1.0) for k in keys]) if scales
                   else np.ones(len(residual)))
        origins = (np.asarray(origin)[keep] if origin is not None
                   else np.zeros(len(residual), dtype="int64"))
        bucket = bucket_of(horizon[keep], buckets)
        pooled = _own_noise(residual, origins, divisor)
        table, counts, shocks = {}, {}, {}
        for edge in buckets:
            mine = bucket == edge
            counts[edge] = int(mine.sum())
            found = (_own_noise(residual[mine], origins[mine], divisor[mine])
                     if counts[edge] >= MIN_RESIDUALS else pooled)
            table[edge], shocks[edge] = found
        return cls(level=level, buckets=list(buckets), table=table, counts=counts,
                   scales=scales, shocks=shocks)

    def scale(self, series) -> np.ndarray | float:
        """Each row's series scale (1 for a series the calibration did not see)."""
        if series is None or not self.scales:
            return 1.0
        return np.array([self.scales.get(str(k), 1.0) for k in np.asarray(series, dtype=object)],
                        dtype="float64")

    def quantile(self, horizon, p: float, series=None) -> np.ndarray:
        """The relative residual quantile at probability `p` for each row.

        Rows share a few (bucket, scale) pairs: each pair's quantile is read once, in the
        order the rows first show it (the grid cache fills as it did row by row).
        """
        bucket = bucket_of(np.asarray(horizon, dtype="int64"), self.buckets)
        scale = np.broadcast_to(self.scale(series), bucket.shape)
        if not bucket.size:
            return np.empty(0, dtype="float64")
        pairs, first, inverse = np.unique(np.column_stack([bucket, scale]), axis=0,
                                          return_index=True, return_inverse=True)
        values = np.empty(len(pairs), dtype="float64")
        for k in np.argsort(first, kind="stable"):
            grid = self._grid(int(pairs[k, 0]), float(pairs[k, 1]))
            values[k] = float(np.interp(p, GRID, grid))
        return values[inverse.reshape(-1)]

    def value_quantile(self, yhat, horizon, p: float, series=None) -> np.ndarray:
        """The forecast distribution's `p` quantile (units), never below 0."""
        yhat = np.asarray(yhat, dtype="float64")
        value = yhat + self.quantile(horizon, p, series) * _scale(yhat)
        return np.where(yhat > 0, np.maximum(value, 0.0), 0.0)

    def interval(self, yhat, horizon, series=None) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) of the central `level` interval, ordered around yhat."""
        yhat = np.asarray(yhat, dtype="float64")
        tail = (1 - self.level) / 2
        lower = np.minimum(self.value_quantile(yhat, horizon, tail, series), yhat)
        upper = np.maximum(self.value_quantile(yhat, horizon, 1 - tail, series), yhat)
        return lower, upper

    def expected_costs(self, yhat, horizon, plan, underage: float, overage: float,
                       series=None) -> tuple[np.ndarray, np.ndarray]:
        """Expected (under-forecast, over-forecast) cost of stocking `plan` per row."""
        yhat = np.asarray(yhat, dtype="float64")
        plan = np.asarray(plan, dtype="float64")
        rows = np.asarray(self._rows(horizon, series))
        demand = np.maximum(yhat[:, None] + rows * _scale(yhat)[:, None], 0.0)
        demand = np.where(yhat[:, None] > 0, demand, 0.0)
        short = np.maximum(demand - plan[:, None], 0.0).mean(axis=1) * underage
        excess = np.maximum(plan[:, None] - demand, 0.0).mean(axis=1) * overage
        return short, excess

    def to_dict(self) -> dict:
        return {"level": self.level, "buckets": self.buckets, "grid": GRID.tolist(),
                "table": {str(k): [round(v, 6) for v in vals] for k, vals in self.table.items()},
                "counts": {str(k): v for k, v in self.counts.items()},
                "scales": {str(k): round(v, 4) for k, v in self.scales.items()},
                "shocks": {str(k): round(v, 6) for k, v in self.shocks.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> ResidualQuantiles:
        return cls(level=float(data["level"]), buckets=[int(b) for b in data["buckets"]],
                   table={int(k): list(v) for k, v in data["table"].items()},
                   counts={int(k): int(v) for k, v in data.get("counts", {}).items()},
                   scales={str(k): float(v) for k, v in data.get("scales", {}).items()},
                   shocks={int(k): float(v) for k, v in data.get("shocks", {}).items()})

    def _rows(self, horizon, series=None) -> list[np.ndarray]:
        """Each row's residual quantiles on GRID: its bucket's, at its series' scale."""
        bucket = bucket_of(np.asarray(horizon, dtype="int64"), self.buckets)
        scale = np.broadcast_to(self.scale(series), bucket.shape)
        return [self._grid(int(b), float(s)) for b, s in zip(bucket, scale, strict=True)]

    def _grid(self, bucket: int, scale: float) -> np.ndarray:
        """Quantiles on GRID of scale * e + shock for one bucket (cached)."""
        key = (bucket, round(scale, 4))
        if key not in self._grids:
            noise = scale * np.asarray(self.table[bucket], dtype="float64")
            shock = self.shocks.get(bucket, 0.0)
            self._grids[key] = (noise if shock <= 0 else np.quantile(
                (noise[:, None] + shock * _NORMAL_POINTS[None, :]).ravel(), GRID))
        return self._grids[key]


def series_scales(residual: np.ndarray, series: np.ndarray) -> dict[str, float]:
    """Each series' mean |residual| over the pooled one, shrunk towards 1 (SHRINK_ROWS)."""
    size = np.abs(residual)
    pooled = float(size.mean()) if len(size) else 0.0
    if pooled <= 0:
        return {}
    keys, inverse = np.unique(series.astype(str), return_inverse=True)
    sums = np.bincount(inverse, weights=size)
    counts = np.bincount(inverse)
    shrunk = (sums + SHRINK_ROWS * pooled) / (counts + SHRINK_ROWS) / pooled
    return {str(k): float(v) for k, v in zip(keys, shrunk, strict=True)}


def _own_noise(residual: np.ndarray, origins: np.ndarray, divisor: np.ndarray
               ) -> tuple[list[float], float]:
    """(quantiles on GRID of the residuals around their origin's mean over their series'
    scale, finite-sample widened; the sd of an origin's shock for a new origin)."""
    if not len(residual):
        return [0.0] * len(GRID), 0.0
    labels, inverse = np.unique(origins, return_inverse=True)
    means = np.bincount(inverse, weights=residual) / np.bincount(inverse)
    shock = (float(np.std(means, ddof=1)) * np.sqrt(1 + 1 / len(labels))
             if len(labels) > 1 else 0.0)
    noise = (residual - means[inverse]) / divisor if len(labels) > 1 else residual / divisor
    n = len(noise)
    probabilities = np.clip(0.5 + (GRID - 0.5) * (n + 1) / n, 0.0, 1.0)
    return np.quantile(noise, probabilities).tolist(), shock


def relative_residual(y: np.ndarray, yhat: np.ndarray) -> np.ndarray:
    return (y - yhat) / _scale(yhat)


def bucket_of(horizon: np.ndarray, buckets: list[int]) -> np.ndarray:
    """The bucket (its upper edge) of each horizon; beyond the last edge: the last bucket."""
    edges = np.asarray(sorted(buckets))
    index = np.minimum(np.searchsorted(edges, horizon, side="left"), len(edges) - 1)
    return edges[index]


def _scale(yhat: np.ndarray) -> np.ndarray:
    return np.maximum(np.asarray(yhat, dtype="float64"), 1.0)
