"""Airflow glue shared by the Liftline DAGs: defaults, clean-table assets, Slack target, run links.

Lives in the DAGs folder because Airflow 3 puts the DAG bundle's root on `sys.path` wherever it
parses DAG files (DAG processor, workers, `dag.test()`), so every DAG can
`from liftline_airflow import ...`. The library (`liftline`) is imported lazily, inside functions,
so parsing a DAG stays cheap. `.airflowignore` keeps the DAG parser out of this package.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

from airflow.sdk import Asset, AssetAlias, Connection, Param, conf
from airflow.sdk.exceptions import AirflowNotFoundException

SLACK_CONN_ID = "slack_api_default"

DEFAULT_ARGS = {
    "owner": "liftline",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
}

# Every clean table a run changes is emitted through this alias as its own Asset (below), so an
# ingest run that changed only clean_pos triggers only consumers of clean_pos.
CLEAN_TABLES = AssetAlias("liftline_clean_tables")
# Likewise for feature tables: a build that changed nothing emits nothing downstream.
FEATURE_TABLES = AssetAlias("liftline_feature_tables")


_UNUSED = "unused here; the runner passes it to every DAG"


def pipeline_params(as_of: str, full_refresh: str = _UNUSED) -> dict[str, Param]:
    """The params `liftline run` passes to every DAG after ingest, with this DAG's help texts."""
    return {
        "full_refresh": Param(False, type="boolean", description=full_refresh),
        "as_of": Param(None, type=["null", "string"], format="date", description=as_of),
        "settle_seconds": Param(0, type="number", minimum=0, description=_UNUSED),
    }


def clean_table_asset(table: str) -> Asset:
    """The Asset of a clean warehouse table: schedule downstream DAGs on these."""
    return Asset(name=table, uri=f"liftline://warehouse/{table}", group="liftline_clean")


def feature_table_asset(table: str) -> Asset:
    """The Asset of a feature table (feat_*): schedule model training and scoring on these."""
    return Asset(name=table, uri=f"liftline://warehouse/{table}", group="liftline_features")


def slack_target():
    """The Slack target from the `slack_api_default` connection, or None when it is not set up.

    Token in the password field; `extra.base_url` points the client elsewhere (tests, proxies).
    """
    from liftline import settings
    from liftline.alerts import SlackTarget

    try:
        conn = Connection.get(SLACK_CONN_ID)
    except AirflowNotFoundException:
        print(f"no Airflow connection {SLACK_CONN_ID!r}: alerts are recorded, not sent to Slack")
        return None
    if not conn.password:
        print(f"connection {SLACK_CONN_ID!r} has no token (password field): alerts not sent")
        return None
    base_url = conn.extra_dejson.get("base_url") or None
    return SlackTarget(token=conn.password, channel=settings.slack_channel(), base_url=base_url)


def run_url(dag_id: str, run_id: str) -> str:
    """Link to a DAG run in the Airflow UI (base from `[api] base_url`, as task log links use)."""
    base = conf.get("api", "base_url", fallback=None) or "http://localhost:8080"
    return f"{base.rstrip('/')}/dags/{dag_id}/runs/{quote(run_id, safe='')}"


def warehouse():
    """The configured warehouse's engine, its schema created or migrated (idempotent)."""
    from liftline.warehouse import create_schema, get_engine

    engine = get_engine()
    create_schema(engine)
    return engine


def for_xcom(value: Any) -> Any:
    """A task's summary as strict JSON for XCom: dataclasses as dicts, dates and other objects
    as strings, NaN and infinities as null (XCom refuses them)."""
    import json
    from dataclasses import asdict, is_dataclass

    if is_dataclass(value):
        value = asdict(value)
    return json.loads(json.dumps(value, default=str), parse_constant=lambda _: None)
