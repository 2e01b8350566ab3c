"""Model inputs (`MMMData`) and the numeric problem built from them (`Design`).

`MMMData` is what a user or the warehouse reader hands in: weekly spend per channel, weekly
revenue, optional controls and lift tests. `build_design` screens it (a channel without spend,
with constant spend or spend in too few weeks is left out with a logged reason, as is a constant
or mostly missing control), adds trend and Fourier seasonality, standardises the controls, and
lays out the time-series CV folds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .spec import MMMSpec

Log = Callable[[str], None]
LIFT_TEST_COLUMNS = ("channel", "start_date", "end_date", "incremental_revenue", "spend",
                     "std_error", "measured_until")


class MMMInputError(ValueError):
    """The inputs cannot be modelled; the message says why and what would fix it."""


@dataclass(frozen=True)
class MMMData:
    """Weekly model inputs; every frame is indexed by the Monday of its week."""

    spend: pd.DataFrame  # weeks x channels
    revenue: pd.Series  # weeks
    controls: pd.DataFrame = field(default_factory=pd.DataFrame)  # weeks x controls
    lift_tests: pd.DataFrame = field(default_factory=pd.DataFrame)  # LIFT_TEST_COLUMNS
    country: str = "ALL"
    segment: str = "all"

    @property
    def weeks(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.revenue.index)

    @classmethod
    def from_wide(cls, frame: pd.DataFrame, *, week: str, revenue: str, channels: list[str],
                  controls: list[str] = (), lift_tests: pd.DataFrame | None = None,
                  country: str = "ALL", segment: str = "all") -> MMMData:
        """From one row per week: a week column, a revenue column, spend and control columns."""
        missing = [c for c in (week, revenue, *channels, *controls) if c not in frame.columns]
        if missing:
            raise MMMInputError(f"the frame lacks column(s) {', '.join(missing)}")
        indexed = frame.assign(**{week: pd.to_datetime(frame[week])}).set_index(week).sort_index()
        return cls(spend=indexed[list(channels)].astype(float),
                   revenue=indexed[revenue].astype(float),
                   controls=indexed[list(controls)].astype(float),
                   lift_tests=lift_tests if lift_tests is not None else pd.DataFrame(),
                   country=country, segment=segment)


@dataclass(frozen=True)
class Fold:
    train: slice
    test: slice


@dataclass(frozen=True)
class Design:
    """The standardised problem: y = intercept + media (from spend) + controls."""

    weeks: pd.DatetimeIndex
    channels: tuple[str, ...]
    spend: np.ndarray  # (T, C) raw weekly spend of the kept channels
    y: np.ndarray  # (T,) target / y_scale
    y_scale: float
    controls: np.ndarray  # (T, K) standardised (trend, Fourier, delivered controls)
    control_names: tuple[str, ...]
    control_center: np.ndarray  # (K,) to standardise new rows the same way
    control_scale: np.ndarray
    folds: tuple[Fold, ...]
    notes: tuple[str, ...]  # what was left out and why

    @property
    def n_weeks(self) -> int:
        return len(self.weeks)

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def n_params(self) -> int:
        """Coefficients: intercept, one per channel, one per control."""
        return 1 + self.n_channels + self.controls.shape[1]

    @property
    def constrained(self) -> np.ndarray:
        """Intercept and media coefficients are >= 0; controls take either sign."""
        mask = np.zeros(self.n_params, bool)
        mask[: 1 + self.n_channels] = True
        return mask

    @property
    def penalised(self) -> np.ndarray:
        mask = np.ones(self.n_params, bool)
        mask[0] = False
        return mask

    @property
    def revenue(self) -> np.ndarray:
        return self.y * self.y_scale


def build_design(data: MMMData, spec: MMMSpec, log: Log = print) -> Design:
    """Screen and standardise `data` into a Design; MMMInputError if nothing can be modelled."""
    notes: list[str] = []
    revenue, spend, controls = _aligned(data, spec, notes)
    channels = screen_channels(spend, spec.min_active_weeks, notes)
    if not channels:
        raise MMMInputError(
            f"no channel can be modelled for {data.country}/{data.segment}: "
            + "; ".join(notes or ["no spend columns"]))
    y = revenue.to_numpy(float)
    y_scale = float(np.std(y))
    if not np.isfinite(y_scale) or y_scale == 0.0:
        raise MMMInputError(f"revenue of {data.country}/{data.segment} is constant over the "
                            f"{len(y)} weeks: nothing for the media to explain")
    raw_controls = base_controls(revenue.index, spec).join(
        screen_controls(controls, spec, notes))
    kept = [c for c in raw_controls.columns if raw_controls[c].std(ddof=0) > 0]
    for name in raw_controls.columns.difference(kept, sort=False):
        notes.append(f"control {name}: constant over the modelled weeks; left out")
    matrix = raw_controls[kept].to_numpy(float)
    center, scale = matrix.mean(axis=0), matrix.std(axis=0)
    for note in notes:
        log(f"mmm {data.country}/{data.segment}: {note}")
    return Design(
        weeks=pd.DatetimeIndex(revenue.index), channels=tuple(channels),
        spend=spend[channels].to_numpy(float), y=y / y_scale, y_scale=y_scale,
        controls=(matrix - center) / scale, control_names=tuple(kept),
        control_center=center, control_scale=scale,
        folds=time_series_folds(len(y), spec.cv_train_weeks, spec.cv_test_weeks, spec.cv_window),
        notes=tuple(notes))


def _aligned(data: MMMData, spec: MMMSpec, notes: list[str]
             ) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
    """Revenue, spend and controls on the same weeks: the last `max_weeks` weeks from the
    first to the last week with revenue (weeks before sales data began are not zero sales)."""
    revenue = data.revenue.astype(float).sort_index()
    if revenue.isna().any():
        notes.append(f"{int(revenue.isna().sum())} week(s) without revenue left out")
        revenue = revenue.dropna()
    selling = revenue.index[revenue.to_numpy() != 0]
    if len(selling) == 0:
        raise MMMInputError(f"no revenue for {data.country}/{data.segment}: the mix model needs "
                            "POS or ERP revenue (CONTRACT.md) in the modelled weeks")
    revenue = revenue.loc[selling[0]: selling[-1]].iloc[-spec.max_weeks:]
    if len(revenue) < spec.min_weeks:
        raise MMMInputError(
            f"{data.country}/{data.segment} has {len(revenue)} week(s) of revenue; the mix "
            f"model needs at least {spec.min_weeks} (data.min_weeks in the spec)")
    spend = data.spend.reindex(revenue.index).astype(float)
    gaps = spend.isna().any(axis=1)
    if gaps.any():
        notes.append(f"{int(gaps.sum())} week(s) without spend rows counted as no spend")
        spend = spend.fillna(0.0)
    controls = data.controls.reindex(revenue.index) if not data.controls.empty else \
        pd.DataFrame(index=revenue.index)
    return revenue, spend, controls


def screen_channels(spend: pd.DataFrame, min_active_weeks: int, notes: list[str]) -> list[str]:
    """Channels that can be modelled; each one left out gets a note with the reason."""
    kept = []
    for channel in spend.columns:
        series = spend[channel].to_numpy(float)
        active = int((series > 0).sum())
        if (series < 0).any():
            notes.append(f"channel {channel}: negative spend in {int((series < 0).sum())} "
                         "week(s); left out (correct the spend extract)")
        elif active == 0:
            notes.append(f"channel {channel}: no spend in the modelled weeks; left out")
        elif np.ptp(series) == 0:
            notes.append(f"channel {channel}: the same spend every week; its effect cannot be "
                         "told from the baseline; left out")
        elif active < min_active_weeks:
            notes.append(f"channel {channel}: spend in only {active} week(s) "
                         f"(< {min_active_weeks}); left out")
        else:
            kept.append(str(channel))
    return kept


def screen_controls(controls: pd.DataFrame, spec: MMMSpec, notes: list[str]) -> pd.DataFrame:
    """Delivered controls the spec selects, gaps filled (events 0, levels carried)."""
    names = [c for c in controls.columns
             if (spec.controls_include is None or c in spec.controls_include)
             and c not in spec.controls_exclude]
    kept = {}
    for name in names:
        series = controls[name].astype(float)
        missing = float(series.isna().mean())
        if missing > spec.controls_max_missing_share:
            notes.append(f"control {name}: missing in {missing:.0%} of the weeks; left out")
            continue
        # Counts are 0 where nothing happened; levels (macro, prices) carry over.
        kept[name] = series.fillna(0.0) if _is_count(name) else series.ffill().bfill()
    return pd.DataFrame(kept, index=controls.index)


def _is_count(name: str) -> bool:
    return name.endswith("_days") or name.startswith("promo_") or name.startswith("event")


def base_controls(weeks: pd.Index, spec: MMMSpec) -> pd.DataFrame:
    """Trend and yearly Fourier terms k = 1..order, aligned to the calendar."""
    weeks = pd.DatetimeIndex(weeks)
    frame = pd.DataFrame(index=weeks)
    if spec.trend:
        frame["trend"] = np.arange(len(weeks), dtype=float)
    years = (weeks - pd.Timestamp("1970-01-01")).days.to_numpy(float) / 365.25
    for k in range(1, spec.fourier_order + 1):
        frame[f"sin_{k}"] = np.sin(2 * np.pi * k * years)
        frame[f"cos_{k}"] = np.cos(2 * np.pi * k * years)
    return frame


def time_series_folds(n_weeks: int, train: int, test: int, window: str) -> tuple[Fold, ...]:
    """Rolling-origin folds whose last test window ends at the last week.

    expanding: train on every week before the origin (at least `train`); sliding: the
    `train` weeks before it.
    """
    count = (n_weeks - train) // test
    if count < 1:
        raise MMMInputError(f"{n_weeks} weeks are too few for one CV fold of {train} training "
                            f"and {test} test weeks (cv in the spec)")
    folds = []
    for k in range(count):
        origin = n_weeks - (count - k) * test
        start = 0 if window == "expanding" else origin - train
        folds.append(Fold(slice(start, origin), slice(origin, origin + test)))
    return tuple(folds)
