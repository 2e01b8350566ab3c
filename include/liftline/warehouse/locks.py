"""Locks that other processes respect: the second comer waits in line and says for whom.

- `file_lock`: an flock on a file, for state that lives on one file system (Airflow's metadata
  DB setup in LIFTLINE_HOME, a SQLite warehouse). The holder writes who it is into the file, so
  a waiter can name it; the operating system releases the lock when the holder dies.
- `warehouse_lock`: a named lock on one warehouse, held across several transactions. On
  PostgreSQL a session-level advisory lock keyed on database, schema and name, so it holds
  between Celery workers on different hosts and ends with the holder's connection; on SQLite a
  `file_lock` beside the database file (SQLite is only ever shared on one host).

Waiting is logged twice through `log`: when it starts (what, and who holds it) and when it ends
(after how long), so a run that seems stuck says why.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError

Log = Callable[[str], None]


def holder_name(label: str) -> str:
    """`label` with where and since when it runs, as a waiter shows it."""
    since = dt.datetime.now(dt.UTC)
    return f"{label} (pid {os.getpid()} on {socket.gethostname()}, since {since:%H:%M:%S} UTC)"


@contextmanager
def file_lock(path: Path, what: str, holder: str, log: Log | None = None) -> Iterator[float]:
    """Hold an exclusive flock on `path`; yields the seconds spent waiting for it.

    `what` names the lock in the log line ("the ingest of pos"); `holder` names this process
    for others (see `holder_name`). Threads of one process exclude each other too (each call
    opens its own file description).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            waited = 0.0
        except BlockingIOError:
            waited = _wait(lambda: fcntl.flock(handle, fcntl.LOCK_EX), what,
                           _read_holder(path) or "another process", log)
        _write_holder(handle, holder)
        try:
            yield waited
        finally:
            _write_holder(handle, "")  # still held: no waiter reads a stale name


@contextmanager
def warehouse_lock(engine: Engine, name: str, what: str, holder: str,
                   log: Log | None = None) -> Iterator[float]:
    """Hold the lock `name` of this warehouse across transactions; yields the seconds waited.

    An in-memory SQLite database cannot be shared between processes: no lock is needed.
    """
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, name, what, holder, log) as waited:
            yield waited
        return
    database = sqlite_file(engine)
    if database is None:
        yield 0.0
        return
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
    with file_lock(database.with_name(f"{database.name}.{slug}.lock"), what, holder,
                   log) as waited:
        yield waited


def sqlite_file(engine: Engine) -> Path | None:
    """The database file of a SQLite warehouse: None for PostgreSQL or an in-memory database,
    which no other process can share (so needs no lock between processes)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def lock_key(conn: Connection, name: str) -> int:
    """A stable signed 64-bit advisory lock key for `name` in this database and schema.

    Keyed on the warehouse, so two warehouses on one server (or tests in their own schemas)
    never wait for each other. Python's hash() differs between processes: SHA-256 does not.
    """
    database, schema = conn.execute(select(func.current_database(), func.current_schema())).one()
    digest = hashlib.sha256(f"{database}/{schema}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def _advisory_lock(engine: Engine, name: str, what: str, holder: str,
                   log: Log | None) -> Iterator[float]:
    # Autocommit: a session lock needs no open transaction, and an idle one would hold back
    # vacuum (and trip idle_in_transaction_session_timeout) for as long as the lock is held.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        key = lock_key(conn, name)
        # application_name is how a waiter in another process can tell who holds the lock.
        conn.execute(select(func.set_config("application_name", _short(holder), False)))
        if conn.execute(select(func.pg_try_advisory_lock(key))).scalar():
            waited = 0.0
        else:
            waited = _wait(lambda: conn.execute(select(func.pg_advisory_lock(key))), what,
                           _advisory_holder(conn, key) or "another session", log)
        try:
            yield waited
        finally:
            try:
                conn.execute(select(func.pg_advisory_unlock(key)))
                conn.execute(select(func.set_config("application_name", "", False)))
            except SQLAlchemyError:
                conn.invalidate()  # the session ends, and the server releases its locks


def _advisory_holder(conn: Connection, key: int) -> str | None:
    """Who holds the advisory lock `key`: its application name, or its backend and address."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    row = conn.execute(text(
        "SELECT a.application_name, a.pid, a.client_addr FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
        "AND l.classid::bigint = :high AND l.objid::bigint = :low "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
        {"high": unsigned >> 32, "low": unsigned & 0xFFFF_FFFF}).first()
    if row is None:
        return None
    return row.application_name or f"PostgreSQL backend {row.pid} from {row.client_addr}"


def _short(holder: str) -> str:
    """`holder` within PostgreSQL's 63 characters of application_name: "since" goes first."""
    return holder if len(holder) <= 63 else re.sub(r", since [^)]*\)$", ")", holder)[:63]


def _wait(acquire: Callable[[], object], what: str, other: str, log: Log | None) -> float:
    if log:
        log(f"waiting for {what}: {other} holds it")
    started = time.monotonic()
    acquire()
    waited = time.monotonic() - started
    if log:
        log(f"got {what} after waiting {waited:.1f}s")
    return waited


def _read_holder(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _write_holder(handle, holder: str) -> None:  # noqa: ANN001 - a text file object
    handle.seek(0)
    handle.truncate()
    handle.write(holder)
    handle.flush()
