"""Additive migrations: add the columns an existing table lacks (CONTRACT.md: additive only)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, Table, inspect, text


def missing_columns(conn: Connection, table: Table, names: Iterable[str]) -> list[str]:
    """Those of `names` the table in the database lacks (empty: up to date or no table)."""
    if not inspect(conn).has_table(table.name):
        return []
    present = {c["name"] for c in inspect(conn).get_columns(table.name)}
    return [name for name in names if name not in present]


def add_missing_columns(conn: Connection, table: Table, names: Iterable[str]) -> None:
    """ALTER TABLE ... ADD COLUMN for each of `names` the table lacks. Idempotent.

    A table that does not exist yet is left alone: create_all gives it every column.
    """
    for name in missing_columns(conn, table, names):
        column_type = table.c[name].type.compile(dialect=conn.dialect)
        quoted = conn.dialect.identifier_preparer.quote
        conn.execute(text(f"ALTER TABLE {quoted(table.name)} ADD COLUMN {quoted(name)} "
                          f"{column_type}"))
