"""Model health: every check in one call (drift, realised accuracy, source freshness, model
age), for a caller that runs them together; the monitoring DAG runs one task per check."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine

from .accuracy import check_accuracy
from .drift import check_drift
from .freshness import check_freshness
from .staleness import check_stale_models
from .states import Log

CHECKS = ("drift", "accuracy", "freshness", "stale_models")


def check_model_health(engine: Engine, run_id: str, as_of: date | str | None = None,
                       log: Log = print, link: str | None = None,
                       now: datetime | None = None) -> dict[str, Any]:
    """Run every model-health check; returns each one's summary and the alerts recorded.

    `now` is the wall-clock moment freshness is judged at (default: the current UTC time).
    """
    found = {
        "drift": check_drift(engine, run_id, as_of, log, link),
        "accuracy": check_accuracy(engine, run_id, as_of, log, link),
        "freshness": check_freshness(engine, run_id, as_of, log, link, now=now),
        "stale_models": check_stale_models(engine, run_id, as_of, log, link),
    }
    alerts = sum(int(summary.get("alerts", 0)) for summary in found.values())
    as_of_used = next((s["as_of"] for s in found.values() if s.get("as_of")), None)
    log(f"model health: {alerts} alert(s) recorded")
    return {"status": "ok", "as_of": as_of_used, **found, "alerts": alerts}
