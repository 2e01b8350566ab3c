"""Watch the models in use: promotions' actual lift against their frozen prediction, the models'
input drift and realised accuracy, the sources' freshness and the champions' age.

Thin wiring of `liftline.monitor`; the lift method is in include/liftline/promo/README.md, the
health checks in include/liftline/monitor/README.md.
Each check is one task function below, listed in CHECKS: adding a check is writing one function
and naming it there.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import (
    AssetAny,
    AssetOrTimeSchedule,
    CronTriggerTimetable,
    TriggerRule,
    dag,
    get_current_context,
    task,
)
from liftline_airflow import (
    DEFAULT_ARGS,
    deliver_alerts,
    fail_if_any_failed,
    for_xcom,
    monitored_table_assets,
    pipeline_params,
    run_url,
    skip_unless_selected,
    warehouse,
)

DOC_MD = """
### Monitor models

Runs when `score_models` wrote forecasts or lift predictions (Asset schedule, so predictions of
promotions starting today are frozen first), daily at 06:00 UTC even when nothing new was
scored (freshness and age checks must notice silence), and on demand. The checks run side by
side; each records its alerts in the outbox, one per state change of what it watches.

* `monitor_lift`: measures each promotion that is running or in its post-period against its
  counterfactual baseline (the sales-forecast model with promotions switched off), writes the
  actual lift, incremental units and margin, post-promotion dip and cannibalisation to
  `ml_promo_lift`, and records a `lift_divergence` alert when actual and predicted lift differ
  by more than the spec's threshold (5 points) after the minimum days and volume; one alert
  per promotion per state change, and a follow-up when it recovers.
* `check_drift`: each champion's recent inputs against the profile its training kept in the
  model card (population stability index): `drift`.
* `check_accuracy`: realised error of past forecasts and frozen lift predictions against the
  champion's backtest error: `model_degraded`.
* `check_freshness`: each source's last delivery against the cadence the contract states:
  `stale_source`.
* `check_stale_models`: each champion's age against its spec's `max_age_days`: `stale_model`.
* `record_weekly_summary` (after the checks): the `weekly_summary` of the last complete ISO
  week before as-of (key numbers, decisions, an 8-week chart), once per week: the first run
  whose as-of reaches the week's Sunday records it, later runs find it recorded.
* `deliver_alerts`: posts pending alerts to Slack (outbox; retried on the next run); the weekly
  summary's chart is uploaded into its message's thread.

`as_of` is the last sales day judged on (default: the last POS date); `models` limits the run to
the checks of some families.
"""


@task(task_id="monitor_lift")
def monitor_lift() -> dict:
    """Actual against predicted promotion lift; `lift_divergence` alerts."""
    skip_unless_selected("promo_lift")
    from liftline.monitor.lift import monitor_lift as monitor

    ctx = get_current_context()
    summary = monitor(warehouse(), run_id=ctx["run_id"], as_of=ctx["params"]["as_of"],
                      link=run_url(ctx["dag"].dag_id, ctx["run_id"]))
    return for_xcom(summary)


def health_check(name: str, doc: str):  # noqa: ANN201 - an Airflow task
    """A task calling `liftline.monitor.<name>(engine, run_id, as_of, link=...)`."""

    @task(task_id=name, doc_md=doc)
    def check() -> dict:
        import liftline.monitor as monitor

        ctx = get_current_context()
        summary = getattr(monitor, name)(warehouse(), run_id=ctx["run_id"],
                                         as_of=ctx["params"]["as_of"],
                                         link=run_url(ctx["dag"].dag_id, ctx["run_id"]))
        return for_xcom(summary)

    return check


# The checks this DAG runs, side by side; each records its own alerts.
CHECKS = (
    monitor_lift,
    health_check("check_drift", "Champions' inputs against their training profile: drift."),
    health_check("check_accuracy", "Realised against backtest error: model_degraded."),
    health_check("check_freshness", "Each source against its delivery cadence: stale_source."),
    health_check("check_stale_models", "Champions older than max_age_days: stale_model."),
    health_check("check_plan", "The newest quarter plan's passed weeks against actual sales, "
                               "spend and promotions: plan_deviation."),
)


@task(task_id="record_weekly_summary", trigger_rule=TriggerRule.ALL_DONE)
def record_weekly_summary() -> dict:
    """The last complete week's `weekly_summary`; after the checks, so it counts their alerts,
    and whatever they did (a failed check costs its own alerts, not the week's summary)."""
    from liftline.monitor import record_weekly_summary as record

    ctx = get_current_context()
    summary = record(warehouse(), run_id=ctx["run_id"], as_of=ctx["params"]["as_of"],
                     link=run_url(ctx["dag"].dag_id, ctx["run_id"]))
    return for_xcom(summary)


@dag(
    dag_id="monitor_models",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 6 * * *", timezone="UTC"),
        assets=AssetAny(*monitored_table_assets()),
    ),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["liftline", "monitor"],
    doc_md=DOC_MD,
    params=pipeline_params(
        as_of="last sales day to judge on (default: the last POS date)",
        models="the families whose checks run",
    ),
)
def monitor_models():
    checks = [check() for check in CHECKS]
    weekly = record_weekly_summary()
    alerts = deliver_alerts()
    checks >> weekly
    [*checks, weekly] >> alerts
    [*checks, weekly, alerts] >> fail_if_any_failed("a monitoring check")


monitor_models()
