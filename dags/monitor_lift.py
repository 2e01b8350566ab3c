"""Watch running promotions: actual lift against the frozen prediction, and Slack alerts.

Thin wiring of `liftline.monitor.lift.monitor_lift`; the method is in
include/liftline/promo/README.md.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import TriggerRule, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException
from liftline_airflow import (
    DEFAULT_ARGS,
    for_xcom,
    pipeline_params,
    run_url,
    slack_target,
    warehouse,
)

DOC_MD = """
### Monitor promotion lift

Daily, after `score_models` (so predictions of promotions starting today are frozen first).

* `monitor_lift`: measures each promotion that is running or in its post-period against its
  counterfactual baseline (the sales-forecast model with promotions switched off), writes the
  actual lift, incremental units and margin, post-promotion dip and cannibalisation to
  `ml_promo_lift`, and records a `lift_divergence` alert when actual and predicted lift differ
  by more than the spec's threshold (5 points) after the minimum days and volume; one alert
  per promotion per state change, and a follow-up when it recovers.
* `deliver_alerts`: posts pending alerts to Slack (outbox; retried on the next run).
"""


@dag(
    dag_id="monitor_lift",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["liftline", "monitor"],
    doc_md=DOC_MD,
    params=pipeline_params(as_of="last sales day to judge on (default: the last POS date)"),
)
def monitor_lift():
    @task(task_id="monitor_lift")
    def measure_and_judge() -> dict:
        from liftline.monitor.lift import monitor_lift as monitor

        ctx = get_current_context()
        summary = monitor(warehouse(), run_id=ctx["run_id"], as_of=ctx["params"]["as_of"],
                          link=run_url(ctx["dag"].dag_id, ctx["run_id"]))
        return for_xcom(summary)

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def deliver_alerts() -> str:
        from liftline.alerts import deliver_pending
        from liftline.warehouse import get_engine

        return deliver_pending(get_engine(), slack_target()).text()

    @task(trigger_rule=TriggerRule.ONE_FAILED, retries=0)
    def fail_if_any_failed() -> None:
        raise AirflowFailException("the lift monitor failed (its alerts were delivered): "
                                   "see its log")

    judged = measure_and_judge()
    judged >> deliver_alerts()
    judged >> fail_if_any_failed()


monitor_lift()
