"""Promotion lift against the truth.

Two questions, one row each per promotion the truth knows:
- prediction: `predicted_lift_pct` (frozen when the promotion started, or the what-if of a
  planned one) against the truth's `true_lift_pct`, the lift the world applied: MAE in lift
  points, bias, and how often the prediction interval holds the truth. The baseline predicts
  each promotion with the mean measured lift of the other promotions of its category
  (leave-one-out, all promotions when the category has no other).
- measurement: `actual_lift_pct`, what the monitor measured against its counterfactual,
  against `realized_lift_pct`, the lift the world's sales realised over the window.
The oracle is the realised lift taken as the prediction: one window's sales noise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from .result import absent, evaluated, not_evaluated, number, output_rows, share
from .truth import Truth

TABLE = "ml_promo_lift"


def evaluate_promo_lift(engine: Engine, truth: Truth) -> dict[str, Any]:
    promos = truth.frame("promotions.csv")
    if promos is None:
        return not_evaluated(truth.missing("promotions.csv"))
    lift = output_rows(engine, TABLE)
    reason = absent(TABLE, lift)
    if reason:
        return not_evaluated(reason)
    lift = lift.assign(baseline_lift_pct=leave_one_out_category_mean(lift))
    rows = lift.merge(promos[["promo_id", "true_lift_pct", "realized_lift_pct"]], on="promo_id")
    predicted = rows.dropna(subset=["predicted_lift_pct", "true_lift_pct"])
    if predicted.empty:
        return not_evaluated(f"no promotion of {TABLE} with a predicted lift is in the truth")
    prediction = lift_errors(predicted, "predicted_lift_pct", "true_lift_pct",
                             ("predicted_lift_lower", "predicted_lift_upper"))
    baseline = lift_errors(predicted.dropna(subset=["baseline_lift_pct"]), "baseline_lift_pct",
                           "true_lift_pct")
    kinds = predicted.get("prediction_kind", pd.Series(None, index=predicted.index))
    # A backfilled prediction may come from a model that saw the promotion; a frozen or
    # what-if one did not: each kind beside the baseline on the same promotions.
    by_kind = {str(kind): lift_errors(part, "predicted_lift_pct", "true_lift_pct",
                                      ("predicted_lift_lower", "predicted_lift_upper"))
               | {"baseline_mae_pp": lift_errors(part.dropna(subset=["baseline_lift_pct"]),
                                                 "baseline_lift_pct", "true_lift_pct"
                                                 ).get("mae_pp")}
               for kind, part in predicted.groupby(kinds.fillna("unknown"))}
    measured = rows.dropna(subset=["actual_lift_pct", "realized_lift_pct"])
    measurement = lift_errors(measured, "actual_lift_pct", "realized_lift_pct",
                              ("actual_lift_lower", "actual_lift_upper")) if len(measured) \
        else {"promotions": 0}
    score, base = prediction["mae_pp"], baseline.get("mae_pp")
    verdict = "beats baseline" if base is not None and score < base else "does not beat baseline"
    if prediction.get("coverage") is not None:
        verdict += (f", interval ({prediction['interval_width_pp']:.0f} pp wide) holds truth "
                    f"{prediction['coverage']:.0%}")
    # The realised lift strays from the world's lift by the sales noise of one window: no
    # prediction learnt from measured promotions can be expected to come closer than that.
    noise = lift_errors(predicted.dropna(subset=["realized_lift_pct"]), "realized_lift_pct",
                        "true_lift_pct")
    return evaluated("MAE lift pp", score, base, noise.get("mae_pp"), verdict,
                     prediction=prediction, oracle_prediction=noise | {
                         "name": "realised lift as the prediction (one window's noise)"},
                     baseline_prediction=baseline | {
                         "name": "category mean of the other promotions' measured lift"},
                     by_prediction_kind=by_kind, measurement=measurement)


def lift_errors(rows: pd.DataFrame, estimate: str, truth: str,
                interval: tuple[str, str] | None = None) -> dict[str, Any]:
    """MAE and bias in lift points of `estimate` against `truth`, and the interval's coverage."""
    if rows.empty:
        return {"promotions": 0}
    error = rows[estimate].astype(float) - rows[truth].astype(float)
    out: dict[str, Any] = {"promotions": len(rows), "mae_pp": float(error.abs().mean()),
                           "bias_pp": float(error.mean()),
                           "median_abs_error_pp": float(error.abs().median())}
    if interval and set(interval) <= set(rows.columns):
        bounded = rows.dropna(subset=list(interval))
        lower, upper = bounded[interval[0]], bounded[interval[1]]
        held = (bounded[truth] >= lower) & (bounded[truth] <= upper)
        out["coverage"] = share(held) if len(bounded) else None
        out["interval_width_pp"] = number((upper - lower).mean()) if len(bounded) else None
    return out


def leave_one_out_category_mean(lift: pd.DataFrame) -> pd.Series:
    """Per promotion, the mean measured lift of the other measured promotions of its
    category; of all others when its category has none (the naive baseline)."""
    measured = lift["actual_lift_pct"].astype(float)
    has = measured.notna()
    value = measured.fillna(0.0)
    category = lift["category"].fillna("") if "category" in lift else pd.Series("", lift.index)
    cat_sum = value.groupby(category).transform("sum") - value
    cat_count = has.groupby(category).transform("sum") - has
    all_sum, all_count = value.sum() - value, has.sum() - has
    by_category = cat_sum / cat_count.where(cat_count > 0)
    overall = all_sum / all_count.where(all_count > 0)
    return by_category.fillna(overall).astype(float).replace([np.inf, -np.inf], np.nan)
