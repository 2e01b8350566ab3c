"""The training result kept with the model: champion per grain, metrics, conformal quantiles.

One `ml_model_registry` row per region and training run: `model_name` sales_forecast/<region>,
`version` the run id, the whole result as JSON in `params_json` and its headline metrics in
`metrics_json`. In the warehouse rather than on a worker's disk, so a scoring task on another
Celery worker finds it. JSON rather than a pickled model: the champion is refitted at scoring
time on the data up to the scoring as-of (seconds), so the result only has to say *which*
candidate, with which parameters, and how wrong it was: small, diffable, readable by the
report.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from liftline.warehouse import replace_partition, table, write_transaction

from .conformal import ResidualQuantiles

ALL_REGIONS = "all"
MODEL_NAME = "sales_forecast"
TRAINED = "trained"


def region_slug(region: str | None) -> str:
    if region in (None, ""):
        return ALL_REGIONS
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(region)) or ALL_REGIONS


def registry_name(region: str | None) -> str:
    return f"{MODEL_NAME}/{region_slug(region)}"


def save_training(engine: Engine, result: dict[str, Any], run_id: str, region: str | None
                  ) -> str:
    """Keep `result` as this run's registry row for `region` (replaced on a rerun); returns
    the row's address."""
    name = registry_name(region)
    row = {
        "model_name": name, "version": run_id, "run_id": run_id, "status": TRAINED,
        "trained_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
        "metrics_json": json.dumps(_headline(result), default=str),
        "params_json": json.dumps(result, sort_keys=True, default=str),
        "data_start": _date(result.get("data_start")), "data_end": _date(result.get("as_of")),
        "artifact_uri": f"warehouse:ml_model_registry?model_name={name}&version={run_id}",
    }
    with write_transaction(engine) as conn:
        replace_partition(conn, table("ml_model_registry"), pd.DataFrame([row]),
                          {"model_name": name, "version": run_id})
    return row["artifact_uri"]


def load_latest(engine: Engine, region: str | None) -> dict[str, Any] | None:
    """The newest training result of `region`, or None when it was never trained."""
    registry = table("ml_model_registry")
    query = (select(registry.c.params_json)
             .where(registry.c.model_name == registry_name(region),
                    registry.c.status == TRAINED)
             .order_by(registry.c.trained_at.desc(), registry.c.version.desc()).limit(1))
    with engine.connect() as conn:
        found = conn.execute(query).scalar()
    if found is None:
        return None
    try:
        return json.loads(found)
    except json.JSONDecodeError:
        return None


def calibration_of(artifact: dict[str, Any], grain: str, candidate: str
                   ) -> ResidualQuantiles | None:
    found = artifact.get("grains", {}).get(grain, {}).get("candidates", {}).get(candidate)
    if not found or "calibration" not in found:
        return None
    return ResidualQuantiles.from_dict(found["calibration"])


def _headline(result: dict[str, Any]) -> dict[str, Any]:
    """Champion and its backtest WAPE and coverage per grain: what a registry reader wants."""
    out = {}
    for grain, found in result.get("grains", {}).items():
        champion = found.get("champion")
        metrics = found.get("candidates", {}).get(champion, {}).get("metrics", {})
        out[grain] = {"champion": champion, **{k: metrics.get(k) for k in ("wape", "coverage")}}
    return out


def _date(value: Any) -> dt.date | None:
    return None if value in (None, "") else pd.Timestamp(value).date()
