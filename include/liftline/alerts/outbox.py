"""The alert outbox: `ops_alerts` rows written by the stages, read and updated by delivery.

A stage records an alert in the same transaction as the result it is about (pass its
Connection), so an alert exists exactly when its cause was committed. Delivery to Slack happens
later, row by row, and a row that Slack did not accept stays in the outbox (DESIGN.md, "Nothing
is lost").

One alert per state change: an entity's condition (its `state`, e.g. "quarantined") is alerted
when it differs from the state of the entity's most recent alert. Rerunning a task, or a
monitor that runs every 30 minutes, therefore never repeats an alert, while "quarantined" ->
"ok" -> "quarantined" alerts three times.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, Row, Update, insert, select, update

from liftline.warehouse import advisory_xact_lock, append_audit, table, write_transaction

KINDS: tuple[str, ...] = (
    "lift_divergence",
    "forecast_drop",
    "data_quality",
    "drift",
    "model_degraded",
    "service_risk",
    "stale_source",
    "stale_model",
    "pipeline_failure",
    "weekly_summary",
    "calibration_conflict",
    "plan_summary",
    "plan_deviation",
)
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")

PENDING = "pending"
FAILED = "failed"
DELIVERED = "delivered"
NOT_CONFIGURED = "not_configured"
# The details key where delivery keeps what Slack already accepted of a multi-step alert (the
# message's channel and ts, the chart's file id), so a retry does only what is left.
PROGRESS_KEY = "slack"

# Statuses that delivery still has to act on; not_configured is final (see deliver_pending).
UNDELIVERED: tuple[str, ...] = (PENDING, FAILED)

Bind = Engine | Connection

# The smallest step of a PostgreSQL timestamp (and of a Python datetime).
_TICK = timedelta(microseconds=1)


def record_alert(
    bind: Bind,
    *,
    kind: str,
    entity_key: str,
    severity: str,
    title: str,
    details: Mapping[str, Any],
    state: str,
    run_id: str | None = None,
    link: str | None = None,
    now: datetime | None = None,
) -> str | None:
    """Put an alert in the outbox unless the entity is already alerted in this `state`.

    Returns the new alert_id, or None when the latest alert of (kind, entity_key) has the same
    state. `bind` is an Engine (own write transaction) or a Connection (the caller's
    transaction). `link` (e.g. the Airflow run URL) is stored in details under "link".

    The latest alert is the one with the greatest created_at. A new alert's created_at is
    kept strictly after its predecessor's, so that order is the order of recording even
    when clocks tie or two workers' clocks disagree.
    """
    _require_choice("kind", kind, KINDS)
    _require_choice("severity", severity, SEVERITIES)
    _require_text("entity_key", entity_key)
    _require_text("state", state)
    payload = dict(details)
    if link:
        payload["link"] = link
    details_json = json.dumps(_plain(payload), sort_keys=True)
    created_at = naive_utc(now)
    alerts = table("ops_alerts")
    with write_transaction(bind) as conn:
        _lock_entity(conn, kind, entity_key)
        latest = _latest_alert(conn, kind, entity_key)
        if latest is not None and latest.state == state:
            return None
        if latest is not None and latest.created_at is not None:
            created_at = max(created_at, latest.created_at + _TICK)
        alert_id = uuid.uuid4().hex
        conn.execute(
            insert(alerts).values(
                alert_id=alert_id,
                kind=kind,
                entity_key=entity_key,
                severity=severity,
                title=title,
                details_json=details_json,
                created_at=created_at,
                delivery_status=PENDING,
                attempts=0,
                state=state,
                run_id=run_id,
            )
        )
    return alert_id


def latest_alert_state(bind: Bind, kind: str, entity_key: str) -> str | None:
    """The state of the entity's most recent alert of this kind, None if it was never alerted."""
    return latest_states(bind, kind, [entity_key]).get(entity_key)


def undelivered_alerts(engine: Engine) -> list[dict[str, Any]]:
    """Alerts waiting for delivery (pending or failed), oldest first."""
    alerts = table("ops_alerts")
    query = (
        select(alerts)
        .where(alerts.c.delivery_status.in_(UNDELIVERED))
        .order_by(alerts.c.created_at, alerts.c.alert_id)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def is_undelivered(engine: Engine, alert_id: str) -> bool:
    """Whether the alert still waits for delivery (a concurrent run may have delivered it)."""
    alerts = table("ops_alerts")
    query = select(alerts.c.delivery_status).where(alerts.c.alert_id == alert_id)
    with engine.connect() as conn:
        return conn.execute(query).scalar_one_or_none() in UNDELIVERED


def mark_delivered(engine: Engine, alert_id: str, now: datetime | None = None) -> None:
    """Slack accepted the alert; the audit log records that it was sent (once per alert)."""
    alerts = table("ops_alerts")
    with write_transaction(engine) as conn:
        conn.execute(
            update(alerts)
            .where(alerts.c.alert_id == alert_id)
            .values(delivery_status=DELIVERED, delivered_at=naive_utc(now),
                    attempts=alerts.c.attempts + 1)
        )
        sent = conn.execute(select(alerts.c.kind, alerts.c.entity_key, alerts.c.severity,
                                   alerts.c.title, alerts.c.run_id)
                            .where(alerts.c.alert_id == alert_id)).first()
        if sent is not None:
            append_audit(conn, "alert_sent", f"{sent.kind}:{sent.entity_key}",
                         after={"alert_id": alert_id, "severity": sent.severity,
                                "title": sent.title}, actor="liftline", run_id=sent.run_id,
                         event_id=f"alert_sent:{alert_id}")


def delivery_progress(alert: Mapping[str, Any]) -> dict[str, Any]:
    """What Slack already accepted of this alert (empty before its first post)."""
    try:
        details = json.loads(alert.get("details_json") or "{}")
    except (TypeError, ValueError):
        return {}
    progress = details.get(PROGRESS_KEY) if isinstance(details, dict) else None
    return dict(progress) if isinstance(progress, Mapping) else {}


def record_progress(engine: Engine, alert_id: str, **progress: str) -> None:
    """Keep in the alert's details that a step was accepted (e.g. ts=...), in its own
    transaction, before the next step is tried: a failure after it does not repeat it."""
    alerts = table("ops_alerts")
    with write_transaction(engine) as conn:
        raw = conn.execute(select(alerts.c.details_json)
                           .where(alerts.c.alert_id == alert_id)).scalar_one_or_none()
        try:
            details = json.loads(raw or "{}")
        except (TypeError, ValueError):
            details = {"details": str(raw)}  # as alert_details shows an unreadable row
        if not isinstance(details, dict):
            details = {"details": details}
        details[PROGRESS_KEY] = {**(details.get(PROGRESS_KEY) or {}), **progress}
        conn.execute(update(alerts).where(alerts.c.alert_id == alert_id)
                     .values(details_json=json.dumps(_plain(details), sort_keys=True)))


def mark_failed(engine: Engine, alert_id: str, error: str) -> None:
    """Slack did not accept the alert; the next delivery run tries again."""
    alerts = table("ops_alerts")
    _update(
        engine,
        update(alerts)
        # Never downgrade an alert that a concurrent run delivered meanwhile.
        .where(alerts.c.alert_id == alert_id, alerts.c.delivery_status != DELIVERED)
        .values(delivery_status=FAILED, last_error=error, attempts=alerts.c.attempts + 1),
    )


def mark_not_configured(engine: Engine, alert_id: str) -> None:
    """No Slack connection: the alert went to the task log only (no delivery attempt)."""
    alerts = table("ops_alerts")
    _update(
        engine,
        update(alerts)
        .where(alerts.c.alert_id == alert_id, alerts.c.delivery_status.in_(UNDELIVERED))
        .values(delivery_status=NOT_CONFIGURED),
    )


def _update(engine: Engine, statement: Update) -> None:
    # One small transaction per row: a crash mid-run keeps every status already written.
    with write_transaction(engine) as conn:
        conn.execute(statement)


def latest_states(bind: Bind, kind: str, entity_keys: list[str] | None = None
                  ) -> dict[str, str | None]:
    """The state of each entity's most recent alert of `kind` (all entities, or those named).

    Monitors use it to tell a recovery (a problem alerted before) from a condition that was
    never a problem, which needs no alert.
    """
    alerts = table("ops_alerts")
    query = (
        select(alerts.c.entity_key, alerts.c.state)
        .where(alerts.c.kind == kind)
        .order_by(alerts.c.created_at, alerts.c.alert_id)
    )
    if entity_keys is not None:
        query = query.where(alerts.c.entity_key.in_(entity_keys))
    if isinstance(bind, Connection):
        rows = bind.execute(query).all()
    else:
        with bind.connect() as conn:
            rows = conn.execute(query).all()
    return {row.entity_key: row.state for row in rows}  # ordered: the latest wins


def _latest_alert(conn: Connection, kind: str, entity_key: str) -> Row[Any] | None:
    alerts = table("ops_alerts")
    query = (
        select(alerts.c.state, alerts.c.created_at)
        .where(alerts.c.kind == kind, alerts.c.entity_key == entity_key)
        # alert_id only breaks ties between rows that another writer gave equal timestamps.
        .order_by(alerts.c.created_at.desc(), alerts.c.alert_id.desc())
        .limit(1)
    )
    return conn.execute(query).first()


def _lock_entity(conn: Connection, kind: str, entity_key: str) -> None:
    """Serialise check-then-insert for one (kind, entity_key) until the transaction ends.

    SQLite's write transaction (BEGIN IMMEDIATE) already serialises writers. PostgreSQL's read
    committed lets two transactions both see "no alert yet" and both insert, so take a
    transaction-scoped advisory lock keyed by the pair.
    """
    advisory_xact_lock(conn, f"liftline.alert.{kind}\x1f{entity_key}")


def naive_utc(moment: datetime | None = None) -> datetime:
    """`moment` (default: now) as naive UTC, as the warehouse stores times."""
    if moment is None:
        return datetime.now(UTC).replace(tzinfo=None)
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _require_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"unknown alert {name} {value!r}: use one of {', '.join(choices)}")


def _require_text(name: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"alert {name} must be a non-empty string, got {value!r}")


def _plain(value: Any) -> Any:
    """`value` as JSON-native data: numpy and pandas scalars unwrapped, NaN and NaT as null."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((_plain(item) for item in value), key=str)
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return _plain(float(value))
    if isinstance(value, str | int | bool):
        return value
    return str(value)
