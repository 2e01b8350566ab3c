"""What the model-health checks share: alerting on a change of state, the models to look at,
and summaries that are plain JSON.

Each check judges an entity (a model, a source) into a state: `ok` or a problem state
(`drifting`, `degraded`, `stale`). The outbox records an alert only when the state differs from
the entity's last alert, so a condition that lasts is alerted once; a return to `ok` after a
problem is recorded as an `info` follow-up, and an entity that was never a problem raises
nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine

from liftline.alerts import record_alert
from liftline.registry import CHAMPION, RETIRED, versions

Log = Callable[[str], None]
OK = "ok"


def record_change(engine: Engine, *, kind: str, entity_key: str, state: str, severity: str,
                  title: str, details: Mapping[str, Any], run_id: str, link: str | None,
                  log: Log, previous: str | None, now: datetime | None = None) -> bool:
    """Record an alert if `state` is news for the entity; True when one was recorded.

    `previous` is the state of the entity's latest alert of `kind` (None: never alerted);
    `now` the alert's time (default: the wall clock).
    """
    if state == OK and previous in (None, OK):
        return False
    alert_id = record_alert(engine, kind=kind, entity_key=entity_key,
                            severity="info" if state == OK else severity, title=title,
                            details=details, state=state, run_id=run_id, link=link, now=now)
    if alert_id:
        log(f"{kind} alert: {title}")
    return alert_id is not None


def served_models(engine: Engine) -> list[str]:
    """Every registered model that has had a champion (the ones that score or scored)."""
    return sorted({v.model for v in versions(engine) if v.status in (CHAMPION, RETIRED)})


def family_of(model: str) -> str:
    """The model family (its spec) of a registry name: sales_forecast/north -> sales_forecast."""
    return model.split("/", 1)[0]


def plain(value: Any, digits: int = 4) -> Any:
    """`value` as strict JSON: numpy scalars unwrapped, floats rounded, NaN and inf as None."""
    if isinstance(value, Mapping):
        return {str(k): plain(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, digits) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return round(value, digits) if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
