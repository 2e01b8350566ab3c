"""The lift model in the model registry: model `promo_lift`, one version per training run.

Each version holds the lift model as JSON (`model.json`: its LightGBM boosters as model
strings, a few hundred kB) and the store-level counterfactual model fitted on the same data
(`counterfactual.pkl`), so scoring, the daily lift monitor and `liftline promo whatif` all use
the champion and the monitor never refits the counterfactual.

Promotion is decided on the holdout MAE of the lift (points). Every training run fits each
candidate kind on the same time-based split, so the champion's kind is scored on the same
holdout; the same kind retrained under the same spec is a refresh of the champion.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Engine

from liftline import registry
from liftline.modeling import profile_inputs, spec_hash

from .model import LiftModel
from .spec import PromoSpec

MODEL_NAME = "promo_lift"
MODEL_FILE = "model.json"
COUNTERFACTUAL_FILE = "counterfactual.pkl"
# The promotion x store terms whose drift the monitor watches (feat_promo_effectiveness),
# over the promotions started in the last quarter (a month holds too few to compare). The
# structural counts (SKUs covered, overlapping promotions) come in bursts that no quarter of
# history predicts, so they are left out.
PROFILED_INPUTS = ("discount_pct", "duration_days", "baseline_units_per_day", "promo_type",
                   "category")
PROFILE_WINDOW_DAYS = 91


def save_lift_model(engine: Engine, run_id: str, model: LiftModel, spec: PromoSpec,
                    as_of: Any, store_model: Any = None, log=print,  # noqa: ANN001
                    terms: pd.DataFrame | None = None) -> registry.Version:
    """Register `model` (and the counterfactual store model), trained on facts up to `as_of`,
    as a version of promo_lift. `terms`: the feat_promo_effectiveness rows of the promotions
    started by `as_of`, whose inputs the card profiles for the drift monitor (all of them, not
    only the measured ones it learned from: the monitor compares them with every promotion
    started since, and the measured subset differs from those by selection alone)."""
    metrics = model.metrics
    current = registry.champion(engine, MODEL_NAME)
    config = {"kind": model.kind, "spec": spec_hash(spec.section("model"))}
    champion_config = current.card().params if current else None
    candidates = metrics.get("candidates", {})
    same_window = (candidates.get(champion_config.get("kind"), {}).get("mae_pp")
                   if champion_config else None)
    is_baseline = model.kind not in candidates
    card = registry.ModelCard(
        model=MODEL_NAME, family=MODEL_NAME, run_id=run_id, metric="mae_pp",
        score=metrics.get("mae_pp", metrics.get("baseline_mae_pp")),
        baseline="category_mean",
        baseline_score=None if is_baseline else metrics.get("baseline_mae_pp"),
        backtest_window={k: metrics.get(k) for k in ("holdout_start", "holdout_end",
                                                     "n_holdout_promos", "n_train_promos")},
        data_start=_text(metrics.get("data_start")), data_end=_text(as_of),
        metrics=_headline(metrics), params=config, spec_hash=config["spec"],
        inputs=_input_profile(terms))
    files = {MODEL_FILE: model.to_json()}
    if store_model is not None:
        files[COUNTERFACTUAL_FILE] = store_model
    version = registry.register(engine, card, files, same_window, spec.lifecycle, log,
                                refresh=champion_config == config)
    model.version = version.version
    return version


def load_lift_model(engine: Engine, as_of: Any = None) -> LiftModel | None:
    """The champion lift model at `as_of` (default: now), or None when none was promoted."""
    found = registry.champion(engine, MODEL_NAME, as_of)
    if found is None:
        return None
    return LiftModel.from_json(found.load(MODEL_FILE), version=found.version)


def load_counterfactual(engine: Engine, as_of: Any = None) -> Any:
    """The champion's counterfactual store model, or None (not registered: fit one)."""
    found = registry.champion(engine, MODEL_NAME, as_of)
    if found is None:
        return None
    try:
        return found.load(COUNTERFACTUAL_FILE)
    except FileNotFoundError:
        return None


def _input_profile(rows: pd.DataFrame | None) -> dict[str, Any]:
    if rows is None or rows.empty:
        return {}
    return profile_inputs(rows, PROFILED_INPUTS, table="feat_promo_effectiveness",
                          date_column="start_date", window_days=PROFILE_WINDOW_DAYS)


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """What a registry reader wants at a glance; the per-promotion table stays in the file."""
    return {k: v for k, v in metrics.items() if k != "holdout_promotions"}


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)[:10]
