"""Tasks every DAG ends with, and the small checks its model tasks start with.

A producing DAG's work tasks say what they changed (`record_changed`); one `publish_assets`
task emits the Asset events after all of them, so a consumer starts on the run's complete
output, not on the first table a task finished (Airflow emits a task's events when that task
ends). A DAG's run state follows its leaves: `deliver_alerts` always runs (even after a
failure, so the failure's alerts go out), which would mark a run with a failed task green; the
`fail_if_any_failed` watcher, downstream of everything, keeps such a run red.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from airflow.sdk import Asset, AssetAlias, TriggerRule, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from .params import is_selected
from .runtime import slack_target, warehouse

# The XCom key under which a task lists what it changed.
CHANGED_KEY = "changed_assets"


def record_changed(names: Iterable[str]) -> list[str]:
    """Tell the DAG's `publish_assets` task what this task changed (table or model names)."""
    changed = sorted({str(name) for name in names})  # str: the library may hand quoted_name
    if changed:
        get_current_context()["ti"].xcom_push(key=CHANGED_KEY, value=changed)
    return changed


def publish_assets(alias: AssetAlias, asset_for: Callable[[str], Asset]):
    """The `publish_assets` task: one event through `alias` per Asset its upstream tasks changed.

    Runs after every upstream task whatever their outcome (what did change is real, and the
    consumers run on what there is); emits nothing when nothing changed. `asset_for` maps a
    changed name to its Asset; names mapping to the same Asset make one event listing them.
    """

    @task(task_id="publish_assets", outlets=[alias], trigger_rule=TriggerRule.ALL_DONE)
    def publish() -> list[str]:
        ctx = get_current_context()
        upstream = sorted(ctx["task"].get_flat_relative_ids(upstream=True))
        pulled = ctx["ti"].xcom_pull(task_ids=upstream, key=CHANGED_KEY) or []
        names = sorted({name for value in pulled if value for name in value})
        events: dict[str, tuple[Asset, list[str]]] = {}
        for name in names:
            asset = asset_for(name)
            events.setdefault(asset.uri, (asset, []))[1].append(name)
        for asset, changed in events.values():
            ctx["outlet_events"][alias].add(asset, extra={"changed": changed})
        print(f"Asset events: {', '.join(events) if events else 'none (nothing changed)'}")
        return names

    return publish()


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


def skip_unless_asked(param: str) -> None:
    """Skip the running task unless this run's boolean Param `param` is on (on-demand tasks)."""
    if not get_current_context()["params"].get(param):
        raise AirflowSkipException(f"{param} is off for this run (trigger with {param}=true)")


def skip_unless_selected(family: str) -> None:
    """Skip the running task when this run's `models` param leaves out `family`."""
    params = get_current_context()["params"]
    if not is_selected(params, family):
        raise AirflowSkipException(f"{family} is not among this run's models {params['models']}")
