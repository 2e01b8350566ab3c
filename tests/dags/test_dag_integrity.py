"""Every DAG file imports, and every DAG carries what operating it needs (Airflow best practice).

Nothing here imports airflow at module level: the `dagbag` fixture configures it first.
"""

from __future__ import annotations

from liftline import settings
from liftline.cli.run import CHAIN
from liftline.contract import SOURCES

DAG_FILES = sorted(p.name for p in (settings.project_root() / "dags").glob("*.py"))


def test_every_dag_file_imports(dagbag):
    assert dagbag.import_errors == {}
    assert DAG_FILES, "no DAG files found"
    assert set(DAG_FILES) <= {dag.relative_fileloc for dag in dagbag.dags.values()}


def test_the_runner_chain_names_existing_dags_first(dagbag):
    assert CHAIN[0] == "ingest_extracts" and "ingest_extracts" in dagbag.dags


def test_dags_are_operable(dagbag):
    for dag in dagbag.dags.values():
        assert dag.tags, f"{dag.dag_id}: no tags"
        assert dag.doc_md and dag.doc_md.strip(), f"{dag.dag_id}: no doc_md"
        assert dag.default_args.get("owner") not in (None, "", "airflow"), f"{dag.dag_id}: owner"
        assert dag.default_args.get("retries", 0) >= 2, f"{dag.dag_id}: retries < 2"
        assert dag.default_args.get("retry_delay"), f"{dag.dag_id}: no retry_delay"
        assert dag.catchup is False, f"{dag.dag_id}: catchup"
        dag.check_cycle()
        assert len(dag.topological_sort()) == len(dag.tasks)


def test_ingest_dag_shape(dagbag):
    from liftline_airflow import CLEAN_TABLES

    dag = dagbag.dags["ingest_extracts"]
    assert dag.schedule == "*/30 * * * *" and dag.max_active_runs == 1
    assert set(dag.params) == {"settle_seconds", "as_of"}
    tasks = dag.task_dict
    assert tasks["ingest_dimension"].downstream_task_ids == {"ingest_fact", "fail_if_any_failed"}
    for mapped in ("ingest_dimension", "ingest_fact"):
        assert tasks[mapped].outlets == [CLEAN_TABLES]
    # Alerts go out even when an ingest failed; the watcher then still fails the run.
    assert tasks["deliver_alerts"].trigger_rule == "all_done"
    assert tasks["fail_if_any_failed"].trigger_rule == "one_failed"
    assert set(tasks["fail_if_any_failed"].upstream_task_ids) == {
        "ingest_dimension", "ingest_fact", "deliver_alerts"}
    assert dag.default_args["retries"] >= 2


def test_clean_table_assets_are_stable(dagbag):
    from airflow.sdk import Asset
    from liftline_airflow import clean_table_asset

    asset = clean_table_asset("clean_pos")
    assert isinstance(asset, Asset)
    assert (asset.name, asset.uri) == ("clean_pos", "liftline://warehouse/clean_pos")


def test_features_dag_shape(dagbag):
    from liftline_airflow import FEATURE_TABLES

    from liftline.features import FEATURE_SPECS

    dag = dagbag.dags["build_features"]
    assert {"full_refresh", "as_of"} <= set(dag.params)
    assert dag.max_active_runs == 1
    # Scheduled on every clean table's Asset.
    assert {a.uri for a in dag.schedule.objects} == {
        f"liftline://warehouse/clean_{source}" for source in SOURCES}
    tasks = dag.task_dict
    assert {spec.table for spec in FEATURE_SPECS} <= set(tasks)
    # Roll-ups after what they read; independent tables run even after a failure.
    assert tasks["feat_sales_store_daily"].upstream_task_ids == {"feat_sales_daily"}
    assert tasks["feat_sales_daily"].upstream_task_ids == {"feat_calendar"}
    assert tasks["feat_customer"].trigger_rule == "all_done"
    assert tasks["feat_sales_daily"].trigger_rule == "all_success"
    assert all(tasks[spec.table].outlets == [FEATURE_TABLES] for spec in FEATURE_SPECS)
    assert set(tasks["fail_if_any_failed"].upstream_task_ids) == {s.table for s in FEATURE_SPECS}


def test_training_dag_maps_one_task_per_region_and_per_mix_model(dagbag):
    dag = dagbag.dags["train_models"]
    assert dag.schedule == "@weekly" and dag.max_active_runs == 1
    tasks = dag.task_dict
    assert tasks["train_forecast"].upstream_task_ids == {"forecast_regions"}
    assert tasks["fit_mmm"].upstream_task_ids == {"mmm_fits"}
    # Mapped: a failed region or country is retried and rerun on its own.
    assert type(tasks["train_forecast"]).__name__.endswith("MappedOperator")
    assert type(tasks["fit_mmm"]).__name__.endswith("MappedOperator")
    assert "train_promo_lift" in tasks["fail_if_any_failed"].upstream_task_ids
    assert tasks["fail_if_any_failed"].trigger_rule == "one_failed"


def test_scoring_dag_delivers_alerts_even_after_a_failure(dagbag):
    dag = dagbag.dags["score_models"]
    assert dag.schedule == "@daily"
    tasks = dag.task_dict
    assert tasks["deliver_alerts"].upstream_task_ids == {"score_forecasts", "score_promotions"}
    assert tasks["deliver_alerts"].trigger_rule == "all_done"
    assert tasks["fail_if_any_failed"].trigger_rule == "one_failed"


def test_the_runner_trains_scores_and_monitors_after_features():
    assert CHAIN == ("ingest_extracts", "build_features", "train_models", "score_models",
                     "monitor_lift")


def test_the_lift_monitor_runs_daily_and_delivers_its_alerts(dagbag):
    dag = dagbag.dags["monitor_lift"]
    assert dag.schedule == "@daily" and dag.max_active_runs == 1
    tasks = dag.task_dict
    assert tasks["deliver_alerts"].upstream_task_ids == {"monitor_lift"}
    assert tasks["deliver_alerts"].trigger_rule == "all_done"
