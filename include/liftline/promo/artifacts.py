"""The lift model in the warehouse: one `ml_model_registry` row per training run.

`model_name` promo_lift, `version` the run id, the whole model as JSON in `params_json` (its
LightGBM boosters as model strings, a few hundred kB) and the holdout metrics in
`metrics_json`. In the warehouse rather than on a worker's disk, so scoring on another Celery
worker, the lift monitor and `liftline promo whatif` all find the same model.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from liftline.warehouse import replace_partition, table, write_transaction

from .model import LiftModel

MODEL_NAME = "promo_lift"
TRAINED = "trained"


def save_lift_model(engine: Engine, run_id: str, model: LiftModel) -> str:
    """Keep `model` as this run's registry row (replaced on a rerun); returns its address."""
    metrics = model.metrics
    row = {
        "model_name": MODEL_NAME, "version": run_id, "run_id": run_id, "status": TRAINED,
        "trained_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
        "metrics_json": json.dumps(_headline(metrics), default=str),
        "params_json": json.dumps(model.to_json(), default=str),
        "data_start": _date(metrics.get("data_start")), "data_end": _date(metrics.get("data_end")),
        "artifact_uri": f"warehouse:ml_model_registry?model_name={MODEL_NAME}&version={run_id}",
    }
    with write_transaction(engine) as conn:
        replace_partition(conn, table("ml_model_registry"), pd.DataFrame([row]),
                          {"model_name": MODEL_NAME, "version": run_id})
    model.version = run_id
    return row["artifact_uri"]


def load_lift_model(engine: Engine) -> LiftModel | None:
    """The newest trained lift model, or None when none was ever trained."""
    registry = table("ml_model_registry")
    query = (select(registry.c.version, registry.c.params_json)
             .where(registry.c.model_name == MODEL_NAME, registry.c.status == TRAINED)
             .order_by(registry.c.trained_at.desc(), registry.c.version.desc()).limit(1))
    with engine.connect() as conn:
        found = conn.execute(query).first()
    if found is None:
        return None
    return LiftModel.from_json(json.loads(found.params_json), version=found.version)


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """What a registry reader wants at a glance; the per-promotion table stays in params."""
    return {k: v for k, v in metrics.items() if k != "holdout_promotions"}


def _date(value: Any) -> dt.date | None:
    return None if value in (None, "") else pd.Timestamp(value).date()
