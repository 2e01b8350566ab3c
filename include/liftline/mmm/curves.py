"""Response curves and marginal ROI of each channel over the modelled window.

A channel's response to a total spend S is what the fitted model credits it with if its
weekly spend pattern were scaled to total S: R(S) = beta * sum_t h(S / S0 * a_t), with a_t its
adstocked spend at the current total S0 (adstock is linear) and h the fitted Hill curve (its
inflexion fixed at the fit's). R is smooth, so the marginal ROI dR/dS is exact:
dR/dS = beta / S * sum_t alpha * h * (1 - h).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .bootstrap import percentile_interval
from .transforms import HillSaturation


@dataclass(frozen=True)
class CurveDraws:
    """Bootstrap draws of one channel's curve: (R,) parameters, (R, T) adstocked spend."""

    adstocked: np.ndarray
    alpha: np.ndarray
    inflexion: np.ndarray
    beta: np.ndarray


@dataclass(frozen=True)
class ResponseCurve:
    channel: str
    current_spend: float  # S0: total spend over the modelled window
    adstocked: np.ndarray  # (T,) a_t at S0
    alpha: float
    inflexion: float
    beta: float  # revenue per unit of saturation per week
    draws: CurveDraws | None = None  # bootstrap draws, for bands

    def _saturation(self, spend: np.ndarray) -> np.ndarray:
        scale = np.asarray(spend, dtype=float)[..., None] / self.current_spend
        return HillSaturation.at_inflexion(scale * self.adstocked, self.alpha, self.inflexion)

    def response(self, spend: np.ndarray | float, beta: float | None = None) -> np.ndarray:
        """Revenue credited to the channel at total spend `spend` (array or scalar)."""
        b = self.beta if beta is None else beta
        return b * self._saturation(spend).sum(axis=-1)

    def marginal(self, spend: np.ndarray | float) -> np.ndarray:
        """Marginal ROI dR/dS at total spend `spend` (> 0)."""
        spend = np.maximum(np.asarray(spend, dtype=float), 1e-12 * self.current_spend)
        h = self._saturation(spend)
        return self.beta * HillSaturation.elasticity(h, self.alpha).sum(axis=-1) / spend

    def band(self, spend: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Bootstrap interval of the response at each `spend` (the curve of every draw)."""
        if self.draws is None:
            value = self.response(spend)
            return value, value
        d = self.draws
        scale = np.asarray(spend, dtype=float)[None, :, None] / self.current_spend
        h = HillSaturation.hill(scale * d.adstocked[:, None, :], d.alpha[:, None, None],
                                d.inflexion[:, None, None])
        return percentile_interval(d.beta[:, None] * h.sum(axis=-1), level)


def curve_table(curves: list[ResponseCurve], points: int, max_multiplier: float,
                level: float) -> pd.DataFrame:
    """`points` rows per channel from 0 to max_multiplier x current spend."""
    frames = []
    for curve in curves:
        spend = np.linspace(0.0, max_multiplier * curve.current_spend, points)
        lower, upper = curve.band(spend, level)
        frames.append(pd.DataFrame({
            "channel": curve.channel, "point": np.arange(points), "spend": spend,
            "response": curve.response(spend), "response_lower": lower,
            "response_upper": upper,
            "mroi": np.where(spend > 0, curve.marginal(np.where(spend > 0, spend, 1.0)),
                             np.nan),
        }))
    return pd.concat(frames, ignore_index=True)
