"""Alerts: an outbox in `ops_alerts`, delivered to Slack with retries (or to the log without it).

Stages call `record_alert` (one alert per state change of an entity, in the stage's own
transaction); the DAGs call `deliver_pending` with the Slack target built from the Airflow
connection, or None when there is none. The DAGs' failure callback records a task's final
failure with `record_pipeline_failure` (and `record_pipeline_recovery` when it succeeds again).
Every message links to the report section its kind refers to (`REPORT_SECTIONS`, from
LIFTLINE_BASE_URL); an alert carrying a chart (details["chart"], the weekly summary) has it
drawn and uploaded into its message's thread. Nothing here imports Airflow.
"""

from .delivery import DeliveryReport, deliver_pending
from .links import REPORT_SECTIONS, ReportLink, ReportLinks
from .message import alert_summary, format_blocks
from .outbox import (
    DELIVERED,
    FAILED,
    KINDS,
    NOT_CONFIGURED,
    PENDING,
    SEVERITIES,
    latest_alert_state,
    latest_states,
    naive_utc,
    record_alert,
    undelivered_alerts,
)
from .pipeline import (
    PIPELINE_FAILURE,
    record_pipeline_failure,
    record_pipeline_recovery,
    task_entity,
)
from .slack import SlackTarget

__all__ = [
    "DELIVERED",
    "FAILED",
    "KINDS",
    "NOT_CONFIGURED",
    "PENDING",
    "PIPELINE_FAILURE",
    "REPORT_SECTIONS",
    "SEVERITIES",
    "DeliveryReport",
    "ReportLink",
    "ReportLinks",
    "SlackTarget",
    "alert_summary",
    "deliver_pending",
    "format_blocks",
    "latest_states",
    "naive_utc",
    "latest_alert_state",
    "record_alert",
    "record_pipeline_failure",
    "record_pipeline_recovery",
    "task_entity",
    "undelivered_alerts",
]
