"""Media transforms: small, swappable adstock and saturation components with one interface.

Every component has a `name`, the `param_names` it takes, and `apply(x, **params)`:
`x` is weekly spend (T,) or (T, C) (one column per channel), each parameter is a scalar, (C,)
or batched (..., C), and the result has shape (..., T, C) (a batch of candidate parameter sets
is evaluated in one call during the search). Adstock comes first, then saturation:

    saturation.apply(adstock.apply(spend, theta=...), alpha=..., gamma=...)

Adstock is linear in spend (scaling spend scales the adstock), which the response curves and
the budget optimizer rely on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np
from scipy.signal import lfilter


class Adstock(Protocol):
    name: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]

    def apply(self, x: np.ndarray, **params: np.ndarray) -> np.ndarray: ...


class Saturation(Protocol):
    name: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]

    def apply(self, x: np.ndarray, **params: np.ndarray) -> np.ndarray: ...


def _as_matrix(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        return x[:, None]
    if x.ndim != 2:
        raise ValueError(f"spend must be (weeks,) or (weeks, channels), got shape {x.shape}")
    return x


def _squeeze_like(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    return out[..., 0] if np.ndim(x) == 1 else out


@dataclass(frozen=True)
class GeometricAdstock:
    """x_eff[t] = x[t] + theta * x_eff[t-1] (not normalised: a unit of spend carries over
    1 / (1 - theta) units in total)."""

    name: ClassVar[str] = "geometric"
    param_names: ClassVar[tuple[str, ...]] = ("theta",)

    def apply(self, x: np.ndarray, theta: np.ndarray | float) -> np.ndarray:
        xm = _as_matrix(x)
        theta = np.broadcast_to(np.asarray(theta, dtype=float),
                                np.broadcast_shapes(np.shape(theta), (xm.shape[1],)))
        if theta.ndim == 1:
            # One decay per channel: an IIR filter each, in C.
            out = np.empty_like(xm)
            for c in range(xm.shape[1]):
                out[:, c] = lfilter([1.0], [1.0, -theta[c]], xm[:, c])
            return _squeeze_like(x, out)
        # A batch of decays: one vectorised step per week over every (candidate, channel).
        out = np.empty((*theta.shape[:-1], xm.shape[0], xm.shape[1]))
        carry = np.zeros(theta.shape)
        for t in range(xm.shape[0]):
            carry = xm[t] + theta * carry
            out[..., t, :] = carry
        return _squeeze_like(x, out)

    @staticmethod
    def weights(theta: float, l_max: int = 13) -> np.ndarray:
        """The weight of spend l weeks ago, l = 0..l_max-1 (for plots and reports)."""
        return float(theta) ** np.arange(l_max)


@dataclass(frozen=True)
class WeibullAdstock:
    """x_eff[t] = sum_l w_l x[t-l] over l < l_max, w the Weibull(shape, scale * l_max) mass of
    [l, l+1), normalised to sum 1: shape < 1 decays at once, shape > 1 peaks later."""

    l_max: int = 13
    name: ClassVar[str] = "weibull"
    param_names: ClassVar[tuple[str, ...]] = ("shape", "scale")

    def weights(self, shape: np.ndarray | float, scale: np.ndarray | float) -> np.ndarray:
        """Lag weights (..., l_max) for parameters of shape (...)."""
        shape = np.asarray(shape, dtype=float)[..., None]
        scale = np.asarray(scale, dtype=float)[..., None] * self.l_max
        edges = np.arange(self.l_max + 1, dtype=float)
        cdf = 1.0 - np.exp(-((edges / scale) ** shape))
        mass = np.diff(cdf, axis=-1)
        total = mass.sum(axis=-1, keepdims=True)
        return np.where(total > 0, mass / np.where(total > 0, total, 1.0), 0.0)

    def apply(self, x: np.ndarray, shape: np.ndarray | float, scale: np.ndarray | float
              ) -> np.ndarray:
        xm = _as_matrix(x)
        channels = (xm.shape[1],)
        shape = np.broadcast_to(np.asarray(shape, dtype=float),
                                np.broadcast_shapes(np.shape(shape), channels))
        scale = np.broadcast_to(np.asarray(scale, dtype=float),
                                np.broadcast_shapes(np.shape(scale), channels))
        w = self.weights(shape, scale)  # (..., C, L)
        out = np.zeros((*w.shape[:-2], *xm.shape))
        for lag in range(min(self.l_max, xm.shape[0])):
            shifted = np.zeros_like(xm)
            shifted[lag:] = xm[: xm.shape[0] - lag]
            out += w[..., None, :, lag] * shifted
        return _squeeze_like(x, out)


@dataclass(frozen=True)
class HillSaturation:
    """x^alpha / (x^alpha + g^alpha), with g = lo + gamma * (hi - lo) and [lo, hi] the range of
    the (adstocked) series over the modelled weeks, or `span` when given (response curves and
    new data use the span of the fit, so the curve does not move with the spend)."""

    name: ClassVar[str] = "hill"
    param_names: ClassVar[tuple[str, ...]] = ("alpha", "gamma")

    @staticmethod
    def span(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) over the weeks axis (-2) of (..., T, C)."""
        return x.min(axis=-2), x.max(axis=-2)

    @staticmethod
    def inflexion(gamma: np.ndarray | float, span: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        lo, hi = span
        return lo + np.asarray(gamma, dtype=float) * (hi - lo)

    def apply(self, x: np.ndarray, alpha: np.ndarray | float, gamma: np.ndarray | float,
              span: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            return self.apply(x[:, None], alpha, gamma,
                              None if span is None else tuple(np.atleast_1d(s) for s in span)
                              )[..., 0]
        g = self.inflexion(gamma, span if span is not None else self.span(x))
        return self.at_inflexion(x, alpha, g)

    @staticmethod
    def at_inflexion(x: np.ndarray, alpha: np.ndarray | float, inflexion: np.ndarray | float
                     ) -> np.ndarray:
        """Hill with an absolute inflexion point (..., C) over x (..., T, C)."""
        alpha = np.asarray(alpha, dtype=float)[..., None, :] if np.ndim(alpha) else alpha
        g = np.asarray(inflexion, dtype=float)
        return HillSaturation.hill(x, alpha, g[..., None, :] if g.ndim else g)

    @staticmethod
    def hill(x: np.ndarray, alpha: np.ndarray | float, g: np.ndarray | float) -> np.ndarray:
        """x^alpha / (x^alpha + g^alpha), all arguments broadcast together; 0 at x <= 0."""
        g = np.asarray(g, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(g > 0, np.maximum(x, 0.0) / np.where(g > 0, g, 1.0), np.inf)
            powered = ratio**alpha
            out = powered / (1.0 + powered)
        return np.where(x > 0, np.where(np.isinf(powered), 1.0, out), 0.0)

    @staticmethod
    def elasticity(h: np.ndarray, alpha: np.ndarray | float) -> np.ndarray:
        """x * dh/dx = alpha * h * (1 - h): the marginal response is this over x."""
        return np.asarray(alpha) * h * (1.0 - h)


ADSTOCK_COMPONENTS = {"geometric": GeometricAdstock, "weibull": WeibullAdstock}
SATURATION_COMPONENTS = {"hill": HillSaturation}


def make_adstock(name: str, l_max: int = 13) -> Adstock:
    if name == "weibull":
        return WeibullAdstock(l_max=l_max)
    if name == "geometric":
        return GeometricAdstock()
    raise ValueError(f"unknown adstock {name!r}; expected one of {', '.join(ADSTOCK_COMPONENTS)}")
