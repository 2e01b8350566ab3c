"""Per store x SKU x day history features, computed in numpy: lags, rolling means, promotion
distance.

SQL window frames would express these directly, but each distinct frame is a full pass over
every POS row (SQLite: ~15 s per pass at medium scale, seven passes). Here the rows are keyed
by cell and day number, sorted once, and every feature is a `searchsorted` over that one
array: sums over "the k days before" are differences of a prefix sum, so a day without a POS
row counts as zero units and the row's own day is never included. The result goes back to the
warehouse as a temporary table keyed by (day_num, cell_code) for the SQL that assembles rows.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Column, Connection, Float, Integer, Table, and_, select

from liftline.warehouse import bulk_insert, clean_table

from .coverage import temp_table
from .sql import day_number, to_day_number

DAY_BITS = 21  # day numbers (days since 1970) fit in 21 bits until the year 7700
DAY_MASK = (1 << DAY_BITS) - 1
LAGS = (7, 14, 28)
MEANS = (7, 28)
PROMO_LOOKAHEAD_DAYS = 28
_WRITE_ROWS = 250_000

# The POS measures each feature row repeats: read with the history's units anyway, they ride
# along in its temporary table, so the final SELECT never goes back to the POS table.
POS_MEASURES = ("units", "revenue", "unit_price")
HISTORY_COLUMNS = (
    *(f"units_lag_{k}" for k in LAGS),
    *(f"units_mean_{k}" for k in MEANS),
    "days_since_promo",
    "days_until_promo",
)


def history_table(
    conn: Connection, cells: Table, cover: Table, lookback: date, since: date, as_of: date
) -> Table:
    """A temporary table of every POS row dated since..as_of: its measures and history."""
    sales = _cell_sales(conn, cells, lookback, as_of)
    first_dn = _first_days(conn, cells)
    features = history_features(sales, first_dn, _promo_spans(conn, cells, cover),
                                to_day_number(since))  # consumes `sales`: bounded memory
    # Keyed (day, cell) and written in that order: cell codes follow (store_id, sku), so this is
    # the order of POS's (date, store_id, sku) key, the order feat_sales_daily's rows are
    # inserted in (its key B-tree grows by appending), and this one's B-tree is built by
    # appending too.
    tmp = temp_table(
        conn, "history",
        Column("day_num", Integer, primary_key=True, autoincrement=False),
        Column("cell_code", Integer, primary_key=True, autoincrement=False),
        *(Column(name, Float) for name in POS_MEASURES + HISTORY_COLUMNS),
    )
    _write(conn, tmp, features)
    return tmp


def history_features(
    sales: dict[str, np.ndarray], first_dn: np.ndarray, spans: pd.DataFrame, since_dn: int
) -> pd.DataFrame:
    """History features of each sales row (cell_code, day_num, units) on or after `since_dn`,
    ordered by (day_num, cell_code).

    `sales` maps column names to equal-length arrays; it is consumed (each array is dropped
    from it once used, so peak memory holds one copy of the rows, not two). `first_dn[cell]`
    is the cell's first sale; `spans` holds (cell_code, start_dn, end_dn) of every promotion
    covering a cell. Other columns of `sales` are passed through.
    """
    day_num = sales.pop("day_num")
    all_keys = _keys(sales.pop("cell_code"), day_num)
    order = np.argsort(all_keys, kind="stable")
    all_keys = all_keys[order]
    keep = day_num[order] >= since_dn
    del day_num
    units = np.asarray(sales["units"], dtype="float64")[order]
    keys = all_keys[keep]
    cells, day = keys >> DAY_BITS, keys & DAY_MASK
    out = {"cell_code": cells, "day_num": day}
    for name in list(sales):
        out[name] = sales.pop(name)[order][keep]
    del order
    age = day - first_dn[cells]  # days of history before the row's day
    for k in LAGS:
        out[f"units_lag_{k}"] = np.where(age >= k, _units_at(keys - k, all_keys, units), np.nan)
    prefix = np.concatenate(([0.0], np.cumsum(np.nan_to_num(units))))
    del units
    for k in MEANS:
        # Sum of the days [d-k, d-1]: prefix up to key-1 minus prefix up to key-k-1. Rows of
        # other cells lie wholly below or above both bounds, so they cancel.
        total = (prefix[np.searchsorted(all_keys, keys - 1, side="right")]
                 - prefix[np.searchsorted(all_keys, keys - k - 1, side="right")])
        out[f"units_mean_{k}"] = np.where(age >= k, total / k, np.nan)
    del prefix, all_keys, age, total
    out["days_since_promo"], out["days_until_promo"] = _promo_distance(keys, cells, day, spans)
    del keys
    by_day = np.lexsort((cells, day))
    for name in out:  # one column at a time: memory for one extra column, not a whole copy
        out[name] = out[name][by_day]
    return pd.DataFrame(out, copy=False)


def _keys(cells, days) -> np.ndarray:
    return (np.asarray(cells, dtype="int64") << DAY_BITS) + np.asarray(days, dtype="int64")


def _units_at(wanted: np.ndarray, keys: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Units on the exact (cell, day) of each wanted key; 0 where that day has no row."""
    position = np.searchsorted(keys, wanted, side="left")
    inside = position < len(keys)
    found = inside & (keys[np.minimum(position, len(keys) - 1)] == wanted)
    return np.where(found, np.nan_to_num(units[np.minimum(position, len(keys) - 1)]), 0.0)


def _promo_distance(keys, cells, day, spans: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Days since the cell's last promotion ended (before the day); days until the next one
    starts (after the day, within the look-ahead)."""
    since = np.full(len(keys), np.nan)
    until = np.full(len(keys), np.nan)
    if spans.empty or len(keys) == 0:
        return since, until
    ends = np.sort(_keys(spans["cell_code"], spans["end_dn"]))
    starts = np.sort(_keys(spans["cell_code"], spans["start_dn"]))
    before = np.searchsorted(ends, keys, side="left") - 1
    prior = ends[np.maximum(before, 0)]
    same_cell = (before >= 0) & ((prior >> DAY_BITS) == cells)
    since = np.where(same_cell, day - (prior & DAY_MASK), np.nan)
    after = np.searchsorted(starts, keys, side="right")
    nxt = starts[np.minimum(after, len(starts) - 1)]
    gap = (nxt & DAY_MASK) - day
    ahead = (after < len(starts)) & ((nxt >> DAY_BITS) == cells) & (gap <= PROMO_LOOKAHEAD_DAYS)
    until = np.where(ahead, gap, np.nan)
    return since.astype("float64"), until.astype("float64")


def _cell_sales(conn: Connection, cells: Table, first: date, last: date
                ) -> dict[str, np.ndarray]:
    """cell_code, day_num and the POS measures of every POS row in [first, last], as arrays."""
    pos = clean_table("pos")
    query = (
        select(cells.c.cell_code, day_number(pos.c.date), *(pos.c[m] for m in POS_MEASURES))
        .select_from(pos.join(cells, and_(cells.c.store_id == pos.c.store_id,
                                          cells.c.sku == pos.c.sku)))
        .where(pos.c.date.between(first, last))
    )
    names = ("cell_code", "day_num", *POS_MEASURES)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for chunk in _driver_chunks(conn, query):
        # NULL measures arrive as None and become NaN (written back as NULL). Each chunk is
        # split into its columns at once, so only one chunk is ever held as a 2-D array.
        array = np.asarray(chunk, dtype="float64").reshape(-1, len(names))
        for i, name in enumerate(names):
            parts[name].append(array[:, i].copy())
    columns = {}
    for name in names:  # concatenated one column at a time: bounded memory
        column = np.concatenate(parts.pop(name)) if parts[name] else np.empty(0)
        columns[name] = column.astype("int64") if name in ("cell_code", "day_num") else column
    return columns


def _driver_chunks(conn: Connection, query, size: int = 500_000):
    """Rows of `query` in chunks straight from the DB-API cursor, inside conn's transaction.

    Millions of numeric rows: SQLAlchemy's Row objects cost ~25x the fetch itself here.
    """
    compiled = query.compile(dialect=conn.dialect)
    params = compiled.construct_params()
    if conn.dialect.name == "sqlite":
        # SQLite stores dates as ISO text, exactly as SQLAlchemy's Date bind processor would.
        params = {k: v.isoformat() if isinstance(v, date) else v for k, v in params.items()}
    if compiled.positional:
        params = tuple(params[name] for name in compiled.positiontup)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(str(compiled), params)
        while chunk := cursor.fetchmany(size):
            yield chunk
    finally:
        cursor.close()


def _first_days(conn: Connection, cells: Table) -> np.ndarray:
    rows = conn.execute(select(cells.c.cell_code, cells.c.first_dn)).all()
    first = np.zeros(max((code for code, _ in rows), default=0) + 1, dtype="int64")
    for code, first_dn in rows:
        first[code] = first_dn
    return first


def _promo_spans(conn: Connection, cells: Table, cover: Table) -> pd.DataFrame:
    rows = conn.execute(
        select(cells.c.cell_code, cover.c.start_dn, cover.c.end_dn)
        .select_from(cover.join(cells, and_(cells.c.store_id == cover.c.store_id,
                                            cells.c.sku == cover.c.sku)))
    ).all()
    return pd.DataFrame(rows, columns=["cell_code", "start_dn", "end_dn"])


def _write(conn: Connection, tmp: Table, features: pd.DataFrame) -> None:
    if conn.dialect.name == "sqlite":
        # sqlite3 binds NaN as NULL, so whole numpy columns go to executemany as they are:
        # several times faster than converting 9 columns x millions of rows value by value.
        qmarks = ", ".join("?" for _ in tmp.columns)
        quoted = conn.dialect.identifier_preparer.format_table(tmp)
        for start in range(0, len(features), _WRITE_ROWS):  # bounded memory
            part = features.iloc[start : start + _WRITE_ROWS]
            columns = [part[c.name].to_numpy().tolist() for c in tmp.columns]
            conn.exec_driver_sql(f"INSERT INTO {quoted} VALUES ({qmarks})",
                                 list(zip(*columns, strict=True)))
        return
    bulk_insert(conn, tmp, features)
    # Autovacuum never analyzes temporary tables; the planner needs this one's size.
    conn.exec_driver_sql("ANALYZE " + conn.dialect.identifier_preparer.format_table(tmp))
