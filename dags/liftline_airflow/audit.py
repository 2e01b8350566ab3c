"""Audit of what people do through Airflow: manual runs, reruns of cleared tasks, Param overrides.

`audit_manual_run` is the shared default args' `pre_execute` hook, so it runs before every task
of every DAG: before the first task of a run a person triggered, and before any task a person
cleared (the documented way to rerun one, which does not rerun the DAG's first task). Scheduled
and asset-triggered runs that nobody touched cost nothing: no warehouse access. An error here
fails the task before it starts, so an action is never taken without its audit event.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .runtime import map_label, run_type, warehouse

MANUAL_RUN = "manual_run"
PARAM_OVERRIDE = "param_override"
# dag.test() (the `liftline run` command) names this user; the person is then the OS user.
_NOT_A_PERSON = frozenset({"dag_test"})


def audit_manual_run(context: dict[str, Any]) -> list[str]:
    """Append this run's `manual_run` / `param_override` events if a person caused it; their ids.

    - triggered by hand (run type manual): `manual_run` with entity the DAG id;
    - a cleared task rerunning: `manual_run` with entity `dag/task[label]`, once per clear;
    - params that differ from the DAG's defaults: `param_override`, once per run.
    Before and after hold only the params that differ (defaults vs. given). The actor is the
    Airflow user who triggered the run when Airflow knows one, else the OS user.
    """
    run, ti = context["dag_run"], context["ti"]
    manual = run_type(run) == "manual"
    cleared = was_cleared(ti, context["task"])
    if not (manual or cleared):
        return []
    from liftline.warehouse import append_audit
    from liftline.warehouse.audit import current_actor

    before, after = params_changed(context["dag"], context["params"])
    actor = current_actor(triggering_user(run))
    engine = warehouse()
    events = []
    if cleared:
        from liftline.alerts import task_entity

        entity = task_entity(ti.dag_id, ti.task_id, map_label(ti))
        clear = str(getattr(run, "clear_number", 0) or 0)
        event_id = _event_id(MANUAL_RUN, entity, run.run_id, clear)
    else:
        entity = ti.dag_id
        event_id = _event_id(MANUAL_RUN, entity, run.run_id)
    events.append(append_audit(engine, MANUAL_RUN, entity, before=before, after=after,
                               actor=actor, run_id=run.run_id, event_id=event_id))
    if after:
        events.append(append_audit(engine, PARAM_OVERRIDE, ti.dag_id, before=before, after=after,
                                   actor=actor, run_id=run.run_id,
                                   event_id=_event_id(PARAM_OVERRIDE, ti.dag_id, run.run_id)))
    return events


def was_cleared(ti: Any, task: Any) -> bool:
    """Whether this try reruns a task a person cleared (not an automatic retry).

    Clearing sets max_tries to the try number reached plus the task's retries, so only a
    cleared task instance has more tries allowed than its retries (Airflow computes a
    reschedule's first try the same way).
    """
    retries = getattr(task, "retries", 0) or 0
    return ti.try_number > 1 and (getattr(ti, "max_tries", 0) or 0) > retries


def params_changed(dag: Any, given: Any) -> tuple[dict, dict]:
    """(defaults, given) of the params whose given value differs from the DAG's default."""
    defaults = dag.params.dump() if hasattr(dag.params, "dump") else dict(dag.params)
    given = dict(given)
    changed = sorted(key for key in given if given[key] != defaults.get(key))
    return ({key: defaults.get(key) for key in changed}, {key: given[key] for key in changed})


def triggering_user(run: Any) -> str | None:
    """The Airflow user who triggered the run (UI, REST API), if it was a person."""
    user = getattr(run, "triggering_user_name", None)
    return None if not user or user in _NOT_A_PERSON else str(user)


def _event_id(*parts: str) -> str:
    # One event per trigger, per clear, per override: a retry or a second task of the same
    # run computes the same id, and append_audit skips an id that is already there.
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]
