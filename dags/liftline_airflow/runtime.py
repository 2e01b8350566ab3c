"""What task code needs at run time: the warehouse, the Slack target, UI links, XCom-safe values."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from airflow.sdk import Connection, conf
from airflow.sdk.exceptions import AirflowNotFoundException

SLACK_CONN_ID = "slack_api_default"


def warehouse():
    """The configured warehouse's engine, its schema created or migrated (idempotent)."""
    from liftline.warehouse import create_schema, get_engine

    engine = get_engine()
    create_schema(engine)
    return engine


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
    """Link to a DAG run in the Airflow UI: from LIFTLINE_BASE_URL (the UI's public address,
    which the alerts' report links use too), else `[api] base_url` as task log links use."""
    from liftline import settings

    base = (settings.base_url() or conf.get("api", "base_url", fallback=None)
            or "http://localhost:8080")
    return f"{base.rstrip('/')}/dags/{dag_id}/runs/{quote(run_id, safe='')}"


def for_xcom(value: Any) -> Any:
    """A task's summary as strict JSON for XCom: dataclasses as dicts, dates and other objects
    as strings, NaN and infinities as null (XCom refuses them)."""
    import json
    from dataclasses import asdict, is_dataclass

    if is_dataclass(value):
        value = asdict(value)
    return json.loads(json.dumps(value, default=str), parse_constant=lambda _: None)


def run_type(dag_run: Any) -> str:
    """The run's type as its plain value: manual, scheduled, asset_triggered, backfill, ..."""
    kind = dag_run.run_type
    return str(getattr(kind, "value", kind))  # str() of the SDK's enum is "DagRunType.MANUAL"


def map_label(ti: Any) -> str | None:
    """A mapped task instance's label (its rendered map index, e.g. the source), else None."""
    index = getattr(ti, "map_index", -1)
    if index is None or index < 0:
        return None
    return getattr(ti, "rendered_map_index", None) or str(index)
