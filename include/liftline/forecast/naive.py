"""The seasonal-naive baseline: same weekday, mean of recent weeks, promotion-aware.

For a day t of series s: the mean of the last `weeks` trading days with t's weekday before the
origin, each first divided by its promotion factor (1 + uplift * promo_share), times the
factor planned for t. `uplift` is the promotion response observed in history: the least-squares
slope of (units / same-weekday non-promotion mean of the 4 weeks before) - 1 on the share of
SKUs on promotion, pooled over series. Closed days are 0 (base class).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .base import Forecaster
from .conformal import ResidualQuantiles
from .frames import KEY
from .panel import Panel, build_panels

MAX_LOOKBACK_WEEKS = 3  # look this many times `weeks` back for enough trading same weekdays


class SeasonalNaive(Forecaster):
    """Mean of the last `weeks` same weekdays, scaled by the observed promotion uplift."""

    name = "seasonal_naive"

    def __init__(self, weeks: int = 4, promo_aware: bool = True, uplift_history_days: int = 365,
                 calibration: ResidualQuantiles | None = None) -> None:
        super().__init__(calibration)
        self.weeks = weeks
        self.promo_aware = promo_aware
        self.uplift_history_days = uplift_history_days

    def _fit(self, history: pd.DataFrame) -> None:
        self.panels_ = build_panels(history)
        self.uplift_ = self._uplift() if self.promo_aware else 0.0

    def _predict(self, future: pd.DataFrame) -> np.ndarray:
        out = np.full(len(future), np.nan)
        for key, index in future.groupby(KEY, sort=False).indices.items():
            rows = future.iloc[index]
            out[index] = self._series_forecast(self.panels_[key], rows)
        return out

    def _series_forecast(self, panel: Panel, rows: pd.DataFrame) -> np.ndarray:
        origin = panel.last_history
        factor = 1.0 + self.uplift_ * panel.share
        base_units = np.where(panel.trading, panel.units / factor, np.nan)
        horizon = rows["horizon"].to_numpy()
        yhat = np.empty(len(rows))
        fallback = _nanmean(base_units[max(0, origin - 27): origin + 1])
        for i, h in enumerate(horizon):
            target = origin + int(h)
            first_week = int(np.ceil(h / 7))  # the latest same weekday on or before origin
            same = target - 7 * np.arange(first_week, first_week + self.weeks * MAX_LOOKBACK_WEEKS)
            values = base_units[same[same >= 0]]
            values = values[~np.isnan(values)][: self.weeks]
            yhat[i] = values.mean() if len(values) else fallback
        planned = 1.0 + self.uplift_ * rows["promo_share"].fillna(0.0).to_numpy()
        return yhat * planned

    def _uplift(self) -> float:
        """Pooled promotion uplift per unit of promo_share (0 without promotions)."""
        ratios, shares = [], []
        for panel in self.panels_.values():
            r, s = _promo_ratios(panel, self.uplift_history_days)
            ratios.append(r)
            shares.append(s)
        r, s = np.concatenate(ratios), np.concatenate(shares)
        if not len(s) or np.sum(s**2) == 0:
            self.note("no promotion days with a clean same-weekday baseline in history: "
                      "the baseline is not promotion-aware")
            return 0.0
        return float(np.clip(np.sum((r - 1) * s) / np.sum(s**2), 0.0, 5.0))


def _promo_ratios(panel: Panel, days: int) -> tuple[np.ndarray, np.ndarray]:
    """(units / same-weekday non-promotion mean of the 4 weeks before, share) on promo days."""
    last = panel.last_history
    clean = np.where(panel.trading & (panel.share == 0), panel.units, np.nan)
    ratios, shares = [], []
    for t in np.flatnonzero(panel.trading[: last + 1] & (panel.share[: last + 1] > 0)):
        if t < last - days:
            continue
        prior = clean[[i for i in (t - 7, t - 14, t - 21, t - 28) if i >= 0]]
        prior = prior[~np.isnan(prior)]
        if len(prior) >= 2 and prior.mean() > 0:
            ratios.append(panel.units[t] / prior.mean())
            shares.append(panel.share[t])
    return np.asarray(ratios, dtype="float64"), np.asarray(shares, dtype="float64")


def _nanmean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else np.nan
