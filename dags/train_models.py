"""Retrain the models: sales forecasts per region, the marketing mix per country and segment,
the promotion-lift model, and the customer models (value segments, satisfaction risk).

Thin wiring of `liftline.forecast.train_forecasts`, `liftline.mmm.fit_and_write_mmm`,
`liftline.promo.train_promo_lift`, `liftline.customers.train_segments` and
`liftline.customers.train_satisfaction`; each forecast and mix fit is a mapped task, so a region
or a country that fails is retried (or cleared and rerun in the UI) on its own. Whether a model
is due after new features is `liftline.registry.due_for_training`. Methods and metrics: the
READMEs of include/liftline/forecast, mmm, promo and customers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import (
    AssetAny,
    AssetOrTimeSchedule,
    CronTriggerTimetable,
    Param,
    dag,
    get_current_context,
    task,
)
from airflow.sdk.exceptions import AirflowSkipException
from liftline_airflow import (
    CHAMPIONS,
    DEFAULT_ARGS,
    champions_asset,
    deliver_alerts,
    fail_if_any_failed,
    feature_table_assets,
    for_xcom,
    pipeline_params,
    publish_assets,
    record_changed,
    run_type,
    selected_models,
    warehouse,
)

DOC_MD = """
### Train models

Weekly (Monday 00:00 UTC), on demand, and right after `build_features` changed a feature table
when a model is due (a family that was never trained, say: a fresh install gets its first
models after its first features, not a week later).

* `due_models` decides what trains and short-circuits the rest of the run (still green) when
  nothing does: a run triggered by hand, or with the `force` param, trains every family in
  `models` (empty = all); the weekly run retrains them all; a run triggered by new features
  trains the families `liftline.registry.due_for_training` says are due.
* `train_forecast[region]`: walk-forward backtest of every forecasting candidate (seasonal
  naive, Prophet, LightGBM) for the stores of one region; the champion per grain is kept with
  its metrics and its conformal interval calibration. `score_models` uses it.
* `fit_mmm[country/segment]`: the marketing mix model (adstock, saturation, constrained ridge,
  Nevergrad search, bootstrap ROI intervals), response curves and the budget allocation,
  written to `ml_mmm_*` and `ml_budget_allocation`, with a row in `ml_model_registry`.
* `train_promo_lift`: measures every finished promotion's lift against its counterfactual
  baseline, trains the lift model with a time-based holdout and keeps it (with the holdout's
  MAE beside the category-mean baseline's) in `ml_model_registry`.
* `train_segments`: customer value segments (k-means on RFM and engagement, k chosen by
  silhouette and stability, names kept across refits) and each customer's expected revenue over
  the next 6 months, both backtested on a time split against their baselines.
* `train_satisfaction`: the low-satisfaction classifier of service interactions (time-based
  split, calibrated probabilities) against the base rate and a one-feature rule.
* `publish_assets` emits `liftline://registry/champions` when a training task reported a new
  champion (`champion_changed` in its summary); `score_models` is scheduled on it, so scoring
  picks the new model up without waiting for a clock.

A fit whose inputs were never delivered (no POS, no ad spend, no customers or service) is
skipped with the reason in its log, not failed. `as_of` (YYYY-MM-DD) trains on facts up to that date (default: the last POS
date).
"""

FORECAST, PROMO, MMM = "sales_forecast", "promo_lift", "mmm"
SEGMENTS, SATISFACTION = "customer_segments", "satisfaction"


@dag(
    dag_id="train_models",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 0 * * 1", timezone="UTC"),
        assets=AssetAny(*feature_table_assets()),
    ),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["liftline", "models"],
    doc_md=DOC_MD,
    params={
        **pipeline_params(
            as_of="last date of facts to train on (default: the last POS date)",
            models="the families to train",
        ),
        "force": Param(False, type="boolean",
                       description="train the selected models even if none is due"),
    },
)
def train_models():
    @task.short_circuit
    def due_models() -> list[str]:
        return families_to_train(get_current_context())

    @task
    def forecast_regions(due: list[str]) -> list[str]:
        _skip_unless_due(FORECAST, due)
        from liftline.forecast import training_regions

        return training_regions(warehouse())

    @task(max_active_tis_per_dagrun=2,
          map_index_template="{{ task.op_kwargs['region'] or 'all stores' }}")
    def train_forecast(region: str) -> dict:
        from liftline.forecast import train_forecasts

        ctx = get_current_context()
        summary = train_forecasts(warehouse(), run_id=ctx["run_id"], region=region or None,
                                  as_of=ctx["params"]["as_of"])
        return report_champion(summary, FORECAST)

    @task
    def mmm_fits(due: list[str]) -> list[dict]:
        _skip_unless_due(MMM, due)
        from liftline.mmm import fit_keys, load_spec

        return fit_keys(warehouse(), load_spec())

    @task(max_active_tis_per_dagrun=2,
          map_index_template="{{ task.op_kwargs['fit']['country'] }}/"
                             "{{ task.op_kwargs['fit']['segment'] }}")
    def fit_mmm(fit: dict) -> dict:
        from liftline.mmm import fit_and_write_mmm

        ctx = get_current_context()
        return report_champion(fit_and_write_mmm(warehouse(), run_id=ctx["run_id"], **fit), MMM)

    @task
    def train_promo_lift(due: list[str]) -> dict:
        _skip_unless_due(PROMO, due)
        from liftline.promo import train_promo_lift as train

        return train_at_as_of(train, PROMO)

    @task
    def train_segments(due: list[str]) -> dict:
        _skip_unless_due(SEGMENTS, due)
        from liftline.customers import train_segments as train

        return train_at_as_of(train, SEGMENTS)

    @task
    def train_satisfaction(due: list[str]) -> dict:
        _skip_unless_due(SATISFACTION, due)
        from liftline.customers import train_satisfaction as train

        return train_at_as_of(train, SATISFACTION)

    due = due_models()
    trained = [
        train_forecast.expand(region=forecast_regions(due)),
        fit_mmm.expand(fit=mmm_fits(due)),
        train_promo_lift(due),
        train_segments(due),
        train_satisfaction(due),
    ]
    published = publish_assets(CHAMPIONS, champions_asset)
    alerts = deliver_alerts()
    trained >> published >> alerts
    [*trained, published, alerts] >> fail_if_any_failed("a model")


def families_to_train(ctx: dict[str, Any]) -> list[str]:
    """The selected families this run trains; empty (the run short-circuits) when none is due."""
    params = ctx["params"]
    wanted = selected_models(params)
    kind = run_type(ctx["dag_run"])
    if params["force"] or kind == "manual":
        print(f"training {', '.join(wanted)}: "
              f"{'the force param is set' if params['force'] else 'triggered by hand'}")
        return wanted
    if kind != "asset_triggered":
        print(f"training {', '.join(wanted)}: the weekly retrain")
        return wanted
    due = due_for_training(params["as_of"], params["models"])
    for family in wanted:
        print(f"{family}: {'due, ' + due[family] if family in due else 'not due'}")
    chosen = [family for family in wanted if family in due]
    if not chosen:
        print("no model is due: the rest of this run is skipped")
    return chosen


def due_for_training(as_of: str | None, models: list[str]) -> dict[str, str]:
    """liftline.registry.due_for_training on the warehouse: family -> why it is due."""
    from liftline.registry import due_for_training as due

    return due(warehouse(), as_of=as_of, models=list(models) or None)


def train_at_as_of(train: Any, family: str) -> Any:
    """Run a family's training function on this run's as-of; its summary for XCom."""
    ctx = get_current_context()
    summary = train(warehouse(), run_id=ctx["run_id"], as_of=ctx["params"]["as_of"])
    return report_champion(summary, family)


def report_champion(summary: Any, family: str) -> Any:
    """The summary for XCom; tells publish_assets when it says `champion_changed`."""
    summary = for_xcom(summary)
    if isinstance(summary, dict) and summary.get("champion_changed"):
        record_changed([family])
        print(f"{family}: new champion, scoring will pick it up")
    return summary


def _skip_unless_due(family: str, due: list[str]) -> None:
    if family not in due:
        raise AirflowSkipException(f"{family} is not trained in this run (not selected or not due)")


train_models()
