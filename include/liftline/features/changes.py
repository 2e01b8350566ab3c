"""What changed since a feature table was last built, from the deliveries it has not taken in.

Each feature table records the files (by SHA-256, from `ops_ingest_log`) whose rows it has
built from, in `feat_build_inputs`, in the same transaction as its own rows. A file it has not
seen is new; the earliest date that file touched, in its new rows and in every earlier version
of the same records (a correction may move a promotion or an invoice in time), is where the
rebuild must start. Files, not load timestamps, so a clock or a slow transaction cannot hide one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, tuple_

from liftline.contract import source as contract_source
from liftline.warehouse import clean_table, raw_table, table

from .base import BuildContext, Changes, FeatureSpec

# The date columns that place a source's rows in time (empty: an undated dimension).
DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "pos": ("date",),
    "promotions": ("start_date", "end_date"),
    "spend": ("date",),
    "crm": ("created_date", "close_date"),
    "erp": ("invoice_date",),
    "stores": (),
    "products": (),
    "customers": (),
    "service": ("opened_at", "closed_at"),
    "events": ("date",),
    "macro": ("date",),
    "inventory": ("date",),
    "lift_tests": ("start_date", "end_date"),
}

ACCEPTED_STATUSES = ("loaded", "partial")
_KEY_CHUNK = 2_000  # keys per IN (...) lookup of earlier versions


def detect_changes(
    conn: Connection, spec: FeatureSpec, ctx: BuildContext, full_refresh: bool
) -> tuple[Changes, list[tuple[str, str]]]:
    """The changes `spec`'s table must take in, and the new (file_sha256, source) files."""
    state = _state(conn, spec.table)
    new_files = _new_files(conn, spec)
    if full_refresh:
        return Changes(True, "full refresh requested"), new_files
    if state is None:
        return Changes(True, "first build"), new_files
    if state["version"] != spec.version:
        return Changes(True, f"feature definitions changed (v{state['version']} -> "
                             f"v{spec.version})"), new_files
    dirty: dict[str, date | None] = {}
    by_source: dict[str, list[str]] = {}
    for sha, source in new_files:
        by_source.setdefault(source, []).append(sha)
    for source, shas in sorted(by_source.items()):
        if _brought_rows(conn, source, shas):  # a re-delivery of unchanged rows changed nothing
            dirty[source] = _earliest_touched(conn, source, shas)
    previous_as_of = state["as_of"]
    if previous_as_of != ctx.as_of:
        dirty["as_of"] = min(previous_as_of, ctx.as_of) + timedelta(days=1)
    if not dirty:
        return Changes(False, "no new deliveries since the last build"), new_files
    shown = ", ".join(f"{s} from {d}" if d else f"{s} (undated)" for s, d in dirty.items())
    return Changes(False, f"changed: {shown}", dirty), new_files


def record_build(
    conn: Connection,
    spec: FeatureSpec,
    ctx: BuildContext,
    new_files: list[tuple[str, str]],
    mode: str,
) -> None:
    """Remember the files taken in and the build's as-of date (in the build's transaction)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if new_files:
        conn.execute(
            insert(table("feat_build_inputs")),
            [
                {"feature_table": spec.table, "file_sha256": sha, "source": source,
                 "built_at": now, "run_id": ctx.run_id}
                for sha, source in new_files
            ],
        )
    state = table("feat_build_state")
    conn.execute(delete(state).where(state.c.feature_table == spec.table))
    conn.execute(insert(state).values(
        feature_table=spec.table, version=spec.version, as_of=ctx.as_of, mode=mode,
        built_at=now, run_id=ctx.run_id,
    ))


def _state(conn: Connection, feature_table: str) -> dict | None:
    state = table("feat_build_state")
    row = conn.execute(select(state).where(state.c.feature_table == feature_table)).mappings()
    found = row.first()
    return dict(found) if found else None


def _new_files(conn: Connection, spec: FeatureSpec) -> list[tuple[str, str]]:
    log = table("ops_ingest_log")
    taken = table("feat_build_inputs")
    seen = select(taken.c.file_sha256).where(taken.c.feature_table == spec.table)
    rows = conn.execute(
        select(log.c.file_sha256, log.c.source)
        .where(log.c.source.in_(spec.inputs), log.c.status.in_(ACCEPTED_STATUSES),
               log.c.file_sha256.not_in(seen))
        .order_by(log.c.file_sha256)
    )
    return [(sha, source) for sha, source in rows]


def _brought_rows(conn: Connection, source: str, shas: list[str]) -> bool:
    """Whether any clean row is still the one these files delivered (ingest keeps the first
    delivery's lineage on a row a whole re-delivery repeats unchanged)."""
    clean = clean_table(source)
    return conn.execute(select(clean.c._file_sha256)
                        .where(clean.c._file_sha256.in_(shas)).limit(1)).first() is not None


def _earliest_touched(conn: Connection, source: str, shas: list[str]) -> date | None:
    """Earliest date in the new rows of `shas` and in earlier versions of the same records."""
    columns = DATE_COLUMNS[source]
    if not columns:
        return None
    clean = clean_table(source)
    earliest = _min_date(conn, [func.min(clean.c[c]) for c in columns],
                         clean.c._file_sha256.in_(shas))
    key = contract_source(source).natural_key
    if source != "macro" and not set(columns) & set(key):
        # The date is not part of the key: a correction may have moved the record in time.
        keys = conn.execute(select(*(clean.c[k] for k in key))
                            .where(clean.c._file_sha256.in_(shas))).all()
        earlier = _earliest_in_raw(conn, source, key, columns, keys)
        earliest = min((d for d in (earliest, earlier) if d), default=None)
    return earliest


def _min_date(conn: Connection, minima: list, condition) -> date | None:
    values = conn.execute(select(*minima).where(condition)).one()
    dates = [_as_date(v) for v in values if v is not None]
    return min(dates) if dates else None


def _earliest_in_raw(
    conn: Connection, source: str, key: tuple[str, ...], columns: Iterable[str], keys: list
) -> date | None:
    # The raw layer keeps every delivered version as text; unparseable values never reached
    # a clean table, so they are ignored here.
    raw = raw_table(source)
    earliest: date | None = None
    for start in range(0, len(keys), _KEY_CHUNK):
        chunk = [tuple(k) for k in keys[start : start + _KEY_CHUNK]]
        if len(key) == 1:
            match = raw.c[key[0]].in_(bindparam("keys", [k[0] for k in chunk], expanding=True))
        else:
            match = and_(tuple_(*(raw.c[k] for k in key)).in_(chunk))
        rows = conn.execute(select(*(raw.c[c] for c in columns)).where(match)).all()
        for col_values in zip(*rows, strict=False) if rows else ():
            parsed = pd.to_datetime(pd.Series(col_values, dtype=object), errors="coerce",
                                    format="ISO8601").dropna()
            if not parsed.empty:
                low = parsed.min().date()
                earliest = low if earliest is None else min(earliest, low)
    return earliest


def _as_date(value) -> date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()  # SQLite returns MIN() of a date column as text
