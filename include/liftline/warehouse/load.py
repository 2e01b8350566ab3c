"""Moving frames in and out of the warehouse: bulk insert, idempotent partition replace, upsert.

Every write a stage makes goes through `replace_partition` (keyed by run or partition) or
`upsert_by_key` (keyed by natural key), each one transaction, so rerunning a task leaves the
warehouse exactly as one run would (DESIGN.md, "Every task is idempotent").

Each function takes an Engine (it opens and commits its own transaction) or a Connection (it
works inside the caller's transaction, e.g. to write several tables atomically).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from typing import Any

import pandas as pd
from sqlalchemy import (
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ColumnElement, Executable

from .convert import column_values, scalar_value, sqlite_values
from .engine import write_transaction

# Rows per executemany batch (and per conversion chunk for COPY): bounds memory on big frames.
BATCH_ROWS = 5_000

Bind = Engine | Connection
Row = tuple[Any, ...]


def bulk_insert(bind: Bind, table: Table, frame: pd.DataFrame) -> int:
    """Append `frame` to `table` and return the number of rows written.

    Only frame columns are written (table columns it lacks get their default or NULL); a frame
    column the table does not have is an error. PostgreSQL (psycopg 3) streams rows with COPY;
    other databases use batched executemany inserts.
    """
    columns = _frame_columns(table, frame)
    with write_transaction(bind) as conn:
        return _insert(conn, table, frame, columns)


def replace_partition(bind: Bind, table: Table, frame: pd.DataFrame, key: Mapping[str, Any]) -> int:
    """Replace the rows of `table` where every `key` column equals its value with `frame`.

    Delete and insert happen in one transaction, so a failure leaves the old partition intact.
    Key columns missing from the frame are filled with the key value; rows with another value
    are an error. Returns the number of rows written.
    """
    if not key:
        raise ValueError(
            f"replace_partition({table.name}): the key is empty, which would replace the whole "
            "table; pass the partition's columns, e.g. {'run_id': run_id}"
        )
    _require_columns(table, key, "key column")
    key_values = {name: scalar_value(value, table.c[name]) for name, value in key.items()}
    frame = _frame_in_partition(table, frame, key_values)
    columns = _frame_columns(table, frame)
    condition = and_(*(table.c[name] == value for name, value in key_values.items()))
    with write_transaction(bind) as conn:
        conn.execute(delete(table).where(condition))
        return _insert(conn, table, frame, columns)


def upsert_by_key(bind: Bind, table: Table, frame: pd.DataFrame, key_columns: Sequence[str]) -> int:
    """Insert `frame`, first deleting the rows of `table` whose `key_columns` match a frame row.

    NULL key parts match NULL (a re-delivered event without a country replaces the old one).
    Within the frame the last row per key wins. Returns the number of rows written.
    """
    key_columns = list(key_columns)
    if not key_columns:
        raise ValueError(f"upsert_by_key({table.name}): key_columns is empty; name the natural key")
    _require_columns(table, key_columns, "key column")
    missing = [name for name in key_columns if name not in frame.columns]
    if missing:
        raise ValueError(
            f"upsert_by_key({table.name}): the frame lacks key column(s) {', '.join(missing)}"
        )
    columns = _frame_columns(table, frame)
    if frame.empty:
        return 0
    if frame.duplicated(subset=key_columns, keep="last").any():
        frame = frame.drop_duplicates(subset=key_columns, keep="last")  # NaN matches NaN
    with write_transaction(bind) as conn:
        # Keys in the form the delete binds them: SQLite's fast path takes dates as text.
        convert = sqlite_values if _sqlite_fast_path(conn) else column_values
        leading = convert(frame[key_columns[0]], table.c[key_columns[0]])
        if _may_hold_any(conn, table, key_columns[0], leading):
            rest = (convert(frame[name], table.c[name]) for name in key_columns[1:])
            _delete_keys(conn, table, key_columns, list(zip(leading, *rest, strict=True)))
        return _insert(conn, table, frame, columns)


def read_frame(
    bind: Bind,
    query: str | Executable | Table,
    params: Mapping[str, Any] | None = None,
    parse_dates: Iterable[str] = (),
) -> pd.DataFrame:
    """Run `query` (SQL text with :named parameters, a select(), or a table) into a frame.

    Date and timestamp columns of a select() come back as datetime64; name them in
    `parse_dates` for SQL text, where SQLite returns them as strings.
    """
    if isinstance(query, Table):
        query = select(query)
    statement = text(query) if isinstance(query, str) else query
    with _reading(bind) as conn:
        result = conn.execute(statement, dict(params or {}))
        names = list(result.keys())
        # Plain tuples: pandas converts SQLAlchemy Row objects ~18x slower.
        frame = pd.DataFrame.from_records([tuple(row) for row in result.fetchall()],
                                          columns=names)
    dates = set(parse_dates)
    typed = getattr(statement, "selected_columns", None)
    if typed is not None:
        dates |= {
            name
            for name, column in zip(names, typed, strict=False)
            if isinstance(column.type, Date | DateTime)
        }
    for name in dates & set(names):
        frame[name] = pd.to_datetime(frame[name], format="ISO8601")
    return frame


# --- internals -------------------------------------------------------------------------------


def _reading(bind: Bind):
    return bind.connect() if isinstance(bind, Engine) else nullcontext(bind)


def _require_columns(table: Table, names: Iterable[str], what: str) -> None:
    unknown = [name for name in names if name not in table.c]
    if unknown:
        raise ValueError(
            f"{table.name} has no {what} {', '.join(map(repr, unknown))}; "
            f"its columns are {', '.join(table.c.keys())}"
        )


def _frame_columns(table: Table, frame: pd.DataFrame) -> list[str]:
    names = [str(name) for name in frame.columns]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ValueError(f"frame for {table.name} repeats column(s) {', '.join(duplicated)}")
    _require_columns(table, names, "column")
    return names


def _frame_in_partition(
    table: Table, frame: pd.DataFrame, key_values: dict[str, Any]
) -> pd.DataFrame:
    absent = {name: value for name, value in key_values.items() if name not in frame.columns}
    for name, value in key_values.items():
        if name in absent:
            continue
        stray = [v for v in column_values(frame[name], table.c[name]) if v != value]
        if stray:
            raise ValueError(
                f"replace_partition({table.name}): {len(stray)} of {len(frame)} rows have "
                f"{name}={stray[0]!r}, not the partition's {value!r}; write one partition per call"
            )
    # Scalars broadcast; an empty frame stays empty.
    return frame.assign(**absent) if absent else frame


def _insert(conn: Connection, table: Table, frame: pd.DataFrame, columns: list[str]) -> int:
    if frame.empty:
        return 0
    if _sqlite_fast_path(conn):
        statement = table.insert().compile(dialect=conn.dialect, column_keys=columns)
        ordered = list(statement.positiontup)  # the frame's columns in the statement's order
        for start in range(0, len(frame), BATCH_ROWS):
            rows = _rows(table, frame.iloc[start : start + BATCH_ROWS], ordered, sqlite=True)
            conn.exec_driver_sql(str(statement), rows)
        return len(frame)
    batches = (
        _rows(table, frame.iloc[start : start + BATCH_ROWS], columns)
        for start in range(0, len(frame), BATCH_ROWS)
    )
    _write(conn, table, columns, batches)
    return len(frame)


def _rows(table: Table, frame: pd.DataFrame, columns: list[str], sqlite: bool = False) -> list[Row]:
    convert = sqlite_values if sqlite else column_values
    values = [convert(frame[name], table.c[name]) for name in columns]
    return list(zip(*values, strict=True))


def _write(
    conn: Connection, table: Table, columns: list[str], batches: Iterable[list[Row]]
) -> None:
    if _uses_psycopg(conn):
        _copy(conn, table, columns, batches)
        return
    statement = table.insert()
    for rows in batches:
        conn.execute(statement, [dict(zip(columns, row, strict=True)) for row in rows])


def _sqlite_fast_path(conn: Connection) -> bool:
    """Whether rows go straight to sqlite3's executemany (see sqlite_values).

    SQLAlchemy's per-row parameter handling dominates bulk writes on SQLite otherwise. Driver
    SQL bypasses schema_translate_map, so connections using one keep the general path.
    """
    return conn.dialect.name == "sqlite" and not conn.get_execution_options().get(
        "schema_translate_map"
    )


def _uses_psycopg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"


def _copy(conn: Connection, table: Table, columns: list[str], batches: Iterable[list[Row]]) -> None:
    """COPY FROM STDIN on the connection's own psycopg connection, so it joins its transaction."""
    import psycopg
    from psycopg import sql

    if not conn.in_transaction():
        conn.begin()  # as SQLAlchemy's autobegin would: the caller's commit() then commits it
    schema = _effective_schema(conn, table)
    target = sql.Identifier(schema, table.name) if schema else sql.Identifier(table.name)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        target, sql.SQL(", ").join(sql.Identifier(name) for name in columns)
    )
    driver_conn = conn.connection.dbapi_connection
    try:
        # Text format: psycopg escapes tabs, newlines and backslashes and adapts each Python
        # value with its own dumper, so no value is ever formatted into SQL by us.
        with driver_conn.cursor() as cursor, cursor.copy(statement) as copy:
            for rows in batches:
                for row in rows:
                    copy.write_row(row)
    except psycopg.Error as exc:
        # Same exception classes (IntegrityError, ...) as the executemany path raises.
        raise DBAPIError.instance(
            statement.as_string(driver_conn), None, exc, psycopg.Error, dialect=conn.dialect
        ) from exc


def _effective_schema(conn: Connection, table: Table) -> str | None:
    # COPY bypasses SQLAlchemy's compiler, so apply schema_translate_map ourselves.
    translate = conn.get_execution_options().get("schema_translate_map") or {}
    return translate.get(table.schema, table.schema)


def _matches(target: Column, other: ColumnElement) -> ColumnElement[bool]:
    # Plain equality where the column cannot be NULL keeps indexes and hash joins usable.
    return target.is_not_distinct_from(other) if target.nullable else target == other


def _may_hold_any(conn: Connection, table: Table, column: str, values: list[Any]) -> bool:
    """False only if no row of `table` has `column` within the range of `values`.

    One indexed range probe (the natural-key index leads with `column`) that lets a first load
    of new keys, the common case, skip probing every key for a row to replace.
    """
    present = [value for value in values if value is not None]
    if len(present) < len(values) or not present:
        return True  # NULL parts: no range to test
    target = table.c[column]
    if conn.dialect.name != "sqlite" and isinstance(target.type, String):
        # PostgreSQL orders text by the database collation ('a' < 'B' in en_US), not by code
        # point as min()/max() do; only SQLite's BINARY order is known to agree.
        return True
    low, high = min(present), max(present)
    probe = select(exists().where(target.between(bindparam("low", type_=target.type),
                                                 bindparam("high", type_=target.type))))
    if _sqlite_fast_path(conn):
        # The values are in the driver's text form here (see upsert_by_key).
        return bool(conn.exec_driver_sql(str(probe.compile(dialect=conn.dialect)),
                                         (low, high)).scalar())
    return bool(conn.execute(probe, {"low": low, "high": high}).scalar())


def _delete_keys(conn: Connection, table: Table, key_columns: list[str], keys: list[Row]) -> None:
    if conn.dialect.name == "postgresql":
        _delete_keys_by_join(conn, table, key_columns, keys)
        return
    # SQLite: one indexed probe per key (`=` and `IS` both use the natural-key index), run as
    # executemany in C; no temporary table needed.
    names = [f"key_{position}" for position in range(len(key_columns))]
    statement = delete(table).where(
        *(
            _matches(table.c[column], bindparam(name, type_=table.c[column].type))
            for column, name in zip(key_columns, names, strict=True)
        )
    )
    if _sqlite_fast_path(conn):
        compiled = statement.compile(dialect=conn.dialect)
        order = [names.index(name) for name in compiled.positiontup]
        if order != sorted(order):
            keys = [tuple(key[i] for i in order) for key in keys]
        for start in range(0, len(keys), BATCH_ROWS):
            conn.exec_driver_sql(str(compiled), keys[start : start + BATCH_ROWS])
        return
    for start in range(0, len(keys), BATCH_ROWS):
        batch = keys[start : start + BATCH_ROWS]
        conn.execute(statement, [dict(zip(names, key, strict=True)) for key in batch])


def _delete_keys_by_join(
    conn: Connection, table: Table, key_columns: list[str], keys: list[Row]
) -> None:
    # PostgreSQL: load the keys into a temporary table (COPY) and delete with one EXISTS
    # semi-join, which the planner can hash on the NOT NULL key parts.
    keys_table = Table(
        f"liftline_keys_{uuid.uuid4().hex[:12]}",
        MetaData(),
        *(Column(name, table.c[name].type) for name in key_columns),
        prefixes=["TEMPORARY"],
        # Explicit pg_temp: immune to schema_translate_map, and never shadows a real table.
        schema="pg_temp",
        postgresql_on_commit="DROP",
    )
    keys_table.create(conn)
    _write(conn, keys_table, key_columns, [keys])
    # Autovacuum never analyzes temporary tables; without statistics the join plan is a guess.
    conn.exec_driver_sql("ANALYZE " + conn.dialect.identifier_preparer.format_table(keys_table))
    match = and_(*(_matches(table.c[name], keys_table.c[name]) for name in key_columns))
    conn.execute(delete(table).where(exists().where(match)))
    keys_table.drop(conn)
