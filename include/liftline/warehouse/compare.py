"""Two warehouses holding the same pipeline's outputs, compared table by table.

Used to prove that a run on PostgreSQL leaves what a run on SQLite leaves on the same files
(`scripts/compare_backends.py`, run by CI). Each table is read through the schema's own
SQLAlchemy tables, so both backends hand back the same Python types; every value is put in one
canonical text form (floats to `SIGNIFICANT_DIGITS`, the run's LIFTLINE_HOME replaced by a
placeholder, JSON text re-serialised with sorted keys), rows are sorted, and the table's row
count and a SHA-256 of its sorted rows are compared. Columns that cannot be equal between two
runs are left out: `EXCLUDED_COLUMNS` lists them, each with the reason.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, Table, inspect, select

from .tables import metadata

COMPARED_PREFIXES = ("clean_", "feat_", "ml_", "ops_")
# Six significant digits: far above the noise of summing the same floats in another order
# (SQL aggregates on two engines), far below any difference a reader of the outputs would see.
SIGNIFICANT_DIGITS = 6
HOME_PLACEHOLDER = "<LIFTLINE_HOME>"

# Columns whose values differ between any two runs, whatever the backend: left out, with why.
# A column is named bare (every table) or as "table.column".
EXCLUDED_COLUMNS: dict[str, str] = {
    # Airflow's DAG run ids carry the moment the run was triggered.
    "run_id": "the DAG run's id, which holds its start time",
    "trained_run_id": "the DAG run id of the training run (its start time)",
    # Wall-clock stamps of when a row was written or an event happened.
    "_loaded_at": "when the row was loaded",
    "_received_at": "when the file was received",
    "received_at": "when the file was received",
    "built_at": "when the feature table was built",
    "created_at": "when the row was written",
    "scored_at": "when the model scored",
    "predicted_at": "when the prediction was made",
    "updated_at": "when the row was last updated",
    "trained_at": "when the model was trained",
    "delivered_at": "when Slack accepted the alert",
    "applied_at": "when the schema migration ran",
    "ops_audit_log.at": "when the audited action happened",
}


def excluded(table: str, column: str) -> bool:
    return column in EXCLUDED_COLUMNS or f"{table}.{column}" in EXCLUDED_COLUMNS


@dataclass
class TableSnapshot:
    """One table in canonical form: its compared columns and its rows as sorted text lines."""

    name: str
    columns: list[str]
    rows: list[str] = field(repr=False)

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def digest(self) -> str:
        sha = hashlib.sha256()
        for row in self.rows:
            sha.update(row.encode())
            sha.update(b"\n")
        return sha.hexdigest()


@dataclass
class TableDifference:
    """A table whose rows differ: the counts and the first row only one side has, per side."""

    table: str
    columns: list[str]
    left_count: int | None  # None: the table is missing on that side
    right_count: int | None
    left_only: str | None = None
    right_only: str | None = None

    def text(self, left: str = "left", right: str = "right") -> str:
        lines = [f"{self.table}: {left} {_count(self.left_count)} rows, "
                 f"{right} {_count(self.right_count)} rows"]
        if self.columns:
            lines.append(f"  columns: {', '.join(self.columns)}")
        if self.left_only is not None:
            lines.append(f"  first row only in {left}:  {self.left_only}")
        if self.right_only is not None:
            lines.append(f"  first row only in {right}: {self.right_only}")
        return "\n".join(lines)


def _count(count: int | None) -> str:
    return "(no table)" if count is None else str(count)


def compared_tables(*engines: Engine, prefixes: Sequence[str] = COMPARED_PREFIXES) -> list[str]:
    """Every table with a compared prefix in any of the warehouses, sorted."""
    names: set[str] = set()
    for engine in engines:
        names |= {n for n in inspect(engine).get_table_names() if n.startswith(tuple(prefixes))}
    return sorted(names)


def snapshot_table(engine: Engine, name: str, home: str | None = None) -> TableSnapshot | None:
    """The table's compared columns and canonical rows; None when the warehouse lacks it.

    Read through the schema's table (so types match across backends), limited to the columns
    the database has; `home` (the run's LIFTLINE_HOME) is replaced in text by a placeholder.
    """
    if not inspect(engine).has_table(name):
        return None
    present = {c["name"] for c in inspect(engine).get_columns(name)}
    table: Table | None = metadata.tables.get(name)
    if table is None:  # not in the schema: read it as the database describes it
        table = Table(name, type(metadata)(), autoload_with=engine)
    columns = [c for c in table.columns if c.name in present and not excluded(name, c.name)]
    with engine.connect() as conn:
        result = conn.execute(select(*columns))
        rows = sorted(canonical_row(row, home) for row in result)
    return TableSnapshot(name, [c.name for c in columns], rows)


def canonical_row(values: Iterable[Any], home: str | None = None) -> str:
    return json.dumps([canonical(v, home) for v in values], ensure_ascii=False)


def canonical(value: Any, home: str | None = None) -> Any:
    """A value in a form equal on both backends: JSON-serialisable, floats rounded."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float | Decimal):
        return rounded(float(value))
    if isinstance(value, datetime):
        naive = value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
        return naive.isoformat()  # the warehouse's DateTime columns hold naive UTC
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, str):
        text = value.replace(home, HOME_PLACEHOLDER) if home else value
        return canonical_json(text) if text[:1] in "[{" else text
    return str(value)


def rounded(value: float) -> float | str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == 0:
        return 0.0  # -0.0 and 0.0 alike
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def canonical_json(text: str) -> str:
    """JSON text re-serialised with sorted keys and rounded floats; other text unchanged."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return text

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: walk(item) for key, item in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return rounded(node) if isinstance(node, float) else node

    return "json:" + json.dumps(walk(parsed), sort_keys=True, ensure_ascii=False)


def compare_tables(left: TableSnapshot | None, right: TableSnapshot | None,
                   name: str) -> TableDifference | None:
    """None when both sides hold the same rows (the same count and digest)."""
    if left is None or right is None:
        if left is None and right is None:
            return None
        present = left or right
        return TableDifference(name, present.columns, left and left.count,
                               right and right.count)
    if left.columns != right.columns:
        return TableDifference(name, sorted(set(left.columns) ^ set(right.columns)),
                               left.count, right.count,
                               left_only=f"columns {left.columns}",
                               right_only=f"columns {right.columns}")
    if left.count == right.count and left.digest == right.digest:
        return None
    left_extra = Counter(left.rows) - Counter(right.rows)
    right_extra = Counter(right.rows) - Counter(left.rows)
    return TableDifference(name, left.columns, left.count, right.count,
                           left_only=min(left_extra) if left_extra else None,
                           right_only=min(right_extra) if right_extra else None)


def compare_warehouses(left: Engine, right: Engine, *, left_home: str | None = None,
                       right_home: str | None = None,
                       prefixes: Sequence[str] = COMPARED_PREFIXES,
                       ) -> tuple[list[TableSnapshot], list[TableDifference]]:
    """Every compared table of both warehouses: the left side's snapshots and the differences."""
    snapshots, differences = [], []
    for name in compared_tables(left, right, prefixes=prefixes):
        one, other = snapshot_table(left, name, left_home), snapshot_table(right, name, right_home)
        if one is not None:
            snapshots.append(one)
        difference = compare_tables(one, other, name)
        if difference is not None:
            differences.append(difference)
    return snapshots, differences
