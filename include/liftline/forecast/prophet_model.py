"""Prophet per series, with the planned drivers as regressors.

Multiplicative seasonality (weekly; yearly once a year of history exists) and multiplicative
regressors: the share of SKUs on promotion, the promotion depth (share x discount), events, the
day before a closure (shoppers come a day early), campaign spend (held at its mean of the last
28 days over the horizon: future spend is not in any extract), and, per holiday or event
name in the history, one indicator for its day and one for each of the HOLIDAY_AFTER days after
it (a shopping weekend after Black Friday carries no name of its own); indicators that never
vary over the trading days are left out. Closed days are neither fitted nor
forecast (they are 0). A regressor that is constant in a series' history is left out, with a
note. Stan's and Prophet's chatter is silenced; fits use the optimizer (MAP), no sampling.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

import numpy as np
import pandas as pd

from .base import Forecaster
from .conformal import ResidualQuantiles
from .frames import HOLIDAY_AFTER, KEY, TARGET, days_after_holidays, holiday_names, named_days

SPEND_DAYS = 28
QUIET_LOGGERS = ("cmdstanpy", "prophet", "prophet.plot", "prophet.models")


@contextmanager
def quiet_prophet():
    """Silence cmdstanpy and prophet (INFO lines per fit, the plotly notice) while inside."""
    saved = {}
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = (logger.level, logger.disabled)
        logger.setLevel(logging.CRITICAL)
        logger.disabled = True
    try:
        yield
    finally:
        for name, (level, disabled) in saved.items():
            logging.getLogger(name).setLevel(level)
            logging.getLogger(name).disabled = disabled


class ProphetForecaster(Forecaster):
    """One Prophet model per series with promotion, event, closure-eve and spend regressors."""

    name = "prophet"

    def __init__(self, seasonality_mode: str = "multiplicative", yearly_min_days: int = 365,
                 weekly_seasonality: bool = True, changepoint_prior_scale: float = 0.05,
                 seasonality_prior_scale: float = 10.0, holidays_prior_scale: float = 10.0,
                 regressors: tuple[str, ...] = ("promo_share", "promo_depth", "promo_ended",
                                                "event_count", "before_closed", "media_spend"),
                 min_history_days: int = 91,
                 calibration: ResidualQuantiles | None = None) -> None:
        super().__init__(calibration)
        self.seasonality_mode = seasonality_mode
        self.yearly_min_days = yearly_min_days
        self.weekly_seasonality = weekly_seasonality
        self.changepoint_prior_scale = changepoint_prior_scale
        self.seasonality_prior_scale = seasonality_prior_scale
        self.holidays_prior_scale = holidays_prior_scale
        self.regressors = tuple(regressors)
        self.min_history_days = min_history_days

    def _fit(self, history: pd.DataFrame) -> None:
        self.models_: dict[str, object] = {}
        self.columns_: dict[str, list[str]] = {}
        self.holiday_columns_: dict[str, dict[tuple[str, int], str]] = {}
        self.named_days_: dict[str, dict[pd.Timestamp, list[str]]] = {}
        self.spend_: dict[str, float] = {}
        history = _with_closure_eves(history)
        with quiet_prophet():
            for key, rows in history.groupby(KEY, sort=True):
                self._fit_series(key, rows)

    def _fit_series(self, key: str, rows: pd.DataFrame) -> None:
        from prophet import Prophet

        train = rows.loc[rows["trading"]]
        if len(train) < 14:
            raise ValueError(f"prophet: series {key} has {len(train)} trading days; "
                             "needs at least 14 (route it to the global model)")
        spend = rows["media_spend"].dropna().tail(SPEND_DAYS)
        self.spend_[key] = float(spend.mean()) if len(spend) else 0.0
        self.named_days_[key] = _named_days(rows)
        names = sorted({n for day in self.named_days_[key].values() for n in day})
        self.holiday_columns_[key] = {
            (name, d): f"holiday_{i}_{d}" for i, name in enumerate(names)
            for d in range(HOLIDAY_AFTER + 1)}
        frame = self._design(train, key)
        columns = [c for c in frame.columns if c not in ("ds", "y")]
        kept = [c for c in columns if frame[c].nunique() > 1]
        for column in sorted(set(columns) - set(kept)):
            if not column.startswith("holiday_"):
                self.note(f"{column} left out for series that never vary it in history")
        span = (train["date"].max() - train["date"].min()).days
        model = Prophet(
            growth="linear",
            seasonality_mode=self.seasonality_mode,
            yearly_seasonality=span >= self.yearly_min_days,
            weekly_seasonality=self.weekly_seasonality,
            daily_seasonality=False,
            changepoint_prior_scale=self.changepoint_prior_scale,
            seasonality_prior_scale=self.seasonality_prior_scale,
            uncertainty_samples=0,
        )
        for column in kept:
            prior = self.holidays_prior_scale if column.startswith("holiday_") else 10.0
            model.add_regressor(column, prior_scale=prior)
        model.fit(frame[["ds", "y", *kept]])
        self.models_[key] = model
        self.columns_[key] = kept

    def _predict(self, future: pd.DataFrame) -> np.ndarray:
        out = np.full(len(future), np.nan)
        future = _with_closure_eves(future)
        with quiet_prophet():
            for key, index in future.groupby(KEY, sort=False).indices.items():
                rows = future.iloc[index]
                frame = self._design(rows, key)
                frame["media_spend"] = self.spend_[key]  # future spend: held at recent mean
                predicted = self.models_[key].predict(frame[["ds", *self.columns_[key]]])
                out[index] = predicted["yhat"].to_numpy()
        return out

    def _design(self, rows: pd.DataFrame, key: str) -> pd.DataFrame:
        frame = pd.DataFrame({"ds": rows["date"].to_numpy()})
        if TARGET in rows:
            frame["y"] = rows[TARGET].to_numpy(dtype="float64")
        values = {
            "promo_share": rows["promo_share"].to_numpy(dtype="float64"),
            "promo_depth": rows["promo_depth"].to_numpy(dtype="float64"),
            "promo_ended": rows["promo_ended"].to_numpy(dtype="float64"),
            "event_count": rows["event_count"].fillna(0).to_numpy(dtype="float64"),
            "before_closed": rows["before_closed"].to_numpy(dtype="float64"),
            "media_spend": rows["media_spend"].fillna(self.spend_.get(key, 0.0))
            .to_numpy(dtype="float64"),
        }
        for name in self.regressors:
            if name in values:
                frame[name] = values[name]
        # A holiday's own day and the HOLIDAY_AFTER days after it (Black Friday's weekend),
        # each its own indicator; days before the first row are read from the history.
        named = {**self.named_days_.get(key, {}), **_named_days(rows)}
        since = days_after_holidays(named, rows["date"])
        for (name, d), column in self.holiday_columns_.get(key, {}).items():
            frame[column] = np.equal(since.get(name, -1), d).astype("float64")
        return frame


def _with_closure_eves(frame: pd.DataFrame) -> pd.DataFrame:
    """before_closed: the next day of the series is closed (known or learned)."""
    nxt = frame.groupby(KEY, sort=False)["closed"].shift(-1)
    consecutive = frame.groupby(KEY, sort=False)["date"].shift(-1) == frame["date"] + pd.Timedelta(
        days=1)
    return frame.assign(before_closed=(nxt.fillna(False).astype(bool) & consecutive))


def _named_days(rows: pd.DataFrame) -> dict[pd.Timestamp, list[str]]:
    return named_days(rows["date"], [holiday_names(v) for v in rows["holiday_name"].fillna("")])
