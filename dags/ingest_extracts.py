"""Ingest extracts from landing/<source>/ into raw and validated clean tables, every 30 minutes.

Thin wiring of `liftline.ingest`; the logic (settling, hashing, validation, quarantine,
data-quality alerts) lives in the library.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import TriggerRule, dag, get_current_context, task
from liftline_airflow import (
    CLEAN_TABLES,
    DEFAULT_ARGS,
    clean_table_asset,
    deliver_alerts,
    fail_if_any_failed,
    for_xcom,
    pipeline_params,
    publish_assets,
    record_changed,
    run_url,
)

from liftline import settings

DOC_MD = """
### Ingest extracts

Every 30 minutes (or on demand), each file in `$LIFTLINE_HOME/landing/<source>/` that has not
changed for `settle_seconds` is loaded into the raw layer, validated, and either merged into
its clean table (file moved to `archive/`) or quarantined with a reason (`quarantine/`, plus a
`data_quality` alert). Re-delivering the same bytes changes nothing.

* `prepare` creates or upgrades the warehouse schema and lists the sources with a ready file;
  its log names what `landing/` holds that is not taken (hidden and temporary files, folders
  that are no source) and the symbolic links and special files it refuses to read.
* `ingest_dimension` (stores, products, customers) runs before `ingest_fact`, so referential
  checks see the latest dimensions. A list with nothing to ingest is skipped. A source that
  another run is ingesting is waited for (the task log says for whom), then only files that
  arrived since are taken.
* `publish_assets`, after every ingest, emits an Asset event for each clean table the run
  changed through the `liftline_clean_tables` alias (`liftline://warehouse/<table>`):
  `build_features` is scheduled on these.
* `deliver_alerts` always runs, even after a failed ingest, and posts pending alerts to Slack
  (connection `slack_api_default`; without it they stay recorded as `not_configured`).
* `fail_if_any_failed` keeps the run red when an ingest failed (otherwise the always-running
  `deliver_alerts` leaf would mark it green).

Rerun a failed source by clearing its `ingest_*` task (with downstream). `settle_seconds` is the
only param ingest uses; `as_of`, `full_refresh` and `models` are the pipeline's shared params.
"""

# Mapped instances are labelled by their source in the UI (e.g. ingest_fact [pos]).
MAPPED = {"map_index_template": "{{ task.op_kwargs['source'] }}"}


@dag(
    dag_id="ingest_extracts",
    schedule="*/30 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["liftline", "ingest"],
    doc_md=DOC_MD,
    params=pipeline_params(
        as_of="unused by ingest; the runner passes it to every DAG",
        settle_seconds=settings.settle_seconds(),
        settle_help="leave files modified less than this many seconds ago for the next run",
    ),
)
def ingest_extracts():
    @task
    def prepare() -> dict[str, list[str]]:
        from liftline.ingest import DIMENSION_SOURCES, pending_sources
        from liftline.warehouse import create_schema, get_engine

        create_schema(get_engine())
        pending = pending_sources(settle_seconds=get_current_context()["params"]["settle_seconds"])
        return {
            "dimensions": [s for s in pending if s in DIMENSION_SOURCES],
            "facts": [s for s in pending if s not in DIMENSION_SOURCES],
        }

    # Airflow maps over a whole XCom only, not over one key of it: one small pick task per list.
    @task
    def pick(pending: dict[str, list[str]], kind: str) -> list[str]:
        return pending[kind]

    @task(**MAPPED)
    def ingest_dimension(source: str) -> dict:
        return _ingest(source)

    # none_failed: still runs when there were no dimensions (skipped), not after a failed one.
    @task(trigger_rule=TriggerRule.NONE_FAILED, **MAPPED)
    def ingest_fact(source: str) -> dict:
        return _ingest(source)

    pending = prepare()
    dimensions = ingest_dimension.expand(
        source=pick.override(task_id="dimension_sources")(pending, "dimensions")
    )
    facts = ingest_fact.expand(source=pick.override(task_id="fact_sources")(pending, "facts"))
    published = publish_assets(CLEAN_TABLES, clean_table_asset)
    alerts = deliver_alerts()
    dimensions >> facts >> published >> alerts
    [dimensions, facts, published, alerts] >> fail_if_any_failed("an ingest task")


def _ingest(source: str) -> dict:
    """Ingest one source; tell publish_assets which clean tables it changed."""
    from liftline.ingest import ingest_source

    ctx = get_current_context()
    run_id = ctx["run_id"]
    result = ingest_source(
        source,
        run_id=run_id,
        run_url=run_url(ctx["dag"].dag_id, run_id),
        settle_seconds=ctx["params"]["settle_seconds"],
    )
    record_changed(result.changed_tables)
    return for_xcom(result.to_dict())


ingest_extracts()
