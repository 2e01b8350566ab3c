"""One writer per source at a time, so parallel ingest tasks never fight over the warehouse.

SQLite has one writer anyway: a file lock beside the database makes the others wait in line
for as long as a big file takes, instead of failing after SQLite's busy timeout. On PostgreSQL
different sources load in parallel; a transaction-scoped advisory lock per source keeps two runs
from loading the same source at once.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine

from liftline.warehouse import advisory_xact_lock, write_transaction


@contextmanager
def source_lock(engine: Engine, source: str) -> Iterator[Connection]:
    """A write transaction holding the ingest lock of `source`."""
    with ExitStack() as stack:
        lock_path = _sqlite_lock_path(engine)
        if lock_path is not None:
            handle = stack.enter_context(open(lock_path, "a+b"))
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the handle closes
        conn = stack.enter_context(write_transaction(engine))
        advisory_xact_lock(conn, f"liftline.ingest.{source}")
        yield conn


def _sqlite_lock_path(engine: Engine) -> Path | None:
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).with_name(Path(database).name + ".ingest-lock")

