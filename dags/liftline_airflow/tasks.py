"""Tasks every DAG ends with, and the small checks its model tasks start with.

A DAG's run state follows its leaves. `deliver_alerts` always runs (even after a failure, so
the failure's alerts go out), which would mark a run with a failed task green; the
`fail_if_any_failed` watcher, downstream of everything, keeps such a run red.
"""

from __future__ import annotations

from airflow.sdk import TriggerRule, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from .params import is_selected
from .runtime import slack_target, warehouse


def deliver_alerts():
    """The `deliver_alerts` task: posts every pending or failed alert of the outbox to Slack
    (or logs it when Slack is not configured), whatever happened upstream."""

    @task(task_id="deliver_alerts", trigger_rule=TriggerRule.ALL_DONE)
    def deliver() -> str:
        from liftline.alerts import deliver_pending

        return deliver_pending(warehouse(), slack_target()).text()

    return deliver()


def fail_if_any_failed(what: str):
    """The `fail_if_any_failed` watcher: fails the run when any upstream task failed.

    `what` names what failed in its message (e.g. "an ingest task"). It raises no alert of its
    own: the failed task's callback already did.
    """

    @task(task_id="fail_if_any_failed", trigger_rule=TriggerRule.ONE_FAILED, retries=0,
          on_failure_callback=None, on_success_callback=None)
    def watch() -> None:
        raise AirflowFailException(f"{what} failed (its alerts were delivered): see its log")

    return watch()


def skip_unless_selected(family: str) -> None:
    """Skip the running task when this run's `models` param leaves out `family`."""
    params = get_current_context()["params"]
    if not is_selected(params, family):
        raise AirflowSkipException(f"{family} is not among this run's models {params['models']}")
