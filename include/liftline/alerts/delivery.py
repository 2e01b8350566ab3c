"""Delivering the outbox: every pending or failed alert goes to Slack, or to the log without it.

Delivery is at least once: a row's status is written in its own transaction right after its
post, so a crash loses nothing and re-posts at most the one message in flight. Run one delivery
at a time (the DAG's task does); a concurrent run is tolerated (each row is re-checked just
before it is posted) but could then post the one alert both runs hold at that moment twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine

from .message import alert_summary, format_blocks
from .outbox import (
    is_undelivered,
    mark_delivered,
    mark_failed,
    mark_not_configured,
    undelivered_alerts,
)
from .slack import (
    SlackDeliveryError,
    SlackTarget,
    SleepBudget,
    make_client,
    post_message,
    redact,
)

DEFAULT_MAX_ATTEMPTS = 4  # per alert and run: waits of 1, 2 and 4 s between them


@dataclass
class DeliveryReport:
    """What one delivery run did. `deferred`: alerts left untried because the run stopped early."""

    delivered: int = 0
    failed: int = 0
    not_configured: int = 0
    deferred: int = 0
    errors: list[str] = field(default_factory=list)

    def text(self) -> str:
        """A one-line summary for the task log."""
        summary = (
            f"alerts: {self.delivered} delivered, {self.failed} failed, "
            f"{self.not_configured} not configured (logged only)"
        )
        if self.deferred:
            summary += f", {self.deferred} left for the next run"
        if self.errors:
            summary += f"; first error: {self.errors[0]}"
        return redact(summary)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (e.g. for an Airflow XCom)."""
        return asdict(self)


def deliver_pending(
    engine: Engine,
    target: SlackTarget | None,
    *,
    log: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    max_attempts_per_run: int = DEFAULT_MAX_ATTEMPTS,
    alert_ids: Collection[str] | None = None,
) -> DeliveryReport:
    """Deliver the pending and failed alerts, oldest first, and report what happened.

    Without a target (no Slack connection) each alert is written to `log` as one line and
    marked `not_configured`. That status is final: configuring Slack later does not post those
    alerts, so a newly connected channel is not flooded with stale history; they stay
    readable in ops_alerts and in the task logs.

    With a target, each alert is posted (HTTP attempts per alert capped by
    `max_attempts_per_run`) and marked `delivered` or `failed` (`last_error` says why; the
    next call retries it). An auth or channel error, or Slack staying unreachable or rate
    limited, ends the run: the alerts not yet tried stay as they were for the next run.

    `alert_ids` limits the run to those alerts (e.g. the one a failure callback just recorded,
    so a failing task does not spend its time on the whole outbox).
    """
    if max_attempts_per_run < 1:
        raise ValueError(f"max_attempts_per_run must be at least 1, got {max_attempts_per_run}")
    alerts = undelivered_alerts(engine)
    if alert_ids is not None:
        wanted = set(alert_ids)
        alerts = [alert for alert in alerts if alert["alert_id"] in wanted]
    if target is None:
        return _log_only(engine, alerts, log)
    return _post_all(engine, alerts, target, log, sleep, max_attempts_per_run)


def _log_only(
    engine: Engine, alerts: list[dict[str, Any]], log: Callable[[str], None]
) -> DeliveryReport:
    report = DeliveryReport()
    for alert in alerts:
        log(redact(f"alert (Slack not configured): {alert_summary(alert)}"))
        mark_not_configured(engine, alert["alert_id"])
        report.not_configured += 1
    return report


def _post_all(
    engine: Engine,
    alerts: list[dict[str, Any]],
    target: SlackTarget,
    log: Callable[[str], None],
    sleep: Callable[[float], None],
    max_attempts: int,
) -> DeliveryReport:
    report = DeliveryReport()
    client = make_client(target)
    budget = SleepBudget()
    for index, alert in enumerate(alerts):
        if not is_undelivered(engine, alert["alert_id"]):
            continue
        text, blocks = format_blocks(alert)
        try:
            post_message(
                client,
                target,
                text,
                blocks,
                sleep=sleep,
                budget=budget,
                max_attempts=max_attempts,
                log=log,
            )
        except SlackDeliveryError as exc:
            _record_failure(engine, alert, exc.message, report, log)
            if exc.stop_run:
                report.deferred = len(alerts) - index - 1
                if report.deferred:
                    log(f"Slack delivery stopped; {report.deferred} alert(s) left for the next run")
                break
            continue
        mark_delivered(engine, alert["alert_id"])
        report.delivered += 1
        log(redact(f"alert delivered to {target.channel}: {_label(alert)}", target.token))
    return report


def _record_failure(
    engine: Engine,
    alert: dict[str, Any],
    message: str,
    report: DeliveryReport,
    log: Callable[[str], None],
) -> None:
    mark_failed(engine, alert["alert_id"], message)
    report.failed += 1
    report.errors.append(f"{_label(alert)}: {message}")
    log(f"alert not delivered (stays in the outbox): {_label(alert)}: {message}")


def _label(alert: dict[str, Any]) -> str:
    return f"{alert['kind']} {alert['entity_key']} ({str(alert['alert_id'])[:8]})"
