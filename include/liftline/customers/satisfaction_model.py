"""The low-satisfaction classifier: a class-weighted base model of what is known at opening,
and a Platt calibration fitted on scoring moments that may add the hours open so far.

- `SatisfactionClassifier` (LightGBM or logistic regression) learns from every labelled
  interaction as it stood when it opened. Classes are weighted (balanced), so its raw scores
  rank well but are not probabilities.
- `OpenCalibrator` maps the base model's log-odds (and, when enabled, log(1 + hours open)) to
  a probability with a logistic regression fitted on the scoring moments of a later time slice:
  the population the daily scoring sees (interactions still open at a day's end).
- `SatisfactionModel` is the pair, with `reasons`: the features that raise an interaction's
  risk most, read from the base model's per-feature log-odds contributions (LightGBM's
  `pred_contrib`, the logistic regression's standardised terms) scaled by the calibration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from liftline.modeling import Estimator

from .satisfaction_data import AT_OPEN, CATEGORICAL, HOURS_OPEN, NUMERIC

KINDS = ("lightgbm", "logistic")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class SatisfactionClassifier(Estimator):
    """P(rating <= 2) from the at-opening features; `kind` is lightgbm or logistic."""

    name = "satisfaction"

    def __init__(self, kind: str = "lightgbm", num_leaves: int = 7, learning_rate: float = 0.03,
                 n_estimators: int = 300, min_child_samples: int = 20,
                 regularization: float = 1.0, seed: int = 7) -> None:
        self.kind = kind
        self.num_leaves = num_leaves
        self.learning_rate = learning_rate
        self.n_estimators = n_estimators
        self.min_child_samples = min_child_samples
        self.regularization = regularization
        self.seed = seed

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> SatisfactionClassifier:
        if self.kind not in KINDS:
            raise ValueError(f"unknown satisfaction model kind {self.kind!r}: use one of {KINDS}")
        y = np.asarray(y, dtype=int)
        self.categories_ = {c: sorted(frame[c].dropna().astype(str).unique())
                            for c in CATEGORICAL}
        if self.kind == "lightgbm":
            self.model_ = lgb.LGBMClassifier(
                num_leaves=int(self.num_leaves), learning_rate=float(self.learning_rate),
                n_estimators=int(self.n_estimators),
                min_child_samples=int(self.min_child_samples), class_weight="balanced",
                subsample=0.8, subsample_freq=1, colsample_bytree=0.9,
                random_state=int(self.seed), n_jobs=1, verbose=-1)
            self.model_.fit(self._tree_design(frame), y)
        else:
            design = self._linear_design(frame, learn=True)
            self.model_ = LogisticRegression(C=float(self.regularization),
                                             class_weight="balanced", max_iter=2000)
            self.model_.fit(design.to_numpy(), y)
        return self

    def logit(self, frame: pd.DataFrame) -> np.ndarray:
        """The base model's log-odds (class-weighted: ranks, not probabilities)."""
        if self.kind == "lightgbm":
            return self.model_.predict(self._tree_design(frame), raw_score=True)
        return self.model_.decision_function(self._linear_design(frame).to_numpy())

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per at-opening feature, its share of each row's log-odds (relative to the average)."""
        if self.kind == "lightgbm":
            values = self.model_.predict(self._tree_design(frame), pred_contrib=True)
            return pd.DataFrame(values[:, :-1], columns=list(AT_OPEN), index=frame.index)
        design = self._linear_design(frame)
        terms = design * self.model_.coef_[0]
        source = [name.split("=")[0].removeprefix("missing:") for name in design.columns]
        return terms.T.groupby(source).sum().T.reindex(columns=list(AT_OPEN), fill_value=0.0)

    def _tree_design(self, frame: pd.DataFrame) -> pd.DataFrame:
        numbers = frame[list(NUMERIC)].astype("float64")
        categories = {c: pd.Categorical(frame[c].astype("string"), categories=self.categories_[c])
                      for c in CATEGORICAL}
        return numbers.assign(**categories)[list(AT_OPEN)]

    def _linear_design(self, frame: pd.DataFrame, learn: bool = False) -> pd.DataFrame:
        """Numbers with missing-value flags (medians filled in), one-hot categories, all
        standardised with the training mean and spread."""
        numbers = frame[list(NUMERIC)].astype("float64")
        if learn:
            self.medians_ = numbers.median().fillna(0.0)
            self.flagged_ = [c for c in NUMERIC if numbers[c].isna().any()]
        parts = [numbers.fillna(self.medians_)]
        parts.append(pd.DataFrame({f"missing:{c}": numbers[c].isna().astype(float)
                                   for c in self.flagged_}, index=frame.index))
        for column in CATEGORICAL:
            text = frame[column].astype("string")
            parts.append(pd.DataFrame({f"{column}={v}": (text == v).fillna(False).astype(float)
                                       for v in self.categories_[column]}, index=frame.index))
        design = pd.concat(parts, axis=1)
        if learn:
            self.means_ = design.mean()
            self.scales_ = design.std().replace(0.0, 1.0).fillna(1.0)
        return (design - self.means_) / self.scales_


class OpenCalibrator:
    """Platt scaling of the base log-odds, with log(1 + hours open) as a second input when
    `use_hours_open`: p = sigmoid(a + b * base_logit [+ c * log1p(hours_open)])."""

    def __init__(self, use_hours_open: bool = True) -> None:
        self.use_hours_open = use_hours_open

    def fit(self, base_logit: np.ndarray, hours_open: np.ndarray, y: np.ndarray
            ) -> OpenCalibrator:
        design = self._design(base_logit, hours_open)
        # Nearly unpenalised: two or three coefficients on hundreds of rows.
        self.model_ = LogisticRegression(C=1e4, max_iter=1000).fit(design, np.asarray(y, int))
        self.hours_mean_ = float(np.mean(np.log1p(hours_open))) if len(hours_open) else 0.0
        return self

    def logit(self, base_logit: np.ndarray, hours_open: np.ndarray) -> np.ndarray:
        return self.model_.decision_function(self._design(base_logit, hours_open))

    @property
    def slope(self) -> float:
        return float(self.model_.coef_[0][0])

    @property
    def hours_weight(self) -> float:
        return float(self.model_.coef_[0][1]) if self.use_hours_open else 0.0

    def _design(self, base_logit: np.ndarray, hours_open: np.ndarray) -> np.ndarray:
        columns = [np.asarray(base_logit, dtype=float)]
        if self.use_hours_open:
            columns.append(np.log1p(np.asarray(hours_open, dtype=float)))
        return np.column_stack(columns)


@dataclass
class SatisfactionModel:
    """The base classifier and its calibration: what the registry stores and scoring uses."""

    classifier: SatisfactionClassifier
    calibrator: OpenCalibrator
    metrics: dict[str, Any] = field(default_factory=dict)
    version: str | None = None

    @property
    def kind(self) -> str:
        return self.classifier.kind

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """P(low satisfaction) of each scoring moment (needs `hours_open`)."""
        logit = self.calibrator.logit(self.classifier.logit(frame), frame[HOURS_OPEN])
        return 1 / (1 + np.exp(-logit))

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Each feature's part of the calibrated log-odds, hours open included."""
        parts = self.classifier.contributions(frame) * self.calibrator.slope
        hours = np.log1p(frame[HOURS_OPEN].to_numpy(dtype=float))
        return parts.assign(**{HOURS_OPEN: self.calibrator.hours_weight
                               * (hours - self.calibrator.hours_mean_)})

    def reasons(self, frame: pd.DataFrame, top: int = 3) -> list[list[str]]:
        """Per row, the `top` features that raise its risk most, in words (only raising ones)."""
        parts = self.contributions(frame)
        found = []
        for (_, row), (_, values) in zip(frame.iterrows(), parts.iterrows(), strict=True):
            raising = values[values > 0].sort_values(ascending=False).head(top)
            found.append([describe(name, row[name]) for name in raising.index])
        return found


def describe(feature: str, value: Any) -> str:
    """A feature and its value as a support lead would say it."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return {"prior_mean_rating": "no earlier rating", "prior_low_share": "no earlier rating",
                "last_order_days_late": "no recent order",
                "days_since_previous_contact": "first contact"}.get(feature, f"{feature} unknown")
    texts = {
        "interaction_type": lambda v: f"{str(v).replace('_', ' ')} contact",
        "channel": lambda v: f"via {v}",
        "repeat_contact_30d": lambda v: ("repeat contact within 30 days" if v
                                         else "first contact in 30 days"),
        "prior_contacts": lambda v: f"{int(v)} earlier contact(s)",
        "prior_mean_rating": lambda v: f"earlier ratings average {float(v):.1f}",
        "prior_low_share": lambda v: f"{float(v):.0%} of earlier ratings low",
        "order_value_30d": lambda v: f"orders of {float(v):,.0f} in the 30 days before",
        "last_order_days_late": lambda v: (f"last order {float(v):.0f} day(s) late" if v > 0
                                           else "last order on time"),
        "days_since_previous_contact": lambda v: f"previous contact {float(v):.0f} day(s) before",
        "hour": lambda v: f"opened at {int(v):02d}:00",
        "weekday": lambda v: f"opened on a {WEEKDAYS[int(v) % 7]}",
        HOURS_OPEN: lambda v: f"open {float(v):.0f} h so far",
    }
    return texts[feature](value) if feature in texts else f"{feature} = {value}"
