"""The forecasting candidates' shape of the estimator interface: `fit(history)`, `predict(future)`.

`liftline.modeling.Estimator` (scikit-learn style) gives the parameters and the verbs; this base
adds what every forecaster needs. `predict` returns one row per future row:
`series_key, date, horizon, closed, yhat, yhat_lower, yhat_upper`. Closed days (known or
learned, see closures.py) are forecast as exactly 0. Intervals come from the `calibration`
(conformal residual quantiles from a backtest); without one they are NaN, never invented.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np
import pandas as pd

from liftline.modeling import Estimator

from .closures import ClosureCalendar
from .conformal import ResidualQuantiles
from .frames import KEY, TARGET, prepare

Log = Callable[[str], None]


class Forecaster(Estimator, ABC):
    """Base class: closure handling, horizons and intervals; subclasses do `_fit`/`_predict`."""

    name = "forecaster"
    is_global = False  # True: one model learns from every series it is given

    def __init__(self, calibration: ResidualQuantiles | None = None) -> None:
        self.calibration = calibration

    # --- the interface ---------------------------------------------------------------------

    def fit(self, history: pd.DataFrame) -> Forecaster:
        """Learn from `history` (every row is a known past day of its series)."""
        history = prepare(history)
        if history.empty or history[TARGET].notna().sum() == 0:
            raise ValueError(f"{self.name}: the history has no observed units to learn from")
        self.notes_: list[str] = []
        self.closures_ = ClosureCalendar().learn(history)
        closed = self.closures_.closed(history)
        history = history.assign(closed=closed,
                                 trading=self.closures_.trading(history, closed))
        self.origin_ = history.groupby(KEY)["date"].max()
        self._fit(history)
        return self

    def predict(self, future: pd.DataFrame) -> pd.DataFrame:
        """Forecast every row of `future` (drivers only; any units column is ignored)."""
        if not hasattr(self, "origin_"):
            raise RuntimeError(f"{self.name}: call fit(history) before predict(future)")
        future = prepare(future, future=True)
        unknown = sorted(set(future[KEY]) - set(self.origin_.index))
        if unknown:
            raise ValueError(f"{self.name}: no history for series {unknown[:5]}: "
                             "fit on a history that includes them")
        origin = future[KEY].map(self.origin_)
        horizon = (future["date"] - origin).dt.days.to_numpy()
        if (horizon <= 0).any():
            raise ValueError(f"{self.name}: future rows must be after each series' last "
                             "history day (the forecast origin)")
        future = future.assign(closed=self.closures_.closed(future), horizon=horizon)
        yhat = np.asarray(self._predict(future), dtype="float64")
        yhat = np.where(future["closed"].to_numpy() | np.isnan(yhat), 0.0, np.maximum(yhat, 0.0))
        return self._result(future, yhat)

    # --- for subclasses ----------------------------------------------------------------------

    @abstractmethod
    def _fit(self, history: pd.DataFrame) -> None:
        """Learn from `history`: prepared rows with `closed` and `trading` flags."""

    @abstractmethod
    def _predict(self, future: pd.DataFrame) -> np.ndarray:
        """Point forecasts for `future` (with `closed` and `horizon`), one per row."""

    def note(self, text: str) -> None:
        """Record what the model left out and why (the caller logs `notes_`)."""
        if text not in self.notes_:
            self.notes_.append(text)

    def _result(self, future: pd.DataFrame, yhat: np.ndarray) -> pd.DataFrame:
        out = future[[KEY, "date", "horizon", "closed"]].copy()
        out["yhat"] = yhat
        if self.calibration is not None:
            lower, upper = self.calibration.interval(yhat, out["horizon"].to_numpy(),
                                                     out[KEY].to_numpy())
        else:
            lower = upper = np.full(len(out), np.nan)
        out["yhat_lower"] = np.where(out["closed"], 0.0, lower)
        out["yhat_upper"] = np.where(out["closed"], 0.0, upper)
        return out.reset_index(drop=True)
