"""One SQLAlchemy engine per warehouse URL, configured so parallel tasks can share the warehouse.

SQLite is the embedded default and PostgreSQL (psycopg 3) is production. Airflow runs tasks in
parallel processes against the same file, so SQLite gets WAL (readers never block the writer),
a busy timeout (a writer waits for the lock instead of failing with "database is locked") and
SQLAlchemy-controlled BEGIN so DDL and savepoints are transactional.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, func, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from liftline import settings

from .locks import lock_key

SQLITE_BUSY_TIMEOUT_MS = 30_000

# Execution option that makes a SQLite transaction start with BEGIN IMMEDIATE (see below).
WRITE_OPTION = "liftline_write"

_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()

_URL_HINT = (
    "use e.g. sqlite:////path/to/warehouse.db or postgresql+psycopg://user@host:5432/db "
    "(set LIFTLINE_WAREHOUSE_URL)"
)


def get_engine(url: str | URL | None = None) -> Engine:
    """The engine for `url` (default: settings.warehouse_url()), created once per URL."""
    parsed = normalize_url(settings.warehouse_url() if url is None else url)
    key = parsed.render_as_string(hide_password=False)
    with _LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = _create(parsed)
            _ENGINES[key] = engine
        return engine


def dispose_engines() -> None:
    """Close every pooled connection and forget the cached engines (tests, forked workers)."""
    with _LOCK:
        engines = list(_ENGINES.values())
        _ENGINES.clear()
    for engine in engines:
        engine.dispose()


def _after_fork_in_child() -> None:
    # A forked worker (Airflow's task runner forks) must not reuse the parent's pooled
    # connections: two processes on one socket or SQLite handle corrupt each other's state.
    # close=False leaves them open for the parent, which still owns them.
    global _LOCK
    _LOCK = threading.Lock()
    for engine in _ENGINES.values():
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)


def normalize_url(url: str | URL) -> URL:
    """Parse `url`, mapping plain postgres URLs onto psycopg 3; one-line ValueError if unusable."""
    if isinstance(url, str):
        text = url.strip()
        if not text:
            raise ValueError(f"the warehouse URL is empty: {_URL_HINT}")
        # Heroku-style postgres:// and bare postgresql:// would pick psycopg2 or fail to load.
        text = re.sub(r"^(postgres|postgresql)://", "postgresql+psycopg://", text)
        try:
            parsed = make_url(text)
        except ArgumentError:
            raise ValueError(f"cannot parse warehouse URL {_redact(text)!r}: {_URL_HINT}") from None
    else:
        parsed = url
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        dialect_cls = parsed.get_dialect()
    except NoSuchModuleError:
        shown = _redact(parsed.render_as_string())
        raise ValueError(
            f"unsupported warehouse URL {shown!r}: no SQLAlchemy dialect/driver "
            f"{parsed.drivername!r} is installed; {_URL_HINT}"
        ) from None
    if getattr(dialect_cls, "is_async", False):
        raise ValueError(
            f"warehouse URL uses the async driver {parsed.drivername!r}, which the batch "
            f"pipeline cannot use; {_URL_HINT}"
        )
    return parsed


@contextmanager
def write_transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """A transaction that will write: on SQLite it takes the write lock up front.

    A deferred SQLite transaction that reads first and writes later fails at once with
    SQLITE_BUSY when another writer got in between (the busy timeout cannot help it); BEGIN
    IMMEDIATE waits for the lock under the busy timeout instead. Other dialects: plain begin().
    Given a Connection, it works inside the caller's transaction (e.g. to write several tables
    atomically) and leaves committing to the caller.
    """
    if isinstance(bind, Connection):
        yield bind
        return
    with bind.execution_options(**{WRITE_OPTION: True}).begin() as conn:
        yield conn


def advisory_xact_lock(conn: Connection, name: str) -> None:
    """On PostgreSQL, hold a lock called `name` until the transaction ends; elsewhere a no-op.

    SQLite needs none: its write transactions (BEGIN IMMEDIATE) already serialise writers.
    """
    if conn.dialect.name != "postgresql":
        return
    conn.execute(select(func.pg_advisory_xact_lock(lock_key(conn, name))))


def _create(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _create_sqlite(url)
    # pre_ping: long-lived Airflow workers outlive server-side idle timeouts and restarts.
    return create_engine(url, pool_pre_ping=True)


def _create_sqlite(url: URL) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or url.query.get("mode") == "memory"
    if not in_memory and not database.startswith("file:"):
        parent = Path(database).expanduser().parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(
                f"cannot create the warehouse directory {str(parent)!r} ({exc.strerror}): "
                "set LIFTLINE_HOME or LIFTLINE_WAREHOUSE_URL to a writable location"
            ) from None
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):  # noqa: ANN001 - DB-API objects
        # Let SQLAlchemy emit BEGIN (below): sqlite3's own legacy handling skips it for DDL.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first, so switching to WAL also waits for a concurrent opener.
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode = WAL")
                # NORMAL is durable across application crashes in WAL mode, and much faster.
                cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _redact(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
