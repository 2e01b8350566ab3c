"""The satisfaction model in the model registry: model `satisfaction`, one version per training.

A version holds the fitted model (`model.pkl`: the base classifier and its calibration) and a
card whose metrics are the backtest's. Promotion is decided on the test moments' Brier score;
the current champion's kind is refitted on the same split (the backtest fits every candidate),
so it is compared on the same window, and the same kind retrained under the same spec is a
refresh of the champion.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from liftline import registry
from liftline.modeling import profile_inputs, spec_hash

from .satisfaction_data import AT_OPEN
from .satisfaction_model import SatisfactionModel
from .satisfaction_spec import SatisfactionSpec

MODEL_NAME = "satisfaction"
MODEL_FILE = "model.pkl"
# The drift monitor reads the same columns from the feature table, by opened date; hours open
# is not a column there, so it is left out.
PROFILED_INPUTS = tuple(c for c in AT_OPEN if c != "days_since_previous_contact")


def save_model(engine: Engine, run_id: str, model: SatisfactionModel, spec: SatisfactionSpec,
               as_of: date, rows: pd.DataFrame, log=print) -> registry.Version:  # noqa: ANN001
    """Register `model` (its metrics are the backtest's) trained on facts up to `as_of`;
    `rows` are the labelled interactions it learned from (their inputs are profiled)."""
    metrics = model.metrics
    current = registry.champion(engine, MODEL_NAME)
    config = {"kind": model.kind, "spec": spec_hash(spec.section("model"))}
    champion_config = current.card().params if current else None
    champion_score = None
    if champion_config:
        champion_score = metrics.get("candidates", {}).get(
            champion_config.get("kind"), {}).get("brier")
    baseline, baseline_score = _stronger_baseline(metrics)
    card = registry.ModelCard(
        model=MODEL_NAME, family=MODEL_NAME, run_id=run_id, metric="brier",
        score=metrics.get("brier"), baseline=baseline, baseline_score=baseline_score,
        backtest_window={k: metrics.get(k) for k in ("train_window", "calibration_window",
                                                     "test_window", "n_test",
                                                     "n_test_moments")},
        data_start=metrics.get("data_start"), data_end=str(as_of), metrics=metrics,
        params={**config, "use_hours_open": model.calibrator.use_hours_open},
        spec_hash=config["spec"], inputs=_input_profile(rows))
    version = registry.register(engine, card, {MODEL_FILE: model}, champion_score,
                                spec.lifecycle, log,
                                refresh=bool(champion_config) and champion_config.get(
                                    "kind") == config["kind"]
                                and champion_config.get("spec") == config["spec"])
    model.version = version.version
    return version


def load_model(engine: Engine, as_of: Any = None) -> SatisfactionModel | None:
    """The champion at `as_of` (default: now), or None when none was promoted."""
    found = registry.champion(engine, MODEL_NAME, as_of)
    if found is None:
        return None
    model = found.load(MODEL_FILE)
    model.version = found.version
    return model


def _stronger_baseline(metrics: dict[str, Any]) -> tuple[str, float | None]:
    """The baseline with the lower test Brier score (base rate or the one-feature rule)."""
    found = [(f"one_feature:{metrics.get('one_feature')}", metrics.get("one_feature_brier")),
             ("base_rate", metrics.get("base_rate_brier"))]
    known = [pair for pair in found if pair[1] is not None]
    return min(known, key=lambda pair: pair[1]) if known else ("base_rate", None)


def _input_profile(rows: pd.DataFrame) -> dict[str, Any]:
    if rows.empty:
        return {}
    return profile_inputs(rows, PROFILED_INPUTS, table="feat_service_interaction",
                          date_column="opened_date")

