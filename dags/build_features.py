"""Rebuild the feature tables (feat_*) whenever ingest changes a clean table.

Thin wiring of `liftline.features`; what each table holds, its point-in-time rules and how a
build decides what to redo are in include/liftline/features/README.md.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import AssetAny, TriggerRule, chain, dag, get_current_context, task
from liftline_airflow import (
    DEFAULT_ARGS,
    FEATURE_TABLES,
    OTHER_FEATURE_TABLES,
    SALES_FEATURE_TABLES,
    clean_table_asset,
    deliver_alerts,
    fail_if_any_failed,
    feature_table_asset,
    for_xcom,
    pipeline_params,
    publish_assets,
    record_changed,
    warehouse,
)

from liftline.contract import SOURCES

DOC_MD = """
### Build feature tables

Runs when ingest changes any clean table (Asset schedule), or on demand. Each task (re)builds
one feature table in one transaction: only the dates its new deliveries touched, or all of it
with the `full_refresh` param (or the first time, or when a store/product dimension changed).
Clearing and rerunning a task leaves the table exactly as one run would.

* Sales tables run in order: `feat_calendar` → `feat_sales_daily` → `feat_sales_store_daily`
  → `feat_promo_effectiveness` (each reads the one before).
* The MMM, CRM, customer and service tables then run even if a sales table failed;
  `fail_if_any_failed` keeps such a run red.
* A table whose inputs were never delivered is skipped with the reason in its log.
* `publish_assets`, after every table, emits an Asset event for each table the run changed
  (`liftline://warehouse/feat_*`, through the `liftline_feature_tables` alias):
  `train_models` and `score_models` are scheduled on these.

`as_of` (YYYY-MM-DD) limits the facts used to those dated on or before it (default: the last
POS date); the runner (`liftline run --as-of`) passes it.
"""


@dag(
    dag_id="build_features",
    schedule=AssetAny(*(clean_table_asset(f"clean_{source}") for source in SOURCES)),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["liftline", "features"],
    doc_md=DOC_MD,
    params=pipeline_params(
        as_of="last date of facts to use (default: the last POS date)",
        full_refresh="rebuild every feature table whole",
        models="unused here: every feature table is built",
    ),
)
def build_features():
    @task
    def prepare() -> None:
        warehouse()

    def build_task(name: str, trigger_rule: TriggerRule):
        @task(task_id=name, trigger_rule=trigger_rule)
        def build() -> dict:
            return _build(name)

        return build()

    # The sales tables read each other, so they stop at the first failure; the others are
    # independent and each runs whatever happened.
    sales = [build_task(name, TriggerRule.ALL_SUCCESS) for name in SALES_FEATURE_TABLES]
    others = [build_task(name, TriggerRule.ALL_DONE) for name in OTHER_FEATURE_TABLES]
    chain(prepare(), *sales, *others)
    published = publish_assets(FEATURE_TABLES, feature_table_asset)
    alerts = deliver_alerts()
    others[-1] >> published >> alerts
    [*sales, *others, published, alerts] >> fail_if_any_failed("a feature table")


def _build(name: str) -> dict:
    from liftline.features import build_table
    from liftline.warehouse import get_engine

    ctx = get_current_context()
    params = ctx["params"]
    outcome = build_table(get_engine(), name, run_id=ctx["run_id"], as_of=params["as_of"],
                          full_refresh=bool(params["full_refresh"]))
    if outcome.mode in ("full", "incremental"):
        record_changed([name])
    return for_xcom({"table": outcome.table, "mode": outcome.mode, "rows": outcome.rows,
                     "detail": outcome.detail})


build_features()
