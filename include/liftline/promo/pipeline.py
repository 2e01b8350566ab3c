"""The promotion-lift stage as the DAGs call it: train weekly, score daily.

- `train_promo_lift`: measure every promotion that has ended (its lift against the
  counterfactual baseline, per store), train the lift model on them with a time-based holdout,
  and register it (with the counterfactual store model) as a version of `promo_lift` in the
  model registry; it becomes champion only if it earns it (artifacts.py).
- `score_promotions`: with the champion, predict every promotion's lift (what-if while it
  is planned; frozen from its start), write ml_promo_lift's prediction columns, and write this
  run's recommendations to ml_promo_recommendations.

Both return a summary dict and `status: skipped` (reason logged) when there is nothing to do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, delete

from liftline.modeling import resolve_as_of
from liftline.registry import register_skipped
from liftline.warehouse import append_audit, bulk_insert, table, write_transaction

from .artifacts import MODEL_NAME, load_lift_model, save_lift_model
from .counterfactual import fit_counterfactual_model
from .inputs import promotion_terms
from .lift_table import (
    PREDICTION_COLUMNS,
    current_rows,
    freeze_started,
    plan_prediction_updates,
    write_rows,
)
from .measure import measure_promotions
from .model import LiftEstimator, LiftModel
from .recommend import recommend_promotions
from .spec import PromoSpec, load_spec

Log = Callable[[str], None]


def train_promo_lift(engine: Engine, run_id: str, as_of: date | str | None = None,
                     spec: PromoSpec | None = None, log: Log = print) -> dict[str, Any]:
    """Measure the finished promotions, train and keep the lift model; returns its metrics."""
    started = time.perf_counter()
    spec = spec or load_spec()
    as_of = resolve_as_of(engine, as_of, log)
    if as_of is None:
        log("promo lift training skipped: no sales features yet (deliver pos and promotions)")
        return {"status": "skipped", "reason": "no sales features"}
    store_model = fit_counterfactual_model(engine, as_of)
    measured = training_rows(engine, as_of, spec, log, store_model)
    if measured.empty:
        log("promo lift training skipped: no promotion has ended and been measured yet")
        register_skipped(engine, MODEL_NAME, run_id, "no finished promotion")
        return {"status": "skipped", "reason": "no finished promotion"}
    model = LiftEstimator(spec, log).fit(measured).model_
    version = save_lift_model(engine, run_id, model, spec, as_of, store_model, log,
                              promotion_terms(engine, as_of))
    seconds = round(time.perf_counter() - started, 1)
    log(f"promo lift model {version.version} ({model.kind}; {version.status}; {seconds} s)")
    headline = {k: v for k, v in model.metrics.items() if not isinstance(v, dict | list)}
    return {"status": "trained", **headline, "version": version.version, "kind": model.kind,
            "seconds": seconds, "registry_status": version.status,
            "champion_changed": version.status == "champion" and version.run_id == run_id,
            "promotion": version.metrics.get("promotion", {}).get("reason")}


def training_rows(engine: Engine, as_of: date, spec: PromoSpec, log: Log,
                  store_model: Any = None) -> pd.DataFrame:
    """Promotion x store rows of promotions that ended by as-of, with `lift_pct` and `weight`."""
    found = measure_promotions(engine, as_of, spec, log, store_model=store_model)
    stores = found.stores
    if stores.empty:
        return stores
    ended = pd.to_datetime(stores["end_date"]) <= pd.Timestamp(as_of)
    return stores.loc[ended].assign(weight=stores["baseline_units"]).reset_index(drop=True)


def score_promotions(engine: Engine, run_id: str, as_of: date | str | None = None,
                     spec: PromoSpec | None = None, log: Log = print) -> dict[str, Any]:
    """Predict and freeze ml_promo_lift, and write this run's recommendations."""
    spec = spec or load_spec()
    as_of = resolve_as_of(engine, as_of, log)
    if as_of is None:
        log("promo scoring skipped: no sales features yet")
        return {"status": "skipped", "reason": "no sales features"}
    model = load_lift_model(engine, as_of)
    if model is None:
        log("promo scoring skipped: no lift model is champion yet (run train_models first)")
        return {"status": "skipped", "reason": "no lift model"}
    recommendations = recommend_promotions(engine, model, as_of, run_id, spec, log)
    with write_transaction(engine) as conn:
        written, frozen, kinds = update_predictions(conn, model, as_of, run_id)
        recs = table("ml_promo_recommendations")
        conn.execute(delete(recs).where(recs.c.run_id == run_id))
        rows = recommendations.assign(model_version=model.version, created_at=_now())
        bulk_insert(conn, recs, rows)
        append_audit(conn, "recommendations_issued", MODEL_NAME, run_id=run_id, actor="liftline",
                     after=_recommendations_issued(recommendations, model.version, as_of))
    log(f"promo scoring as of {as_of}: {written} prediction(s) written {kinds}, {frozen} "
        f"frozen at their start, {len(recommendations)} recommendation(s)")
    return {"status": "ok", "as_of": str(as_of), "predictions": written, "frozen": frozen,
            "recommendations": len(recommendations), "model_version": model.version}


def _recommendations_issued(recommendations: pd.DataFrame, version: str | None,
                            as_of: date) -> dict[str, Any]:
    margin = recommendations.get("expected_incremental_margin", pd.Series(dtype=float))
    return {"as_of": str(as_of), "model_version": version, "count": len(recommendations),
            "expected_incremental_margin": round(float(margin.fillna(0).sum()), 2)}


def update_predictions(conn: Connection, model: LiftModel, as_of: date, run_id: str
                       ) -> tuple[int, int, dict[str, int]]:
    """Freeze what started, refresh what-ifs, backfill the unseen (in the caller's
    transaction); returns (rows written, rows frozen, written rows by kind)."""
    predicted = promotion_predictions(conn, model)
    updates = plan_prediction_updates(current_rows(conn), predicted, as_of)
    frozen = freeze_started(conn, as_of)
    written = write_rows(conn, updates, PREDICTION_COLUMNS, run_id)
    kinds = updates["prediction_kind"].value_counts().to_dict() if len(updates) else {}
    return written, frozen, kinds


def promotion_predictions(bind: Engine | Connection, model: LiftModel
                          ) -> pd.DataFrame:
    """Per promotion: its stores' predictions, weighted by their pre-period baseline volume."""
    rows = promotion_terms(bind)
    if rows.empty:
        return pd.DataFrame(columns=["promo_id", *PREDICTION_COLUMNS])
    scored = pd.concat([rows, model.predict(rows)], axis=1)
    volume = scored["baseline_units_per_day"] * scored["duration_days"]
    scored["w"] = volume.where(volume > 0).fillna(1.0)
    sums = {name: (scored[name] * scored["w"]).groupby(scored["promo_id"]).sum()
            for name in ("lift_pct", "lift_lower", "lift_upper", "p_any_lift")}
    total = scored.groupby("promo_id")["w"].sum()
    first = scored.groupby("promo_id")[["start_date", "end_date", "category"]].first()
    out = first.assign(
        predicted_lift_pct=sums["lift_pct"] / total,
        predicted_lift_lower=sums["lift_lower"] / total,
        predicted_lift_upper=sums["lift_upper"] / total,
        p_any_lift=sums["p_any_lift"] / total,
        model_version=model.version, predicted_at=_now())
    if np.isfinite(model.promo_halfwidth_pp):  # the promotion's own interval, when calibrated
        out["predicted_lift_lower"] = out["predicted_lift_pct"] - model.promo_halfwidth_pp
        out["predicted_lift_upper"] = out["predicted_lift_pct"] + model.promo_halfwidth_pp
    return out.reset_index().replace({np.inf: np.nan})


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)

