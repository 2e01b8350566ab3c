"""Task callbacks that turn a task's final failure into a `pipeline_failure` alert.

Set in the shared default args, so every task of every DAG has them. Airflow calls
`on_failure_callback` only when the last try failed (a try that will be retried calls
`on_retry_callback` instead), so one failure is one alert, not one per retry. The outbox then
keeps one alert per state change of the task (liftline.alerts.pipeline), and a task that
succeeds again after a failure records a "recovered" follow-up.
"""

from __future__ import annotations

from typing import Any

from .runtime import map_label, run_url, slack_target, warehouse


def record_task_failure(context: dict[str, Any]) -> None:
    """on_failure_callback: record the alert, then try to deliver it right away.

    Delivery is one attempt: a failing task should not wait on Slack. An alert Slack did not
    accept stays in the outbox for the next `deliver_alerts` task. A callback cannot fail the
    task any further, so its own errors are logged in one line rather than raised.
    """
    from liftline.alerts import deliver_pending, record_pipeline_failure

    ti = context["ti"]
    try:
        engine = warehouse()
        alert_id = record_pipeline_failure(
            engine, dag_id=ti.dag_id, task_id=ti.task_id, map_label=map_label(ti),
            try_number=ti.try_number, log_url=_log_url(ti), run_id=ti.run_id,
            error=_error_text(context.get("exception")),
        )
    except Exception as exc:  # the task already failed; say why there is no alert
        print(f"pipeline_failure alert not recorded: {_first_line(exc)}")
        return
    if alert_id is None:
        print(f"pipeline_failure: {ti.dag_id}/{ti.task_id} is already alerted as failing")
        return
    try:
        report = deliver_pending(engine, slack_target(), alert_ids=[alert_id],
                                 max_attempts_per_run=1)
    except Exception as exc:  # e.g. no connection lookup outside a task: the outbox keeps it
        print(f"pipeline_failure alert recorded, left for deliver_alerts: {_first_line(exc)}")
        return
    print(f"pipeline_failure alert recorded; {report.text()}")


def record_task_recovery(context: dict[str, Any]) -> None:
    """on_success_callback: a task that had failed succeeds again -> an info follow-up.

    The common case (the task never failed) is one read and nothing else; the follow-up is
    delivered by the DAG's next `deliver_alerts`.
    """
    from liftline.alerts import record_pipeline_recovery
    from liftline.warehouse import get_engine

    ti = context["ti"]
    try:
        alert_id = record_pipeline_recovery(
            get_engine(), dag_id=ti.dag_id, task_id=ti.task_id, map_label=map_label(ti),
            run_id=ti.run_id, log_url=_log_url(ti))
    except Exception as exc:
        print(f"pipeline_failure recovery not recorded: {_first_line(exc)}")
        return
    if alert_id:
        print(f"pipeline_failure: {ti.dag_id}/{ti.task_id} recovered (follow-up alert recorded)")


def _log_url(ti: Any) -> str:
    # RuntimeTaskInstance.log_url points at the try's log in the UI; older shapes lack it.
    return getattr(ti, "log_url", None) or run_url(ti.dag_id, ti.run_id)


def _error_text(error: BaseException | str | None) -> str | None:
    if error is None:
        return None
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return str(error)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"
