"""Time-based backtest of the satisfaction model, its baselines, and the model that ships.

The labelled interactions (closed, rated, opened before the settle window) are split by the day
they opened: the earliest train the base classifier, the next `calibration_weeks` calibrate it,
the latest `holdout_weeks` test it. Tests are on scoring moments (the interaction at each day
end it was open), the rows the daily scoring sees; `at_open_roc_auc` also ranks every test
interaction at its opening.

Baselines it must beat on the same test rows (Brier score, lower is better):
- `base_rate`: everyone gets the training moments' share of low ratings;
- `one_feature`: the share of low ratings per bin of the single feature whose lookup scores the
  calibration moments best (its name is in the metrics).

The model that ships is refitted on everything before the latest `calibration_weeks` and
calibrated on them, with the candidate kind chosen here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from .satisfaction_data import AT_OPEN, HOURS_OPEN, LABEL, NUMERIC, scoring_moments
from .satisfaction_model import KINDS, OpenCalibrator, SatisfactionClassifier, SatisfactionModel
from .satisfaction_spec import SatisfactionSpec

Log = Callable[[str], None]
RULE_BINS = 5


@dataclass
class Split:
    """Labelled interactions by period, and the scoring moments of the later two."""

    train: pd.DataFrame
    calibration: pd.DataFrame
    test: pd.DataFrame
    calibration_moments: pd.DataFrame
    test_moments: pd.DataFrame
    train_moments: pd.DataFrame


def split_by_time(rows: pd.DataFrame, spec: SatisfactionSpec) -> Split:
    """Train / calibration / test by opened date (the test is the latest `holdout_weeks`)."""
    model = spec.section("model")
    opened = pd.to_datetime(rows.opened_date)
    test_start = opened.max() - pd.Timedelta(weeks=int(model["holdout_weeks"])) + pd.Timedelta(
        days=1)
    calibration_start = test_start - pd.Timedelta(weeks=int(model["calibration_weeks"]))
    train = rows[opened < calibration_start]
    calibration = rows[(opened >= calibration_start) & (opened < test_start)]
    test = rows[opened >= test_start]
    days = int(model["max_open_days"])
    return Split(train, calibration, test, scoring_moments(calibration, days),
                 scoring_moments(test, days), scoring_moments(train, days))


def fit_model(train: pd.DataFrame, calibration_moments: pd.DataFrame, kind: str,
              spec: SatisfactionSpec) -> SatisfactionModel:
    """The base classifier fitted on `train`, calibrated on `calibration_moments`."""
    model = spec.section("model")
    params = {k: model[k] for k in ("num_leaves", "learning_rate", "n_estimators",
                                    "min_child_samples", "regularization", "seed")}
    classifier = SatisfactionClassifier(kind=kind, **params).fit(train, train[LABEL])
    calibrator = OpenCalibrator(bool(model["use_hours_open"])).fit(
        classifier.logit(calibration_moments), calibration_moments[HOURS_OPEN],
        calibration_moments[LABEL])
    return SatisfactionModel(classifier, calibrator)


def backtest(rows: pd.DataFrame, spec: SatisfactionSpec, log: Log = print
             ) -> tuple[dict[str, Any], Split]:
    """Metrics of every candidate kind and the baselines on the test moments; the chosen kind
    is the one that ranks the calibration interactions best (calibration does not reorder)."""
    split = split_by_time(rows, spec)
    model = spec.section("model")
    wanted = KINDS if model["kind"] == "auto" else (model["kind"],)
    metrics: dict[str, Any] = _windows(rows, split)
    enough = min(len(split.calibration_moments), len(split.test_moments)) >= int(
        model["min_scored_rows"])
    if split.train.empty or not enough:
        log(f"satisfaction backtest: too few scoring moments to calibrate and test "
            f"({len(split.calibration_moments)} and {len(split.test_moments)}; need "
            f"{model['min_scored_rows']} each)")
        return {**metrics, "kind": wanted[0], "candidates": {}}, split
    y_test = split.test_moments[LABEL].to_numpy()
    candidates, fitted = {}, {}
    for kind in wanted:
        found = fit_model(split.train, split.calibration_moments, kind, spec)
        fitted[kind] = found
        candidates[kind] = {
            "calibration_roc_auc": _auc(split.calibration[LABEL],
                                        found.classifier.logit(split.calibration)),
            **_scores(y_test, found.predict(split.test_moments), spec),
        }
    kind = max(candidates, key=lambda k: _or(candidates[k]["calibration_roc_auc"], -1.0))
    chosen = fitted[kind]
    metrics.update({"kind": kind, "candidates": candidates, **candidates[kind]})
    metrics["at_open_roc_auc"] = _auc(split.test[LABEL], chosen.classifier.logit(split.test))
    metrics.update(_hours_open_effect(chosen, split, spec))
    metrics.update(_baselines(split, y_test))
    metrics["importance"] = importance(chosen, split.test_moments)
    metrics["test_positive_rate"] = float(np.mean(y_test)) if len(y_test) else None
    return metrics, split


def final_model(rows: pd.DataFrame, kind: str, spec: SatisfactionSpec) -> SatisfactionModel:
    """The shipped model: refitted on everything before the latest calibration weeks."""
    model = spec.section("model")
    opened = pd.to_datetime(rows.opened_date)
    start = opened.max() - pd.Timedelta(weeks=int(model["calibration_weeks"])) + pd.Timedelta(
        days=1)
    moments = scoring_moments(rows[opened >= start], int(model["max_open_days"]))
    train = rows[opened < start]
    if train.empty or len(moments) < int(model["min_scored_rows"]) or moments[LABEL].nunique() < 2:
        # Too few recent moments to calibrate on: calibrate on every moment instead.
        train, moments = rows, scoring_moments(rows, int(model["max_open_days"]))
    return fit_model(train, moments, kind, spec)


def score_on(model: SatisfactionModel, moments: pd.DataFrame, spec: SatisfactionSpec
             ) -> dict[str, Any]:
    """The scores of `model` on `moments` (e.g. the champion on this run's test)."""
    return _scores(moments[LABEL].to_numpy(), model.predict(moments), spec)


def importance(model: SatisfactionModel, moments: pd.DataFrame) -> dict[str, float]:
    """Mean absolute log-odds contribution of each feature on `moments`, largest first."""
    if moments.empty:
        return {}
    found = model.contributions(moments).abs().mean().sort_values(ascending=False)
    return {name: round(float(v), 4) for name, v in found.items()}


def _scores(y: np.ndarray, p: np.ndarray, spec: SatisfactionSpec) -> dict[str, Any]:
    threshold = float(spec.section("risk_levels")["high"])
    flagged = p >= threshold
    hits = float(np.sum(flagged & (y == 1)))
    return {
        "roc_auc": _auc(y, p),
        "pr_auc": float(average_precision_score(y, p)) if _both_classes(y) else None,
        "brier": float(brier_score_loss(y, p, labels=[0, 1])) if len(y) else None,
        "threshold": threshold,
        "precision_at_threshold": hits / float(flagged.sum()) if flagged.sum() else None,
        "recall_at_threshold": hits / float(np.sum(y == 1)) if np.sum(y == 1) else None,
        "flagged_share": float(flagged.mean()) if len(y) else None,
    }


def _hours_open_effect(chosen: SatisfactionModel, split: Split, spec: SatisfactionSpec
                       ) -> dict[str, Any]:
    """The same base model calibrated the other way: with hours open if it was without, and
    without if with. Says whether the hours open so far help."""
    other = OpenCalibrator(not chosen.calibrator.use_hours_open).fit(
        chosen.classifier.logit(split.calibration_moments),
        split.calibration_moments[HOURS_OPEN], split.calibration_moments[LABEL])
    alternative = SatisfactionModel(chosen.classifier, other)
    found = score_on(alternative, split.test_moments, spec)
    label = "with" if other.use_hours_open else "without"
    return {f"roc_auc_{label}_hours_open": found["roc_auc"],
            f"brier_{label}_hours_open": found["brier"],
            "hours_open_weight": chosen.calibrator.hours_weight if chosen.calibrator.use_hours_open
            else other.hours_weight}


def _baselines(split: Split, y_test: np.ndarray) -> dict[str, Any]:
    reference = split.train_moments if not split.train_moments.empty else split.calibration_moments
    rate = float(reference[LABEL].mean())
    out = {"baseline_rate": rate,
           "base_rate_brier": float(brier_score_loss(y_test, np.full(len(y_test), rate),
                                                     labels=[0, 1]))}
    best = None
    for feature in (*AT_OPEN, HOURS_OPEN):
        rule = _one_feature_rule(reference, feature, rate)
        brier = brier_score_loss(split.calibration_moments[LABEL],
                                 rule(split.calibration_moments), labels=[0, 1])
        if best is None or brier < best[1]:
            best = (feature, brier, rule)
    feature, _, rule = best
    out.update({"one_feature": feature,
                "one_feature_brier": float(brier_score_loss(y_test, rule(split.test_moments),
                                                            labels=[0, 1])),
                "one_feature_roc_auc": _auc(y_test, rule(split.test_moments))})
    return out


def _one_feature_rule(rows: pd.DataFrame, feature: str, rate: float
                      ) -> Callable[[pd.DataFrame], np.ndarray]:
    """Share of low ratings per value (category) or quantile bin (number) of `feature`."""
    if feature in (*NUMERIC, HOURS_OPEN):
        values = rows[feature].astype("float64")
        edges = np.unique(np.nanquantile(values, np.linspace(0, 1, RULE_BINS + 1))[1:-1]) \
            if values.notna().any() else np.array([])

        def keys(frame: pd.DataFrame) -> pd.Series:
            v = frame[feature].astype("float64")
            return pd.Series(np.searchsorted(edges, v, side="right"), index=frame.index).where(
                v.notna(), -1)
    else:
        def keys(frame: pd.DataFrame) -> pd.Series:
            return frame[feature].astype("string").fillna("")
    shares = rows[LABEL].groupby(keys(rows)).mean()
    return lambda frame: keys(frame).map(shares).fillna(rate).to_numpy(dtype=float)


def _windows(rows: pd.DataFrame, split: Split) -> dict[str, Any]:
    def span(part: pd.DataFrame) -> list[str | None]:
        if part.empty:
            return [None, None]
        opened = pd.to_datetime(part.opened_date)
        return [str(opened.min().date()), str(opened.max().date())]

    return {"data_start": span(rows)[0], "train_window": span(split.train),
            "calibration_window": span(split.calibration), "test_window": span(split.test),
            "n_train": len(split.train), "n_calibration": len(split.calibration),
            "n_test": len(split.test), "n_calibration_moments": len(split.calibration_moments),
            "n_test_moments": len(split.test_moments)}


def _auc(y: Any, scores: Any) -> float | None:
    y = np.asarray(y, dtype=float)
    return float(roc_auc_score(y, scores)) if _both_classes(y) else None


def _both_classes(y: np.ndarray) -> bool:
    return len(np.unique(np.asarray(y)[~np.isnan(np.asarray(y, dtype=float))])) == 2


def _or(value: float | None, default: float) -> float:
    return default if value is None else value
