"""Delivering the outbox: every pending or failed alert goes to Slack, or to the log without it.

Delivery is at least once: a row's status is written in its own transaction right after its
post, so a crash loses nothing and re-posts at most the one message in flight. Run one delivery
at a time (the DAG's task does); a concurrent run is tolerated (each row is re-checked just
before it is posted) but could then post the one alert both runs hold at that moment twice.

An alert with a chart (the weekly summary) takes two steps: the message, then its chart
uploaded into the message's thread. The message's channel and ts are kept in the row as soon
as Slack accepts it, so when the upload fails the alert stays undelivered and the next run
uploads the chart without posting the message again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import Engine

from liftline import settings

from .chart import chart_filename, chart_spec, render_chart_png
from .links import ReportLinks
from .message import alert_details, alert_summary, format_blocks
from .outbox import (
    delivery_progress,
    is_undelivered,
    mark_delivered,
    mark_failed,
    mark_not_configured,
    record_progress,
    undelivered_alerts,
)
from .slack import (
    Retries,
    SlackDeliveryError,
    SlackTarget,
    SleepBudget,
    make_client,
    post_message,
    redact,
    upload_chart,
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
    links = _report_links(log)
    if target is None:
        return _log_only(engine, alerts, links, log)
    retries = Retries(sleep, SleepBudget(), max_attempts_per_run, log)
    return _post_all(engine, alerts, target, links, retries)


def _report_links(log: Callable[[str], None]) -> ReportLinks:
    """The report links of the settings; a malformed base URL costs the links, not delivery."""
    try:
        return ReportLinks.from_settings()
    except ValueError as exc:
        log(f"{exc}; alerts name the report file instead")
        return ReportLinks(None, settings.reports_dir())


def _log_only(
    engine: Engine, alerts: list[dict[str, Any]], links: ReportLinks, log: Callable[[str], None]
) -> DeliveryReport:
    report = DeliveryReport()
    for alert in alerts:
        log(redact(f"alert (Slack not configured): {alert_summary(alert, links)}"))
        mark_not_configured(engine, alert["alert_id"])
        report.not_configured += 1
    return report


def _post_all(
    engine: Engine,
    alerts: list[dict[str, Any]],
    target: SlackTarget,
    links: ReportLinks,
    retries: Retries,
) -> DeliveryReport:
    report = DeliveryReport()
    client = make_client(target)
    log = retries.log
    for index, alert in enumerate(alerts):
        if not is_undelivered(engine, alert["alert_id"]):
            continue
        try:
            _send(engine, client, target, alert, links, retries)
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


def _send(
    engine: Engine,
    client: WebClient,
    target: SlackTarget,
    alert: dict[str, Any],
    links: ReportLinks,
    retries: Retries,
) -> None:
    """Post the alert's message unless an earlier run did, then upload its chart if it has one
    and no earlier run did; each accepted step is kept in the row before the next is tried."""
    progress = delivery_progress(alert)
    spec = chart_spec(alert_details(alert))
    if not progress.get("ts"):
        text, blocks = format_blocks(alert, links)
        channel_id, ts = post_message(client, target, text, blocks, retries)
        progress = {"channel": channel_id, "ts": ts}
        if spec is not None:  # a step follows: keep what is done (a lone post needs no note)
            record_progress(engine, alert["alert_id"], **progress)
    if spec is None or progress.get("file_id"):
        return
    try:
        png = render_chart_png(spec)
    except Exception as exc:  # noqa: BLE001 - a chart that cannot be drawn must not block
        retries.log(f"chart of {_label(alert)} not drawn ({type(exc).__name__}: {exc}); "
                    "the message went without it")
        return
    file_id = upload_chart(client, target, png, channel_id=progress["channel"],
                           thread_ts=progress["ts"], filename=chart_filename(alert),
                           title=str(spec.get("title") or alert.get("title") or "chart"),
                           retries=retries)
    record_progress(engine, alert["alert_id"], file_id=file_id)


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
