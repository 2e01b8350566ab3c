"""The candidates by name: a factory from the spec's parameters, and the ensemble candidate.

The spec lists candidates under `candidates:`; each is built with `make_forecaster(name,
params)`. An `ensemble` entry averages the forecasts of its `members` (equal weights unless
`weights` says otherwise): Prophet and the global LightGBM make different mistakes, so their
mean is usually better than either (see README.md for the measured numbers).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .base import Forecaster
from .conformal import ResidualQuantiles
from .frames import KEY
from .lgbm import LightGBMForecaster
from .naive import SeasonalNaive
from .prophet_model import ProphetForecaster

BASE_CLASSES: dict[str, type[Forecaster]] = {
    "seasonal_naive": SeasonalNaive,
    "prophet": ProphetForecaster,
    "lightgbm": LightGBMForecaster,
}
SPEC_ONLY = ("min_history_days",)  # spec keys that route series, not model parameters


def make_forecaster(name: str, params: dict[str, Any] | None = None,
                    calibration: ResidualQuantiles | None = None,
                    horizon_days: int = 56) -> Forecaster:
    """The candidate `name` with the spec's `params` (unknown keys: a one-line error)."""
    params = dict(params or {})
    if name == "ensemble" or "members" in params:
        members = params.pop("members", ["prophet", "lightgbm"])
        weights = params.pop("weights", None)
        return EnsembleForecaster(members=tuple(members), weights=weights,
                                  calibration=calibration)
    cls = BASE_CLASSES.get(name)
    if cls is None:
        raise ValueError(f"unknown forecast candidate {name!r}: expected one of "
                         f"{sorted([*BASE_CLASSES, 'ensemble'])}")
    kwargs = {k: v for k, v in params.items() if k not in SPEC_ONLY or k in _accepts(cls)}
    if cls is LightGBMForecaster:
        kwargs.setdefault("horizon_days", horizon_days)
    if "regressors" in kwargs:
        kwargs["regressors"] = tuple(kwargs["regressors"])
    try:
        return cls(**kwargs, calibration=calibration)
    except TypeError as exc:
        raise ValueError(f"candidate {name!r}: bad parameters in the spec ({exc})") from None


def _accepts(cls: type[Forecaster]) -> set[str]:
    import inspect

    return set(inspect.signature(cls.__init__).parameters)


class EnsembleForecaster(Forecaster):
    """The (weighted) mean of member candidates' forecasts."""

    name = "ensemble"

    def __init__(self, members: tuple[str, ...] = ("prophet", "lightgbm"),
                 weights: list[float] | None = None, member_params: dict | None = None,
                 calibration: ResidualQuantiles | None = None) -> None:
        super().__init__(calibration)
        self.members = tuple(members)
        self.weights = weights
        self.member_params = member_params

    @property
    def is_global(self) -> bool:  # type: ignore[override]
        return any(m == "lightgbm" for m in self.members)

    def _fit(self, history: pd.DataFrame) -> None:
        params = self.member_params or {}
        self.fitted_ = [make_forecaster(m, params.get(m)).fit(history) for m in self.members]
        for member in self.fitted_:
            self.notes_.extend(n for n in member.notes_ if n not in self.notes_)

    def _predict(self, future: pd.DataFrame) -> np.ndarray:
        frames = [member.predict(future) for member in self.fitted_]
        return combine([f["yhat"].to_numpy() for f in frames], self.weights)


def combine(forecasts: list[np.ndarray], weights: list[float] | None = None) -> np.ndarray:
    """Weighted mean of aligned member forecasts."""
    stacked = np.vstack(forecasts)
    w = np.ones(len(forecasts)) if weights is None else np.asarray(weights, dtype="float64")
    return (stacked * (w / w.sum())[:, None]).sum(axis=0)


def align(frames: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Member forecast frames in one row order (series, date)."""
    return [f.sort_values([KEY, "date"], kind="mergesort").reset_index(drop=True) for f in frames]
