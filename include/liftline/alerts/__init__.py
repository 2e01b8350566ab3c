"""Alerts: an outbox in `ops_alerts`, delivered to Slack with retries (or to the log without it).

Stages call `record_alert` (one alert per state change of an entity, in the stage's own
transaction); the monitor DAG calls `deliver_pending` with the Slack target built from the
Airflow connection, or None when there is none. Nothing here imports Airflow.
"""

from .delivery import DeliveryReport, deliver_pending
from .message import alert_summary, format_blocks
from .outbox import (
    DELIVERED,
    FAILED,
    KINDS,
    NOT_CONFIGURED,
    PENDING,
    SEVERITIES,
    latest_states,
    record_alert,
    undelivered_alerts,
)
from .slack import SlackTarget

__all__ = [
    "DELIVERED",
    "FAILED",
    "KINDS",
    "NOT_CONFIGURED",
    "PENDING",
    "SEVERITIES",
    "DeliveryReport",
    "SlackTarget",
    "alert_summary",
    "deliver_pending",
    "format_blocks",
    "latest_states",
    "record_alert",
    "undelivered_alerts",
]
