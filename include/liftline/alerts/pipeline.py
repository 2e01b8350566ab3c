"""Alerts about the pipeline itself: a task that failed for good, and its recovery.

The entity is the task (`dag/task`, plus `[label]` for one mapped instance such as
`ingest_extracts/ingest_fact[pos]`), so the outbox's one-alert-per-state-change rule applies
per task: a task that fails run after run alerts once, and alerts again only after it has
succeeded in between (which records an info-level "recovered" follow-up).
"""

from __future__ import annotations

from sqlalchemy import Engine, inspect

from .outbox import Bind, latest_alert_state, record_alert

PIPELINE_FAILURE = "pipeline_failure"
FAILED_STATE = "failed"
RECOVERED_STATE = "recovered"

# An exception's text can be a whole traceback or a data dump: the alert keeps its first line.
ERROR_MAX = 300


def task_entity(dag_id: str, task_id: str, map_label: str | None = None) -> str:
    """The alert entity of a task, or of one mapped instance of it."""
    entity = f"{dag_id}/{task_id}"
    return f"{entity}[{map_label}]" if map_label not in (None, "") else entity


def record_pipeline_failure(
    bind: Bind,
    *,
    dag_id: str,
    task_id: str,
    try_number: int,
    log_url: str,
    run_id: str,
    map_label: str | None = None,
    error: str | None = None,
) -> str | None:
    """Put a critical `pipeline_failure` alert for a task's final failure in the outbox.

    Returns the alert_id, or None when the task's latest alert already says it failed (it keeps
    failing: one alert, not one per run). `log_url` is the failed try's log in the Airflow UI.
    """
    entity = task_entity(dag_id, task_id, map_label)
    details = {"dag": dag_id, "task": task_id, "try_number": int(try_number)}
    if map_label not in (None, ""):
        details["mapped"] = map_label
    if error:
        details["error"] = _first_line(error)
    return record_alert(
        bind,
        kind=PIPELINE_FAILURE,
        entity_key=entity,
        severity="critical",
        title=f"Pipeline task failed: {entity}",
        details=details,
        state=FAILED_STATE,
        run_id=run_id,
        link=log_url,
    )


def record_pipeline_recovery(
    bind: Engine,
    *,
    dag_id: str,
    task_id: str,
    run_id: str,
    map_label: str | None = None,
    log_url: str | None = None,
) -> str | None:
    """Record that a task whose latest alert is a failure succeeded again; else do nothing.

    Called after every successful task, so the usual case (never failed, or already recovered)
    is one indexed read and no write. Returns the new alert_id or None.
    """
    if not inspect(bind).has_table("ops_alerts"):  # a warehouse not created yet: nothing failed
        return None
    entity = task_entity(dag_id, task_id, map_label)
    if latest_alert_state(bind, PIPELINE_FAILURE, entity) != FAILED_STATE:
        return None
    return record_alert(
        bind,
        kind=PIPELINE_FAILURE,
        entity_key=entity,
        severity="info",
        title=f"Pipeline task recovered: {entity}",
        details={"dag": dag_id, "task": task_id,
                 "action": "Nothing to do: the task succeeded again."},
        state=RECOVERED_STATE,
        run_id=run_id,
        link=log_url,
    )


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    first = lines[0] if lines else "unknown error"
    return first if len(first) <= ERROR_MAX else first[: ERROR_MAX - 1] + "…"
