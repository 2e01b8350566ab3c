"""Airflow glue shared by the Liftline DAGs: default args (failure alerts, audit), Params,
Assets, the tasks every DAG ends with, and run-time helpers.

Lives in the DAGs folder because Airflow 3 puts the DAG bundle's root on `sys.path` wherever it
parses DAG files (DAG processor, workers, `dag.test()`), so every DAG can
`from liftline_airflow import ...`. The library (`liftline`) is imported lazily, inside functions,
so parsing a DAG stays cheap. `.airflowignore` keeps the DAG parser out of this package.
"""

from __future__ import annotations

from datetime import timedelta

from .assets import (
    CHAMPIONS,
    CHAMPIONS_ASSET,
    CLEAN_TABLES,
    FEATURE_TABLE_NAMES,
    FEATURE_TABLES,
    MONITORED_TABLE_NAMES,
    OTHER_FEATURE_TABLES,
    SALES_FEATURE_TABLES,
    SCORED_TABLE_NAMES,
    SCORED_TABLES,
    champions_asset,
    clean_table_asset,
    feature_table_asset,
    feature_table_assets,
    monitored_table_assets,
    scored_table_asset,
)
from .audit import audit_manual_run
from .failures import record_task_failure, record_task_recovery
from .params import MODEL_FAMILIES, is_selected, pipeline_params, plan_params, selected_models
from .runtime import (
    SLACK_CONN_ID,
    for_xcom,
    map_label,
    run_type,
    run_url,
    slack_target,
    warehouse,
)
from .tasks import (
    deliver_alerts,
    fail_if_any_failed,
    publish_assets,
    record_changed,
    skip_unless_asked,
    skip_unless_selected,
)

DEFAULT_ARGS = {
    "owner": "liftline",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    # A task's final failure -> a pipeline_failure alert (once per task until it recovers).
    "on_failure_callback": record_task_failure,
    "on_success_callback": record_task_recovery,
    # Manual runs, cleared tasks and Param overrides -> ops_audit_log, before the task runs.
    "pre_execute": audit_manual_run,
}

__all__ = [
    "CHAMPIONS",
    "CHAMPIONS_ASSET",
    "CLEAN_TABLES",
    "DEFAULT_ARGS",
    "FEATURE_TABLES",
    "FEATURE_TABLE_NAMES",
    "MODEL_FAMILIES",
    "MONITORED_TABLE_NAMES",
    "OTHER_FEATURE_TABLES",
    "SALES_FEATURE_TABLES",
    "SCORED_TABLES",
    "SCORED_TABLE_NAMES",
    "SLACK_CONN_ID",
    "audit_manual_run",
    "champions_asset",
    "clean_table_asset",
    "deliver_alerts",
    "fail_if_any_failed",
    "feature_table_asset",
    "feature_table_assets",
    "for_xcom",
    "is_selected",
    "map_label",
    "monitored_table_assets",
    "pipeline_params",
    "plan_params",
    "publish_assets",
    "record_changed",
    "record_task_failure",
    "record_task_recovery",
    "run_type",
    "run_url",
    "scored_table_asset",
    "selected_models",
    "skip_unless_asked",
    "skip_unless_selected",
    "slack_target",
    "warehouse",
]
