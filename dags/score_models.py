"""Score the trained models: sales forecasts for the next 56 days and forecast-drop alerts;
promotion-lift predictions (frozen at each promotion's start) and recommendations.

Thin wiring of `liftline.forecast.score_forecasts` and `liftline.promo.score_promotions`; what
they write is in the READMEs of include/liftline/forecast and include/liftline/promo.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import TriggerRule, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException
from liftline_airflow import DEFAULT_ARGS, for_xcom, pipeline_params, slack_target, warehouse

DOC_MD = """
### Score models

Daily and on demand, after `train_models` has kept a champion (until then the seasonal-naive
baseline forecasts, with a log line saying so).

* `score_forecasts`: the champion's forecast of the 56 days after `as_of`, at store × day and
  store × category × week, with 90% intervals and the newsvendor plan quantity, into
  `ml_sales_forecast` (rows of this run replaced on a rerun); a `forecast_drop` alert for each
  store whose next 4 weeks are forecast more than the spec's threshold below the same weeks
  last year.
* `score_promotions`: the lift model's prediction for every promotion into `ml_promo_lift`
  (a what-if while planned, frozen from its start), and this run's recommended promotions
  (discount and run length per SKU × store × upcoming week) into `ml_promo_recommendations`.
* `deliver_alerts`: posts pending alerts to Slack (outbox; retried on the next run if Slack
  does not accept them).
"""


@dag(
    dag_id="score_models",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["liftline", "models"],
    doc_md=DOC_MD,
    params=pipeline_params(as_of="forecast origin (default: the last POS date)"),
)
def score_models():
    @task
    def score_forecasts() -> dict:
        from liftline.forecast import score_forecasts as score

        ctx = get_current_context()
        return for_xcom(score(warehouse(), run_id=ctx["run_id"], as_of=ctx["params"]["as_of"]))

    @task
    def score_promotions() -> dict:
        from liftline.promo import score_promotions as score

        ctx = get_current_context()
        return for_xcom(score(warehouse(), run_id=ctx["run_id"], as_of=ctx["params"]["as_of"]))

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def deliver_alerts() -> str:
        from liftline.alerts import deliver_pending
        from liftline.warehouse import get_engine

        return deliver_pending(get_engine(), slack_target()).text()

    # deliver_alerts always runs, so this watcher keeps a run with a failed scoring red.
    @task(trigger_rule=TriggerRule.ONE_FAILED, retries=0)
    def fail_if_any_failed() -> None:
        raise AirflowFailException("scoring failed (its alerts were delivered): see its log")

    scored = [score_forecasts(), score_promotions()]
    scored >> deliver_alerts()
    scored >> fail_if_any_failed()


score_models()
