"""The service-satisfaction stage as the DAGs call it: train weekly, score daily.

- `train_satisfaction`: backtest the low-rating classifier on the labelled interactions of
  feat_service_interaction (time-based split, calibrated, against the base rate and a
  one-feature rule), fit the model that ships and register it as a version of `satisfaction`;
  it becomes champion only if it earns it (satisfaction_registry.py).
- `score_satisfaction`: with the champion, score every interaction still open at the end of
  the as-of day into ml_satisfaction_scores (this run's rows replaced), and record the day's
  digest of high-risk repeat contacts (satisfaction_digest.py) in the same transaction.

Both return a summary dict and `status: skipped` (reason logged) when there is nothing to do.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, delete, inspect

from liftline.modeling import resolve_as_of
from liftline.registry import register_skipped
from liftline.warehouse import bulk_insert, table, write_transaction

from .satisfaction_backtest import backtest, final_model
from .satisfaction_data import (
    LABEL,
    labelled,
    open_at,
    read_interactions,
)
from .satisfaction_digest import record_digest
from .satisfaction_model import SatisfactionModel
from .satisfaction_registry import MODEL_NAME, load_model, save_model
from .satisfaction_spec import SatisfactionSpec, load_spec

Log = Callable[[str], None]
TOP_REASONS = 3
HEADLINE = ("roc_auc", "pr_auc", "brier", "at_open_roc_auc", "precision_at_threshold",
            "recall_at_threshold", "base_rate_brier", "one_feature_brier", "n_test_moments")


def train_satisfaction(engine: Engine, run_id: str, as_of: date | str | None = None,
                       spec: SatisfactionSpec | None = None, log: Log = print
                       ) -> dict[str, Any]:
    """Backtest, fit and register the satisfaction model; returns its headline metrics."""
    started = time.perf_counter()
    spec = spec or load_spec()
    as_of = satisfaction_as_of(engine, as_of, log)
    if as_of is None:
        log("satisfaction training skipped: no service interactions in the features yet "
            "(deliver service)")
        return {"status": "skipped", "reason": "no service interactions"}
    settings = spec.section("model")
    rows = labelled(read_interactions(engine, as_of), as_of, int(settings["settle_days"]))
    if len(rows) < int(settings["min_labelled"]) or rows[LABEL].nunique() < 2:
        reason = (f"{len(rows)} labelled interaction(s) by {as_of} (closed, rated, opened "
                  f"{settings['settle_days']}+ days before); need {settings['min_labelled']} "
                  "with both outcomes")
        log(f"satisfaction training skipped: {reason}")
        register_skipped(engine, MODEL_NAME, run_id, reason)
        return {"status": "skipped", "reason": reason}
    metrics, _ = backtest(rows, spec, log)
    model = final_model(rows, metrics["kind"], spec)
    model.metrics = metrics
    version = save_model(engine, run_id, model, spec, as_of, rows, log)
    seconds = round(time.perf_counter() - started, 1)
    log(f"satisfaction model {version.version} ({model.kind}; {version.status}; "
        f"test ROC-AUC {_fmt(metrics.get('roc_auc'))}, Brier {_fmt(metrics.get('brier'))} vs "
        f"base rate {_fmt(metrics.get('base_rate_brier'))}; {seconds} s)")
    return {"status": "trained", "as_of": str(as_of), "version": version.version,
            "kind": model.kind, "registry_status": version.status,
            "champion_changed": version.status == "champion" and version.run_id == run_id,
            "promotion": version.metrics.get("promotion", {}).get("reason"),
            "seconds": seconds, "labelled": len(rows),
            **{k: metrics.get(k) for k in HEADLINE}}


def score_satisfaction(engine: Engine, run_id: str, as_of: date | str | None = None,
                       spec: SatisfactionSpec | None = None, log: Log = print
                       ) -> dict[str, Any]:
    """Score the interactions open at the end of the as-of day and record the day's digest."""
    spec = spec or load_spec()
    as_of = satisfaction_as_of(engine, as_of, log)
    if as_of is None:
        log("satisfaction scoring skipped: no service interactions in the features yet")
        return {"status": "skipped", "reason": "no service interactions"}
    model = load_model(engine, as_of)
    if model is None:
        log("satisfaction scoring skipped: no satisfaction model is champion yet "
            "(run train_models first)")
        return {"status": "skipped", "reason": "no satisfaction model"}
    frame = open_at(read_interactions(engine, as_of), as_of)
    scores = score_rows(model, frame, as_of, run_id, spec)
    target = table("ml_satisfaction_scores")
    with write_transaction(engine) as conn:
        conn.execute(delete(target).where(target.c.run_id == run_id))
        written = bulk_insert(conn, target, scores)
        alert_id, listed = record_digest(conn, scores, as_of, run_id, spec) \
            if not scores.empty else (None, 0)
    levels = scores.risk_level.value_counts().to_dict() if len(scores) else {}
    log(f"satisfaction scoring as of {as_of}: {written} open interaction(s) scored {levels}; "
        + (f"digest of {listed} interaction(s) recorded" if alert_id else "no new digest"))
    if scores.empty:
        return {"status": "skipped", "reason": "no open interactions", "as_of": str(as_of),
                "rows": {target.name: 0}, "alerts": 0, "model_version": model.version}
    return {"status": "ok", "as_of": str(as_of), "rows": {target.name: written},
            "alerts": 1 if alert_id else 0, "digest_interactions": listed,
            "risk_levels": levels, "model_version": model.version}


def score_rows(model: SatisfactionModel, frame: pd.DataFrame, as_of: date, run_id: str,
               spec: SatisfactionSpec) -> pd.DataFrame:
    """ml_satisfaction_scores rows of the open interactions in `frame` (with hours_open)."""
    columns = [c.name for c in table("ml_satisfaction_scores").columns]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    p = model.predict(frame)
    reasons = model.reasons(frame, TOP_REASONS)
    return pd.DataFrame({
        "run_id": run_id,
        "interaction_id": frame.interaction_id.astype(str),
        "p_low_satisfaction": p,
        "risk_level": [spec.risk_level(v) for v in p],
        "customer_id": frame.customer_id.astype(str),
        "opened_at": frame.opened_at,
        "interaction_type": frame.interaction_type,
        "channel": frame.channel,
        "repeat_contact": frame.repeat_contact_30d.astype(bool),
        "top_reasons": [json.dumps(r) for r in reasons],
        "as_of_date": as_of,
        "model_version": model.version,
        "scored_at": datetime.now(UTC).replace(tzinfo=None),
    })[columns]


def satisfaction_as_of(engine: Engine, as_of: date | str | None, log: Log) -> date | None:
    """The shared as-of rule; a world without POS has no sales features to anchor it, so the
    default is then the last day an interaction was opened (the service features' own end)."""
    if not inspect(engine).has_table("feat_service_interaction"):
        return None
    return resolve_as_of(engine, as_of, log, fallback=("feat_service_interaction", "opened_date"))


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
