"""Checks a command makes before it starts work: a warehouse it can reach, something to run on.

Each failure is a `SetupError`: one line saying what is wrong and what to do, exit status 2.
`connect_warehouse` is the one reachability check every command that needs the warehouse
uses (main.py runs it before such a command starts); it makes a real round trip, because
building an engine connects to nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine, create_engine, inspect, literal, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from liftline.contract import SOURCES
from liftline.ingest import pending_sources, ready_files
from liftline.warehouse import clean_table, get_engine

# A PostgreSQL host that drops packets would otherwise make the check wait for the OS timeout.
CONNECT_TIMEOUT_SECONDS = 10


class SetupError(Exception):
    """The environment is not ready for the command (exit status 2); the message is one line."""


def connect_warehouse() -> Engine:
    """The warehouse engine (LIFTLINE_WAREHOUSE_URL), after a `SELECT 1` on it succeeded."""
    try:
        engine = get_engine()
    except ValueError as exc:  # an unusable URL or an uncreatable SQLite folder
        raise SetupError(str(exc)) from None
    try:
        _select_one(engine)
    except (DBAPIError, OSError) as exc:
        raise SetupError(unreachable_message(engine.url, exc)) from None
    return engine


def _select_one(engine: Engine) -> None:
    if engine.dialect.name == "postgresql" and "connect_timeout" not in engine.url.query:
        # A throwaway engine only to bound the wait; the pipeline keeps the pooled one.
        probe = create_engine(engine.url, poolclass=NullPool,
                              connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS})
        try:
            with probe.connect() as conn:
                conn.execute(select(literal(1)))
        finally:
            probe.dispose()
        return
    # SQLite: through the pipeline's own engine, so its connect-time PRAGMAs (WAL) run too.
    with engine.connect() as conn:
        conn.execute(select(literal(1)))


def unreachable_message(url: URL, error: BaseException) -> str:
    """One line: which warehouse (password hidden), the driver's reason, what to do."""
    shown = url.render_as_string(hide_password=True)
    reason = driver_reason(error)
    if url.get_backend_name() == "sqlite":
        return (f"cannot open the warehouse {shown} ({reason}): set LIFTLINE_HOME or "
                "LIFTLINE_WAREHOUSE_URL to a database file in a writable folder")
    return (f"cannot connect to the warehouse {shown} ({reason}): start the database, or set "
            "LIFTLINE_WAREHOUSE_URL to one this machine can reach")


def driver_reason(error: BaseException) -> str:
    """The driver's own words, without libpq's preamble: e.g. 'Connection refused'."""
    text = str(getattr(error, "orig", None) or error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    first = re.sub(r"^connection failed: ", "", first)
    first = re.sub(r"^connection to server (at|on) .*? failed: ", "", first)
    first = re.sub(r"^FATAL:\s+", "", first)
    return re.sub(r"\s+", " ", first).strip() or type(error).__name__


def require_something_to_run(engine: Engine, home: Path, settle_seconds: float) -> None:
    """SetupError when landing/ has no file ready to ingest and the warehouse holds no data.

    A run over existing data with an empty landing/ is a legitimate rerun, so it passes.
    """
    notes: list[str] = []
    if pending_sources(home, settle_seconds, log=notes.append) or warehouse_has_data(engine):
        return
    landing = home / "landing"
    waiting = sum(len(ready_files(home, source, 0)) for source in SOURCES)
    if waiting:
        raise SetupError(
            f"nothing to run on yet: the {waiting} file(s) in landing/ ({landing}) changed less "
            f"than {settle_seconds:g}s ago and the warehouse holds no data; wait, or pass "
            "--settle-seconds 0")
    stray = f" ({notes[0]})" if notes else ""
    raise SetupError(
        f"nothing to run on: landing/ ({landing}) holds no extracts{stray} and the warehouse "
        "holds no data; drop extracts into landing/<source>/ or run `liftline demo`")


def warehouse_has_data(engine: Engine) -> bool:
    """Whether any clean table exists and has a row (an ingest ever loaded something)."""
    existing = set(inspect(engine).get_table_names())
    tables = [clean_table(name) for name in SOURCES]
    with engine.connect() as conn:
        return any(conn.execute(select(literal(1)).select_from(t).limit(1)).first() is not None
                   for t in tables if t.name in existing)
