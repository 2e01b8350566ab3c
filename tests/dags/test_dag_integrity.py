"""Every DAG file imports, every DAG carries what operating it needs (Airflow best practice), and
the DAGs chain each other through Assets: ingest -> features -> (train) -> score -> monitor.

Nothing here imports airflow at module level: the `dagbag` fixture configures it first.
"""

from __future__ import annotations

from liftline import settings
from liftline.cli.run import CHAIN
from liftline.contract import SOURCES

DAG_FILES = sorted(p.name for p in (settings.project_root() / "dags").glob("*.py"))
SHARED_PARAMS = {"as_of", "full_refresh", "models", "settle_seconds"}


def _uris(condition) -> set[str]:  # noqa: ANN001 - an AssetAny
    assert type(condition).__name__ == "AssetAny", condition
    return {asset.uri for asset in condition.objects}


def _feature_uris() -> set[str]:
    from liftline.features import FEATURE_SPECS

    return {f"liftline://warehouse/{spec.table}" for spec in FEATURE_SPECS}


def test_every_dag_file_imports(dagbag):
    assert dagbag.import_errors == {}
    assert DAG_FILES, "no DAG files found"
    assert set(DAG_FILES) <= {dag.relative_fileloc for dag in dagbag.dags.values()}


def test_the_runner_chain_is_every_dag_in_asset_order(dagbag):
    assert CHAIN == ("ingest_extracts", "build_features", "train_models", "score_models",
                     "monitor_models")
    assert set(CHAIN) == set(dagbag.dags)


def test_dags_are_operable(dagbag):
    for dag in dagbag.dags.values():
        assert dag.tags, f"{dag.dag_id}: no tags"
        assert dag.doc_md and dag.doc_md.strip(), f"{dag.dag_id}: no doc_md"
        assert dag.default_args.get("owner") not in (None, "", "airflow"), f"{dag.dag_id}: owner"
        assert dag.default_args.get("retries", 0) >= 2, f"{dag.dag_id}: retries < 2"
        assert dag.default_args.get("retry_delay"), f"{dag.dag_id}: no retry_delay"
        assert dag.catchup is False, f"{dag.dag_id}: catchup"
        assert dag.max_active_runs == 1, f"{dag.dag_id}: max_active_runs"
        dag.check_cycle()
        assert len(dag.topological_sort()) == len(dag.tasks)


def test_every_dag_takes_the_shared_params(dagbag):
    from liftline_airflow import MODEL_FAMILIES

    from liftline.registry import FAMILY_SPECS

    assert tuple(FAMILY_SPECS) == MODEL_FAMILIES

    for dag in dagbag.dags.values():
        assert set(dag.params) >= SHARED_PARAMS, dag.dag_id
        values = dag.params.dump()
        assert values["as_of"] is None and values["full_refresh"] is False, dag.dag_id
        assert values["models"] == [], dag.dag_id
        schema = dag.params.get_param("models").schema
        assert schema["items"]["enum"] == list(MODEL_FAMILIES), dag.dag_id
    assert set(dagbag.dags["train_models"].params) == SHARED_PARAMS | {"force"}
    # The scheduled ingest waits for files to settle; the runner passes 0.
    assert dagbag.dags["ingest_extracts"].params["settle_seconds"] == settings.settle_seconds()


def test_every_task_alerts_on_its_final_failure_and_audits_manual_runs(dagbag):
    from liftline_airflow import audit_manual_run, record_task_failure, record_task_recovery

    for dag in dagbag.dags.values():
        assert dag.default_args["on_failure_callback"] is record_task_failure
        assert dag.default_args["on_success_callback"] is record_task_recovery
        assert dag.default_args["pre_execute"] is audit_manual_run
        for task in dag.tasks:
            label = f"{dag.dag_id}.{task.task_id}"
            pre_execute = (task.partial_kwargs.get("pre_execute")
                           if hasattr(task, "partial_kwargs") else task._pre_execute_hook)
            assert pre_execute is audit_manual_run, label
            callbacks = (task.partial_kwargs.get("on_failure_callback")
                         if hasattr(task, "partial_kwargs") else task.on_failure_callback)
            if task.task_id == "fail_if_any_failed":
                # The watcher's failure only repeats the failed task's alert.
                assert not callbacks, label
            else:
                assert record_task_failure in (callbacks if isinstance(callbacks, list)
                                               else [callbacks]), label


def test_every_dag_ends_with_the_shared_alert_delivery_and_watcher(dagbag):
    for dag in dagbag.dags.values():
        tasks = dag.task_dict
        deliver, watcher = tasks["deliver_alerts"], tasks["fail_if_any_failed"]
        assert deliver.trigger_rule == "all_done", dag.dag_id
        assert watcher.trigger_rule == "one_failed" and watcher.retries == 0, dag.dag_id
        assert "deliver_alerts" in watcher.upstream_task_ids, dag.dag_id
        assert not watcher.downstream_task_ids and not deliver.downstream_task_ids - {
            "fail_if_any_failed"}, dag.dag_id
        # The watcher sees every task that does work, not only the last one.
        work = {t.task_id for t in dag.tasks} - {"deliver_alerts", "fail_if_any_failed"}
        assert work <= watcher.get_flat_relative_ids(upstream=True), dag.dag_id


def test_producers_emit_their_assets_once_after_all_their_work(dagbag):
    # Airflow emits a task's events when that task ends: an event from the first feature table
    # would start scoring before the others are built. One task emits after all of them.
    from liftline_airflow import CHAMPIONS, CLEAN_TABLES, FEATURE_TABLES, SCORED_TABLES

    aliases = {"ingest_extracts": CLEAN_TABLES, "build_features": FEATURE_TABLES,
               "train_models": CHAMPIONS, "score_models": SCORED_TABLES}
    for dag in dagbag.dags.values():
        with_outlets = {t.task_id for t in dag.tasks if _outlets(t)}
        if dag.dag_id not in aliases:
            assert with_outlets == set(), dag.dag_id
            continue
        assert with_outlets == {"publish_assets"}, dag.dag_id
        publish = dag.task_dict["publish_assets"]
        assert publish.outlets == [aliases[dag.dag_id]], dag.dag_id
        assert publish.trigger_rule == "all_done", dag.dag_id
        work = {t.task_id for t in dag.tasks} - {"publish_assets", "deliver_alerts",
                                                  "fail_if_any_failed"}
        assert work <= publish.get_flat_relative_ids(upstream=True), dag.dag_id
        assert publish.downstream_task_ids == {"deliver_alerts", "fail_if_any_failed"}


def _outlets(task) -> list:  # noqa: ANN001 - an operator or a mapped operator
    if hasattr(task, "partial_kwargs"):
        return task.partial_kwargs.get("outlets") or []
    return task.outlets


def test_ingest_dag_shape(dagbag):
    dag = dagbag.dags["ingest_extracts"]
    assert dag.schedule == "*/30 * * * *"
    tasks = dag.task_dict
    assert tasks["ingest_dimension"].downstream_task_ids == {"ingest_fact", "fail_if_any_failed"}
    assert set(tasks["fail_if_any_failed"].upstream_task_ids) == {
        "ingest_dimension", "ingest_fact", "publish_assets", "deliver_alerts"}


def test_table_assets_are_stable(dagbag):
    from airflow.sdk import Asset
    from liftline_airflow import CHAMPIONS_ASSET, clean_table_asset, scored_table_asset
    from sqlalchemy.sql.elements import quoted_name

    asset = clean_table_asset("clean_pos")
    assert isinstance(asset, Asset)
    assert (asset.name, asset.uri) == ("clean_pos", "liftline://warehouse/clean_pos")
    assert scored_table_asset("ml_promo_lift").uri == "liftline://warehouse/ml_promo_lift"
    assert CHAMPIONS_ASSET.uri == "liftline://registry/champions"
    # The library hands over SQLAlchemy names; Airflow's task supervisor cannot send those.
    assert type(clean_table_asset(quoted_name("clean_pos", None)).name) is str


def test_features_dag_runs_on_every_clean_table(dagbag):
    from liftline_airflow import FEATURE_TABLE_NAMES

    from liftline.features import FEATURE_SPECS

    dag = dagbag.dags["build_features"]
    assert _uris(dag.schedule) == {f"liftline://warehouse/clean_{source}" for source in SOURCES}
    tasks = dag.task_dict
    assert set(FEATURE_TABLE_NAMES) == {spec.table for spec in FEATURE_SPECS}
    # Roll-ups after what they read; independent tables run even after a failure.
    assert tasks["feat_sales_store_daily"].upstream_task_ids == {"feat_sales_daily"}
    assert tasks["feat_sales_daily"].upstream_task_ids == {"feat_calendar"}
    assert tasks["feat_customer"].trigger_rule == "all_done"
    assert tasks["feat_sales_daily"].trigger_rule == "all_success"
    assert {s.table for s in FEATURE_SPECS} <= set(tasks["fail_if_any_failed"].upstream_task_ids)


def test_training_runs_weekly_and_after_new_features_behind_a_due_check(dagbag):
    dag = dagbag.dags["train_models"]
    schedule = dag.schedule
    assert type(schedule).__name__ == "AssetOrTimeSchedule"
    assert schedule.timetable.expression == "0 0 * * 1"  # weekly, Monday 00:00 UTC
    assert _uris(schedule.asset_condition) == _feature_uris()
    tasks = dag.task_dict
    due = tasks["due_models"]
    assert type(due).__name__ == "_ShortCircuitDecoratedOperator"
    assert due.ignore_downstream_trigger_rules  # nothing due: every later task is skipped
    assert not due.upstream_task_ids
    assert due.downstream_task_ids == {"forecast_regions", "mmm_fits", "train_promo_lift",
                                       "train_segments", "train_satisfaction"}
    assert tasks["train_forecast"].upstream_task_ids == {"forecast_regions"}
    assert tasks["fit_mmm"].upstream_task_ids == {"mmm_fits"}
    # Mapped: a failed region or country is retried and rerun on its own.
    for mapped in ("train_forecast", "fit_mmm"):
        assert type(tasks[mapped]).__name__.endswith("MappedOperator")


def test_scoring_runs_on_new_features_and_new_champions(dagbag):
    dag = dagbag.dags["score_models"]
    assert _uris(dag.schedule) == _feature_uris() | {"liftline://registry/champions"}
    tasks = dag.task_dict
    scoring = {"score_forecasts", "score_promotions", "score_segments", "score_satisfaction",
               "recommend_experiment"}
    # The quarter plan only on demand, after scoring whatever its outcome, before the Asset
    # events (after all the DAG's work) and the alerts (its own goes out in the same run).
    assert tasks["publish_assets"].upstream_task_ids == {"plan_quarter"}
    assert dag.params.dump()["plan_quarter"] is False
    assert tasks["plan_quarter"].upstream_task_ids == scoring
    assert tasks["plan_quarter"].trigger_rule == "all_done"
    assert tasks["deliver_alerts"].upstream_task_ids == {"publish_assets"}


def test_the_monitor_runs_on_scoring_outputs_and_daily(dagbag):
    dag = dagbag.dags["monitor_models"]
    schedule = dag.schedule
    assert type(schedule).__name__ == "AssetOrTimeSchedule"
    assert schedule.timetable.expression == "0 6 * * *"
    assert _uris(schedule.asset_condition) == {"liftline://warehouse/ml_sales_forecast",
                                               "liftline://warehouse/ml_promo_lift"}
    tasks = dag.task_dict
    checks = {"monitor_lift", "check_drift", "check_accuracy", "check_freshness",
              "check_stale_models", "check_plan"}
    # The weekly summary counts the checks' alerts, and goes out in the same run.
    assert tasks["record_weekly_summary"].upstream_task_ids == checks
    assert tasks["record_weekly_summary"].trigger_rule == "all_done"
    assert tasks["deliver_alerts"].upstream_task_ids == checks | {"record_weekly_summary"}


def test_every_asset_a_consumer_waits_for_has_a_producer(dagbag):
    # Scheduling on an Asset nobody emits would leave a DAG waiting forever.
    from liftline_airflow import FEATURE_TABLE_NAMES, SCORED_TABLE_NAMES

    produced = {f"liftline://warehouse/clean_{s}" for s in SOURCES}
    produced |= {f"liftline://warehouse/{t}" for t in (*FEATURE_TABLE_NAMES, *SCORED_TABLE_NAMES)}
    produced.add("liftline://registry/champions")
    for dag in dagbag.dags.values():
        schedule = getattr(dag.schedule, "asset_condition", dag.schedule)
        if hasattr(schedule, "objects"):
            assert _uris(schedule) <= produced, dag.dag_id
