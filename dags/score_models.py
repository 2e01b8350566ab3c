"""Score the trained models: sales forecasts for the next 56 days and forecast-drop alerts;
promotion-lift predictions (frozen at each promotion's start) and recommendations; customer
segments with their expected value; the satisfaction risk of open service interactions; the
next media experiment (which channel's geo-holdout lift test would narrow its ROI interval most).

Thin wiring of `liftline.forecast.score_forecasts`, `liftline.promo.score_promotions`,
`liftline.customers.score_segments`, `liftline.customers.score_satisfaction` and
`liftline.plan.experiment.recommend_experiments`; what they write is in the READMEs of
include/liftline/forecast, promo, customers and plan.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import AssetAny, TriggerRule, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException
from liftline_airflow import (
    CHAMPIONS_ASSET,
    DEFAULT_ARGS,
    SCORED_TABLES,
    deliver_alerts,
    fail_if_any_failed,
    feature_table_assets,
    for_xcom,
    pipeline_params,
    plan_params,
    publish_assets,
    record_changed,
    scored_table_asset,
    skip_unless_asked,
    skip_unless_selected,
    warehouse,
)

DOC_MD = """
### Score models

Runs when `build_features` changed a feature table or `train_models` promoted a new champion
(Asset schedule), and on demand. Until a champion is kept the seasonal-naive baseline
forecasts, with a log line saying so.

* `score_forecasts`: the champion's forecast of the 56 days after `as_of`, at store × day and
  store × category × week, with 90% intervals and the newsvendor plan quantity, into
  `ml_sales_forecast` (rows of this run replaced on a rerun); a `forecast_drop` alert for each
  store whose next 4 weeks are forecast more than the spec's threshold below the same weeks
  last year.
* `score_promotions`: the lift model's prediction for every promotion into `ml_promo_lift`
  (a what-if while planned, frozen from its start), and this run's recommended promotions
  (discount and run length per SKU × store × upcoming week) into `ml_promo_recommendations`.
* `score_segments`: every customer's segment, recommended action and expected revenue of the
  next 6 months into `ml_customer_segments`, the segment profiles into `ml_customer_profiles`,
  and the customers who changed segment since the last scoring into `ml_segment_migrations`.
* `score_satisfaction`: the probability of a low rating for every open service interaction
  into `ml_satisfaction_scores`, with its risk level and top reasons; high risk on a repeat
  contact goes into the day's one `service_risk` digest.
* `recommend_experiment`: for each channel of the newest mix model of each country (the
  champion, else the newest fit), how much a geo-holdout test (the channel dark in matched
  regions or stores for 2-8 weeks) would narrow its ROI interval, its minimum detectable effect,
  power and cost, and the recommended test, into `ml_experiment_recommendations`; skipped with
  the reason when no mix model has results.
* `plan_quarter`, only when the `plan_quarter` param is on (off by default): the next
  `plan_weeks` weeks' media and promotion plan from the Monday after `as_of`, against business
  as usual, into `ml_plan`, `ml_plan_weekly` and `ml_plan_summary`, with a `plan_summary` alert
  (include/liftline/plan/README.md). It runs after the scoring tasks, whatever their outcome:
  it plans with the champions there are and names the missing ones.
* `publish_assets`, after them all, emits an Asset event for each `ml_*` table the scoring
  tasks wrote rows to (`liftline://warehouse/ml_*`): `monitor_models` is scheduled on these.
* `deliver_alerts`: posts pending alerts to Slack (outbox; retried on the next run if Slack
  does not accept them).

`models` limits the run to some families (`sales_forecast`, `promo_lift`,
`customer_segments`, `satisfaction`, `mmm` for the experiment); `as_of` is the forecast origin and the customer snapshot
scored.
"""


@dag(
    dag_id="score_models",
    schedule=AssetAny(*feature_table_assets(), CHAMPIONS_ASSET),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["liftline", "models"],
    doc_md=DOC_MD,
    params={**pipeline_params(
        as_of="forecast origin (default: the last POS date)",
        models="the families to score",
    ), **plan_params()},
)
def score_models():
    @task
    def score_forecasts() -> dict:
        skip_unless_selected("sales_forecast")
        from liftline.forecast import score_forecasts as score

        summary = score_at_as_of(score)
        record_written({"ml_sales_forecast": sum((summary.get("rows") or {}).values())})
        return summary

    @task
    def score_promotions() -> dict:
        skip_unless_selected("promo_lift")
        from liftline.promo import score_promotions as score

        summary = score_at_as_of(score)
        record_written({"ml_promo_lift": summary.get("predictions") or 0,
                        "ml_promo_recommendations": summary.get("recommendations") or 0})
        return summary

    @task
    def score_segments() -> dict:
        skip_unless_selected("customer_segments")
        from liftline.customers import score_segments as score

        summary = score_at_as_of(score)
        record_written(summary.get("rows") or {})
        return summary

    @task
    def score_satisfaction() -> dict:
        skip_unless_selected("satisfaction")
        from liftline.customers import score_satisfaction as score

        summary = score_at_as_of(score)
        record_written(summary.get("rows") or {})
        return summary

    @task
    def recommend_experiment() -> dict:
        skip_unless_selected("mmm")
        from liftline.plan.experiment import SKIPPED, recommend_experiments

        outcome = recommend_experiments(warehouse(), run_id=get_current_context()["run_id"])
        if outcome.status == SKIPPED:
            raise AirflowSkipException(outcome.reason)
        record_written({"ml_experiment_recommendations": outcome.rows})
        return for_xcom(outcome)


    @task(trigger_rule=TriggerRule.ALL_DONE)
    def plan_quarter() -> dict:
        skip_unless_asked("plan_quarter")
        from liftline.plan import plan_next_quarter

        ctx = get_current_context()
        params = ctx["params"]
        return for_xcom(plan_next_quarter(warehouse(), run_id=ctx["run_id"],
                                          as_of=params["as_of"], weeks=params["plan_weeks"],
                                          media_budget=params["plan_media_budget"]))

    scored = [score_forecasts(), score_promotions(), score_segments(), score_satisfaction(),
              recommend_experiment()]
    planned = plan_quarter()
    published = publish_assets(SCORED_TABLES, scored_table_asset)
    alerts = deliver_alerts()
    scored >> planned >> published >> alerts
    [*scored, published, planned, alerts] >> fail_if_any_failed("scoring")


def score_at_as_of(score: Any) -> dict:
    """Run a family's scoring function on this run's as-of; its summary for XCom."""
    ctx = get_current_context()
    return for_xcom(score(warehouse(), run_id=ctx["run_id"], as_of=ctx["params"]["as_of"]))


def record_written(rows_by_table: dict[str, int]) -> None:
    """Tell publish_assets which ml_* tables this task wrote rows to."""
    record_changed(table for table, rows in rows_by_table.items() if rows)


score_models()
