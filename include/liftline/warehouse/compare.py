"""Two warehouses holding the same pipeline's outputs, compared table by table.

Used to prove that a run on PostgreSQL leaves what a run on SQLite leaves on the same files
(`scripts/compare_backends.py`, run by CI). Each table is read through the schema's own
SQLAlchemy tables, so both backends hand back the same Python types, and each column is put in
one canonical form: floats rounded to `SIGNIFICANT_DIGITS` (NULL and NaN alike: SQLite stores
NaN as NULL), the run's LIFTLINE_HOME, Airflow run ids and the run-specific hash of model
versions in text replaced by placeholders,
JSON text re-serialised with sorted keys and rounded floats. A table is its row count and a
SHA-256 of its sorted row hashes. Columns no two runs can share are left out:
`EXCLUDED_COLUMNS` lists them, each with the reason.

Rounding puts two values a hair apart on either side of a rounding boundary (5917.86 / 4 =
1479.465 summed in another order); so rows that differ only in floats are paired again and
count as equal when every float is within one unit of the sixth significant digit.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Boolean, Date, DateTime, Engine, Float, Integer, Table, inspect, select

from .tables import metadata

COMPARED_PREFIXES = ("clean_", "feat_", "ml_", "ops_")
# Six significant digits: far above the noise of summing the same floats in another order
# (SQL aggregates on two engines), far below any difference a reader of the outputs would see.
SIGNIFICANT_DIGITS = 6
# Rows differing only in floats are equal when each float is within this relative distance:
# one unit of the last kept digit, i.e. two values on either side of a rounding boundary.
FLOAT_TOLERANCE = 10.0 ** (1 - SIGNIFICANT_DIGITS)
HOME_PLACEHOLDER = "<LIFTLINE_HOME>"
RUN_ID_PLACEHOLDER = "<RUN_ID>"
# An Airflow DAG run id (its trigger time), plain or URL-quoted inside a link.
RUN_ID = re.compile(r"\b(?:manual|scheduled|asset_triggered|dataset_triggered|backfill)__"
                    r"\d{4}-\d\d-\d\dT[0-9A-Za-z%:.+\-]*")
# A model version's hash (`<model>-<yyyymmdd>-<hash>`, `<model>-skipped-<hash>`): it hashes
# the training run's id (registry.make_version), so it differs between any two runs; the rest
# of the version (model and data date) is compared.
VERSION_HASH = re.compile(r"(-(?:\d{8}|skipped))-[0-9a-f]{7}\b")
VERSION_PLACEHOLDER = r"\1-<hash>"
# A random id (uuid4 in hex, e.g. an alert's id quoted in an audit event).
RANDOM_ID = re.compile(r"\b[0-9a-f]{32}\b")
RANDOM_ID_PLACEHOLDER = "<random id>"

# Columns whose values differ between any two runs, whatever the backend: left out, with why.
# A column is named bare (every table) or as "table.column".
EXCLUDED_COLUMNS: dict[str, str] = {
    # Airflow's DAG run ids carry the moment the run was triggered.
    "run_id": "the DAG run's id, which holds its start time",
    "trained_run_id": "the DAG run id of the training run (its start time)",
    "ops_audit_log.event_id": "a hash of the event with its run id",
    "ops_alerts.alert_id": "a random id (uuid4) given when the alert is raised",
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

# Tables known to differ between the backends, each with why: reported on every comparison
# (the rows each side lacks, the first of them) but not failing it as long as both sides have
# the same number of rows. A known difference is a defect still open, not a tolerance. None is
# open: sums in SQL are exact (liftline.warehouse.exact_sum) and grouped reads that feed a model
# come in a fixed order, so the models see the same bits on both engines and fit the same.
KNOWN_DIFFERENCES: dict[str, str] = {}

_NULL = "\x00NULL"  # a text column's NULL, distinct from every string


def excluded(table: str, column: str) -> bool:
    return column in EXCLUDED_COLUMNS or f"{table}.{column}" in EXCLUDED_COLUMNS


@dataclass
class TableSnapshot:
    """One table in canonical form: its compared columns, rows, and their sorted row hashes."""

    name: str
    frame: pd.DataFrame  # canonical columns
    floats: list[str]  # the float columns of `frame`
    hashes: np.ndarray  # uint64 per row, in the frame's order

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    @property
    def count(self) -> int:
        return len(self.frame)

    @property
    def digest(self) -> str:
        return hashlib.sha256(np.sort(self.hashes).tobytes()).hexdigest()


@dataclass
class TableDifference:
    """A table whose rows differ: the counts and the first row only one side has, per side."""

    table: str
    columns: list[str]
    left_count: int | None  # None: the table is missing on that side
    right_count: int | None
    left_only: str | None = None
    right_only: str | None = None
    unmatched: tuple[int, int] = (0, 0)  # rows of each side the other lacks

    @property
    def known(self) -> str | None:
        """Why this table is known to differ (KNOWN_DIFFERENCES), else None."""
        return KNOWN_DIFFERENCES.get(self.table)

    def text(self, left: str = "left", right: str = "right") -> str:
        lines = [f"{self.table}: {left} {_count(self.left_count)} rows, "
                 f"{right} {_count(self.right_count)} rows; {self.unmatched[0]} and "
                 f"{self.unmatched[1]} rows only in {left} and in {right}"]
        if self.known:
            lines[0] += f" (known: {self.known})"
        if self.columns:
            lines.append(f"  columns: {', '.join(self.columns)}")
        if self.left_only is not None:
            lines.append(f"  first row only in {left}: {self.left_only}")
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
    """The table's compared columns in canonical form; None when the warehouse lacks it.

    Read through the schema's table (so types match across backends), limited to the columns
    the database has; `home` (the run's LIFTLINE_HOME) is replaced in text by a placeholder.
    """
    inspector = inspect(engine)
    if not inspector.has_table(name):
        return None
    present = {c["name"] for c in inspector.get_columns(name)}
    table: Table | None = metadata.tables.get(name)
    if table is None:  # not in the schema: read it as the database describes it
        table = Table(name, type(metadata)(), autoload_with=engine)
    columns = [c for c in table.columns if c.name in present and not excluded(name, c.name)]
    with engine.connect() as conn:
        rows = conn.execute(select(*columns)).fetchall()
    values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    frame = pd.DataFrame({c.name: canonical_column(list(v), c.type, home)
                          for c, v in zip(columns, values, strict=True)},
                         columns=[c.name for c in columns])
    floats = [c.name for c in columns if isinstance(c.type, Float)]
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return TableSnapshot(name, frame, floats, hashes)


def canonical_column(values: list[Any], sql_type: Any, home: str | None = None) -> pd.Series:
    """One column's values in a form equal on both backends (by the schema's SQL type)."""
    if isinstance(sql_type, Float):
        return pd.Series(rounded(np.array([np.nan if v is None else float(v) for v in values],
                                          dtype="float64")))
    if isinstance(sql_type, Boolean):
        return pd.Series(pd.array(values, dtype="boolean"))
    if isinstance(sql_type, Integer):  # BigInteger too
        return pd.Series(pd.array(values, dtype="Int64"))
    if isinstance(sql_type, Date | DateTime):
        stamps = pd.to_datetime(pd.Series(values, dtype=object), utc=True)
        return stamps.dt.tz_localize(None).astype("datetime64[us]")  # naive UTC, one unit
    return pd.Series([canonical_text(v, home) for v in values], dtype=object)


def rounded(values: np.ndarray) -> np.ndarray:
    """Floats to SIGNIFICANT_DIGITS (the same bits for the same rounded value); -0.0 as 0.0."""
    out = values.copy()
    finite = np.isfinite(values) & (values != 0)
    exponent = np.floor(np.log10(np.abs(values[finite]))) - (SIGNIFICANT_DIGITS - 1)
    scale = 10.0 ** exponent
    out[finite] = np.rint(values[finite] / scale) * scale
    return out + 0.0


def canonical_text(value: Any, home: str | None = None) -> str:
    if value is None:
        return _NULL
    text = value if isinstance(value, str) else str(value)
    if home:
        text = text.replace(home, HOME_PLACEHOLDER)
    text = VERSION_HASH.sub(VERSION_PLACEHOLDER, RUN_ID.sub(RUN_ID_PLACEHOLDER, text))
    text = RANDOM_ID.sub(RANDOM_ID_PLACEHOLDER, text)
    return canonical_json(text) if text[:1] in ("[", "{") else text


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
        if isinstance(node, float):  # as text: shortest form (the JSON is shown on a difference)
            return float(f"{node:.{SIGNIFICANT_DIGITS}g}") + 0.0
        return node

    return "json:" + json.dumps(walk(parsed), sort_keys=True, ensure_ascii=False)


def compare_tables(left: TableSnapshot | None, right: TableSnapshot | None,
                   name: str) -> TableDifference | None:
    """None when both sides hold the same rows (the same count and digest, or rows that
    differ only in floats within FLOAT_TOLERANCE)."""
    if left is None or right is None:
        if left is None and right is None:
            return None
        present = left or right
        return TableDifference(name, present.columns, left and left.count,
                               right and right.count, unmatched=(present.count, present.count))
    if left.columns != right.columns:
        return TableDifference(name, sorted(set(left.columns) ^ set(right.columns)),
                               left.count, right.count,
                               left_only=f"columns {left.columns}",
                               right_only=f"columns {right.columns}")
    if left.count == right.count and left.digest == right.digest:
        return None
    left_rows, right_rows = unmatched_rows(left, right)
    if left_rows.empty and right_rows.empty:
        return None
    return TableDifference(name, left.columns, left.count, right.count,
                           left_only=first_row(left_rows), right_only=first_row(right_rows),
                           unmatched=(len(left_rows), len(right_rows)))


def unmatched_rows(left: TableSnapshot, right: TableSnapshot,
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of each side the other lacks, after pairing rows equal but for float noise."""
    one, other = _multiset(left.hashes), _multiset(right.hashes)
    left_rows = _extra(left, one, other)
    right_rows = _extra(right, other, one)
    if left_rows.empty or right_rows.empty or len(left_rows) != len(right_rows):
        return left_rows, right_rows
    return _pair_within_tolerance(left_rows, right_rows, left.floats)


def _multiset(hashes: np.ndarray) -> pd.Series:
    return pd.Series(hashes).value_counts()


def _extra(snapshot: TableSnapshot, mine: pd.Series, theirs: pd.Series) -> pd.DataFrame:
    """Rows whose hash this side has more often than the other (the surplus copies)."""
    surplus = mine.sub(theirs.reindex(mine.index, fill_value=0))
    surplus = surplus[surplus > 0]
    rows = snapshot.frame.assign(_hash=snapshot.hashes)
    rows = rows[rows["_hash"].isin(surplus.index)]
    rows = rows.assign(_copy=rows.groupby("_hash").cumcount())
    rows = rows[rows["_copy"] < rows["_hash"].map(surplus)]
    return rows.drop(columns=["_hash", "_copy"])


def _pair_within_tolerance(left: pd.DataFrame, right: pd.DataFrame, floats: list[str],
                           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sorted alike, row i of each side is a pair; pairs equal but for floats within
    FLOAT_TOLERANCE are dropped from both sides."""
    keys = [c for c in left.columns if c not in floats]
    order = keys + floats
    left = left.sort_values(order, na_position="last", kind="stable").reset_index(drop=True)
    right = right.sort_values(order, na_position="last", kind="stable").reset_index(drop=True)
    same = np.ones(len(left), dtype=bool)
    for column in keys:
        a, b = left[column], right[column]
        same &= ((a == b).fillna(False) | (a.isna() & b.isna())).to_numpy(dtype=bool)
    for column in floats:
        a, b = left[column].to_numpy(), right[column].to_numpy()
        close = np.isclose(a, b, rtol=FLOAT_TOLERANCE, atol=0.0) | (np.isnan(a) & np.isnan(b))
        same &= close
    return left[~same], right[~same]


def first_row(rows: pd.DataFrame) -> str | None:
    """The first of `rows` in a stable order, as `column=value` pairs."""
    if rows.empty:
        return None
    row = rows.sort_values(list(rows.columns), na_position="last", kind="stable").iloc[0]
    return ", ".join(f"{name}={_shown(value)}" for name, value in row.items())


def _shown(value: Any) -> str:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, str)
                                                              and value == _NULL):
        return "NULL"
    if isinstance(value, float):
        return "NULL/NaN" if np.isnan(value) else f"{value:.{SIGNIFICANT_DIGITS}g}"
    return str(value)


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
