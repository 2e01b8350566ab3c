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


@contextmanager
def bulk_session(conn: Connection) -> Iterator[None]:
    """Session settings for one large build on `conn`, restored afterwards."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL work_mem = '{POSTGRES_BUILD_WORK_MEM}'")  # this txn only
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


@contextmanager
def indexes_dropped(conn: Connection, table: Table, when: bool) -> Iterator[None]:
    """Drop `table`'s secondary indexes around a bulk load `when` it rewrites the whole table:
    building an index once from sorted rows is much faster than maintaining it per row."""
    indexes = list(table.indexes) if when else []
    for index in indexes:
        index.drop(conn)
    yield
    for index in indexes:
        index.create(conn)


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
