"""Retrain the models: sales forecasts per region, the marketing mix per country and segment,
and the promotion-lift model.

Thin wiring of `liftline.forecast.train_forecasts`, `liftline.mmm.fit_and_write_mmm` and
`liftline.promo.train_promo_lift`; each forecast and mix fit is a mapped task, so a region or a
country that fails is retried (or cleared and rerun in the UI) on its own. Methods and metrics:
the READMEs of include/liftline/forecast, mmm and promo.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import TriggerRule, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException
from liftline_airflow import DEFAULT_ARGS, for_xcom, pipeline_params, warehouse

DOC_MD = """
### Train models

Weekly and on demand. Reads the feature tables (run `build_features` first).

* `train_forecast[region]`: walk-forward backtest of every forecasting candidate (seasonal
  naive, Prophet, LightGBM) for the stores of one region; the champion per grain is kept with
  its metrics and its conformal interval calibration. `score_models` uses it.
* `fit_mmm[country/segment]`: the marketing mix model (adstock, saturation, constrained ridge,
  Nevergrad search, bootstrap ROI intervals), response curves and the budget allocation,
  written to `ml_mmm_*` and `ml_budget_allocation`, with a row in `ml_model_registry`.
* `train_promo_lift`: measures every finished promotion's lift against its counterfactual
  baseline, trains the lift model with a time-based holdout and keeps it (with the holdout's
  MAE beside the category-mean baseline's) in `ml_model_registry`.

A fit whose inputs were never delivered (no POS, no ad spend) is skipped with the reason in its
log, not failed. `as_of` (YYYY-MM-DD) trains on facts up to that date (default: the last POS
date).
"""


@dag(
    dag_id="train_models",
    schedule="@weekly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["liftline", "models"],
    doc_md=DOC_MD,
    params=pipeline_params(
        as_of="last date of facts to train on (default: the last POS date)"),
)
def train_models():
    @task
    def forecast_regions() -> list[str]:
        from liftline.forecast import training_regions

        return training_regions(warehouse())

    @task(max_active_tis_per_dagrun=2)
    def train_forecast(region: str) -> dict:
        from liftline.forecast import train_forecasts
        from liftline.warehouse import get_engine

        ctx = get_current_context()
        summary = train_forecasts(get_engine(), run_id=ctx["run_id"], region=region or None,
                                  as_of=ctx["params"]["as_of"])
        return for_xcom(summary)

    @task
    def mmm_fits() -> list[dict]:
        from liftline.mmm import fit_keys, load_spec

        return fit_keys(warehouse(), load_spec())

    @task(max_active_tis_per_dagrun=2)
    def fit_mmm(fit: dict) -> dict:
        from liftline.mmm import fit_and_write_mmm
        from liftline.warehouse import get_engine

        ctx = get_current_context()
        outcome = fit_and_write_mmm(get_engine(), run_id=ctx["run_id"], **fit)
        return for_xcom(outcome)

    @task
    def train_promo_lift() -> dict:
        from liftline.promo import train_promo_lift as train

        ctx = get_current_context()
        return for_xcom(train(warehouse(), run_id=ctx["run_id"], as_of=ctx["params"]["as_of"]))

    @task(trigger_rule=TriggerRule.ONE_FAILED, retries=0)
    def fail_if_any_failed() -> None:
        raise AirflowFailException("a model failed to train: see its task log")

    forecasts = train_forecast.expand(region=forecast_regions())
    mixes = fit_mmm.expand(fit=mmm_fits())
    [forecasts, mixes, train_promo_lift()] >> fail_if_any_failed()


train_models()
