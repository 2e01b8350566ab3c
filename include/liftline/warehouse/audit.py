"""The audit log, `ops_audit_log`: an append-only record of who changed what, and when.

Champion changes, rollbacks, recommendations issued, alerts sent, manual reruns and Param
overrides each append one event. The library offers `append_audit` and `read_audit` and nothing
that updates or deletes; the database refuses both too, through a trigger (SQLite and
PostgreSQL), so a hand-written `UPDATE` cannot rewrite history either.

An event's id is derived from what it records (action, entity, run and the after-state) unless
the caller passes one, so a task that is cleared and rerun appends nothing new: the insert of an
id that is already there is skipped, never overwritten.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
from typing import Any

import pandas as pd
from sqlalchemy import Column, Connection, DateTime, Engine, Index, String, Table, Text, select

from .engine import write_transaction
from .load import read_frame
from .tables import metadata

ops_audit_log = Table(
    "ops_audit_log",
    metadata,
    Column("event_id", String, primary_key=True),
    Column("at", DateTime, nullable=False),  # naive UTC
    Column("actor", String, nullable=False),  # the Airflow user, else the OS user
    Column("action", String, nullable=False),  # e.g. champion_changed, rollback, alert_sent
    Column("entity_key", String),  # what it is about: a model, a promotion, a DAG run
    Column("before_json", Text),
    Column("after_json", Text),
    Column("run_id", String),
    Index(None, "action", "at"),
    Index(None, "entity_key"),
)

_REFUSAL = "ops_audit_log is append-only: record a new event instead of changing one"

# Triggers that make the table append-only in the database itself; created idempotently by
# `guard_audit_log` whenever the schema is created or migrated.
_SQLITE_GUARDS = [
    f"CREATE TRIGGER IF NOT EXISTS ops_audit_log_no_{verb.lower()} BEFORE {verb} ON ops_audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END"
    for verb in ("UPDATE", "DELETE")
]
_PG_GUARD = [
    "CREATE OR REPLACE FUNCTION ops_audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN RAISE EXCEPTION '{_REFUSAL}'; END $$",
    "DROP TRIGGER IF EXISTS ops_audit_log_append_only ON ops_audit_log",
    "CREATE TRIGGER ops_audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
    "ON ops_audit_log FOR EACH STATEMENT EXECUTE FUNCTION ops_audit_log_refuse()",
]


def guard_audit_log(conn: Connection) -> None:
    """Install the triggers that refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        exists = conn.exec_driver_sql(
            "SELECT 1 FROM pg_trigger WHERE tgname = 'ops_audit_log_append_only' "
            "AND tgrelid = 'ops_audit_log'::regclass").first()
        statements = [] if exists else _PG_GUARD
    elif conn.dialect.name == "sqlite":
        statements = _SQLITE_GUARDS
    else:  # another dialect: the library still offers no update or delete
        statements = []
    for statement in statements:
        conn.exec_driver_sql(statement)


def current_actor(airflow_user: str | None = None) -> str:
    """Who is acting: the Airflow user who triggered the run when known, else the OS user."""
    if airflow_user:
        return f"airflow:{airflow_user}"
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (some containers)
        return f"os:{os.getuid()}"


def append_audit(bind: Engine | Connection, action: str, entity_key: str | None,
                 before: Any = None, after: Any = None, actor: str | None = None,
                 run_id: str | None = None, event_id: str | None = None) -> str:
    """Append one event (inside the caller's transaction when given a Connection); its id.

    `before` and `after` are stored as JSON. Appending an event whose id is already there (a
    rerun of the same task) is a no-op.
    """
    before_json = _json(before)
    after_json = _json(after)
    at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    # Within a run the same event is the same event (a retry); outside one, each call is new.
    moment = None if run_id else at.isoformat()
    event_id = event_id or _event_id(action, entity_key, run_id, moment, before_json, after_json)
    row = {"event_id": event_id, "at": at,
           "actor": actor or current_actor(), "action": action, "entity_key": entity_key,
           "before_json": before_json, "after_json": after_json, "run_id": run_id}
    with write_transaction(bind) as conn:
        seen = conn.execute(select(ops_audit_log.c.event_id)
                            .where(ops_audit_log.c.event_id == event_id)).first()
        if seen is None:
            conn.execute(ops_audit_log.insert().values(**row))
    return event_id


def read_audit(bind: Engine | Connection, action: str | None = None,
               entity_key: str | None = None) -> pd.DataFrame:
    """The audit events, oldest first, optionally of one action and/or entity."""
    query = select(ops_audit_log)
    if action is not None:
        query = query.where(ops_audit_log.c.action == action)
    if entity_key is not None:
        query = query.where(ops_audit_log.c.entity_key == entity_key)
    return read_frame(bind, query.order_by(ops_audit_log.c.at, ops_audit_log.c.event_id))


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def _event_id(*parts: str | None) -> str:
    digest = hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()
    return digest[:24]
