"""Who may ingest a source, and when a file's rows may be written.

Two locks, always taken in this order, so they never deadlock:

- `source_claim`: one run at a time ingests a source, from listing landing/<source>/ to the last
  file filed away and its archived path recorded. A second run (another scheduler, a manual
  rerun, a Celery worker on another host) waits for it, logging for whom, and then lists
  landing/ again: it finds only files that arrived since, so no file is loaded twice or filed as
  a duplicate of itself half-way through its move. A warehouse lock (`warehouse_lock`): an
  advisory lock on PostgreSQL, so it holds across hosts; a file beside the SQLite database.
- `write_turn`: the write transaction of one file. SQLite has one writer anyway: a file lock
  beside the database makes other sources' writers wait in line for as long as a big file
  takes, instead of failing after SQLite's busy timeout. On PostgreSQL sources load in parallel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine

from liftline.warehouse import (
    file_lock,
    holder_name,
    sqlite_file,
    warehouse_lock,
    write_transaction,
)


@contextmanager
def source_claim(engine: Engine, source: str, run_id: str | None,
                 log: Callable[[str], None]) -> Iterator[float]:
    """Hold the ingest of `source` on this warehouse; yields the seconds waited for it."""
    holder = holder_name(f"run {run_id}" if run_id else "a run")
    with warehouse_lock(engine, f"liftline.ingest.{source}", f"the ingest of {source}",
                        holder, log) as waited:
        yield waited


@contextmanager
def write_turn(engine: Engine) -> Iterator[Connection]:
    """A write transaction, after any other process's ingest write on a SQLite warehouse."""
    with ExitStack() as stack:
        lock_path = _sqlite_lock_path(engine)
        if lock_path is not None:
            stack.enter_context(file_lock(lock_path, "the SQLite write lock",
                                          holder_name("an ingest write")))
        yield stack.enter_context(write_transaction(engine))



def _sqlite_lock_path(engine: Engine) -> Path | None:
    database = sqlite_file(engine)
    return None if database is None else database.with_name(database.name + ".ingest-lock")
