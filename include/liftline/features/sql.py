"""Small SQL pieces the feature builders share, identical on SQLite and PostgreSQL.

`day_number` turns a date into an integer day count, so window frames can say "the 7 days
before" (`RANGE BETWEEN 7 PRECEDING AND 1 PRECEDING`) on both dialects, and gaps in a series
count as days, not rows. `rewrite` is the write every frame-based builder makes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pandas as pd
from sqlalchemy import Connection, Integer, Table, delete
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from liftline.warehouse import bulk_insert

UNIX_EPOCH = date(1970, 1, 1)


class day_number(FunctionElement):  # noqa: N801  (reads like the SQL function it renders)
    """Days from 1970-01-01 to a DATE column or expression, as an integer."""

    type = Integer()
    inherit_cache = True
    name = "day_number"


@compiles(day_number, "sqlite")
def _day_number_sqlite(element, compiler, **kw):
    # SQLite stores dates as ISO text; julianday() of 1970-01-01 is 2440587.5.
    return f"CAST(julianday({compiler.process(element.clauses, **kw)}) - 2440587.5 AS INTEGER)"


@compiles(day_number, "postgresql")
def _day_number_postgresql(element, compiler, **kw):
    # date - date is an integer number of days.
    return f"({compiler.process(element.clauses, **kw)} - DATE '1970-01-01')"


def to_day_number(value: date | pd.Timestamp) -> int:
    return (pd.Timestamp(value).date() - UNIX_EPOCH).days


# Page cache of a SQLite build: the default 2 MB thrashes on tables of millions of rows.
SQLITE_BUILD_CACHE_KIB = 256 * 1024
# Per sort or hash on PostgreSQL (default 4 MB): large joins stay in memory instead of spilling.
POSTGRES_BUILD_WORK_MEM = "128MB"
# Per index build after a whole-table reload (default 64 MB): one in-memory sort, no spill.
POSTGRES_BUILD_INDEX_MEM = "512MB"


@contextmanager
def bulk_session(conn: Connection) -> Iterator[None]:
    """Session settings for one large build on `conn`, restored afterwards."""
    if conn.dialect.name == "postgresql":
        # SET LOCAL: this transaction only. Index builds after a bulk load sort in memory.
        conn.exec_driver_sql(f"SET LOCAL work_mem = '{POSTGRES_BUILD_WORK_MEM}'")
        conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{POSTGRES_BUILD_INDEX_MEM}'")
        yield
        return
    if conn.dialect.name != "sqlite":
        yield
        return
    previous = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_BUILD_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(previous)}")  # pooled: give memory back


def fresh_statistics(conn: Connection, *tables: Table) -> None:
    """On PostgreSQL, ANALYZE each of `tables` that was never analyzed or changed by more than
    a tenth since; elsewhere a no-op.

    A join of millions of rows planned on a table without statistics (say, POS right after its
    first ingest, before autovacuum got to it, or on a server that runs without autovacuum)
    becomes millions of index probes instead of hash joins. Sampling is a second or two.
    """
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        quoted = conn.dialect.identifier_preparer.format_table(table)
        stale = conn.exec_driver_sql(
            "SELECT last_analyze IS NULL AND last_autoanalyze IS NULL"
            " OR n_mod_since_analyze > n_live_tup / 10"
            " FROM pg_stat_all_tables WHERE relid = %(t)s::regclass", {"t": quoted},
        ).scalar()
        if stale is None or stale:
            conn.exec_driver_sql(f"ANALYZE {quoted}")


@contextmanager
def reloaded(conn: Connection, table: Table, whole: bool, since_condition=None) -> Iterator[None]:
    """Empty `table` (all of it when `whole`, else the rows matching `since_condition`) for a
    bulk load inside the block.

    A whole-table reload also drops the table's indexes and builds them again afterwards: one
    sort of the loaded rows is much cheaper than maintaining a B-tree per inserted row. On
    PostgreSQL that includes the primary key, and the old rows go by TRUNCATE, not DELETE: a
    DELETE writes a WAL record (and, after each checkpoint, a full-page image) for every row it
    removes and leaves them all dead in heap and index for the insert to wade through. TRUNCATE
    is transactional (a failed build rolls back to the old rows) and takes the same ACCESS
    EXCLUSIVE lock that dropping an index already took, so readers wait for the commit either way.
    """
    if not whole:
        conn.execute(delete(table).where(since_condition))
        yield
        return
    postgres = conn.dialect.name == "postgresql"
    quoted = conn.dialect.identifier_preparer.format_table(table)
    primary_key = _primary_key_name(conn, table) if postgres else None
    indexes = list(table.indexes)
    for index in indexes:
        index.drop(conn)
    if postgres:
        conn.exec_driver_sql(f"TRUNCATE TABLE {quoted}")
    else:
        conn.execute(delete(table))  # without a WHERE, SQLite empties the table in one step
    if primary_key:
        conn.exec_driver_sql(f'ALTER TABLE {quoted} DROP CONSTRAINT "{primary_key}"')
    yield
    if primary_key:
        key = ", ".join(f'"{column.name}"' for column in table.primary_key.columns)
        conn.exec_driver_sql(f'ALTER TABLE {quoted} ADD CONSTRAINT "{primary_key}" '
                             f"PRIMARY KEY ({key})")
    for index in indexes:
        index.create(conn)
    if postgres:
        # The tables built next read this one at once, before autovacuum would analyze it.
        conn.exec_driver_sql(f"ANALYZE {quoted}")


def _primary_key_name(conn: Connection, table: Table) -> str | None:
    found = conn.exec_driver_sql(
        "SELECT conname FROM pg_constraint WHERE contype = 'p' AND conrelid = %(t)s::regclass",
        {"t": conn.dialect.identifier_preparer.format_table(table)},
    ).scalar()
    return found


def rewrite(
    conn: Connection,
    table: Table,
    frame: pd.DataFrame,
    run_id: str,
    since_column: str | None = None,
    since: date | None = None,
) -> int:
    """Replace the rows of `table` from `since` on (all rows when `since` is None) with `frame`.

    `frame` must hold only rows of that range; each gets `run_id`. Returns rows written.
    """
    statement = delete(table)
    if since is not None:
        if since_column is None:
            raise ValueError(f"rewrite({table.name}): since given without since_column")
        statement = statement.where(table.c[since_column] >= since)
        stray = pd.to_datetime(frame[since_column]) < pd.Timestamp(since)
        if stray.any():
            raise ValueError(
                f"rewrite({table.name}): {int(stray.sum())} rows are dated before {since}; "
                "they would be duplicated"
            )
    conn.execute(statement)
    return bulk_insert(conn, table, frame.assign(run_id=run_id))
