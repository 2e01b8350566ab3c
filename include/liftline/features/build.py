"""Build feature tables: one transaction per table, only what its new deliveries changed.

`build_table` is what a DAG task calls; `build_features` builds every table in dependency order
(tests, benchmarks, the command line). Each build reads the clean tables (and, for roll-ups,
the feature tables before it), decides from `changes.detect_changes` whether to rebuild all
of it or a suffix of dates, writes, and records what it took in, all in one transaction: a
failed or cleared-and-rerun task leaves the table exactly as one successful build would.
"""

from __future__ import annotations

import time
from datetime import date

import pandas as pd
from sqlalchemy import Connection, Engine, exists, func, select

from liftline.warehouse import advisory_xact_lock, clean_table, write_transaction

from .asof import parse_as_of
from .base import BuildContext, BuildOutcome, Log
from .changes import DATE_COLUMNS, detect_changes, record_build
from .registry import FEATURE_SPECS, spec_for
from .sql import bulk_session


def build_table(
    engine: Engine,
    name: str,
    run_id: str,
    as_of: date | str | None = None,
    full_refresh: bool = False,
    log: Log = print,
) -> BuildOutcome:
    """(Re)build feature table `name` from what changed since its last build."""
    spec = spec_for(name)
    started = time.perf_counter()
    with write_transaction(engine) as conn:
        advisory_xact_lock(conn, f"liftline_features:{spec.table}")
        ctx = BuildContext(run_id=run_id, as_of=_as_of(conn, as_of), log=log)
        missing = [source for source in spec.requires if not _has_rows(conn, source)]
        if missing:
            outcome = BuildOutcome(
                spec.table, "skipped",
                detail=f"no {', '.join(missing)} delivered yet; the table stays as it was",
            )
            log(outcome.line())
            return outcome
        changes, new_files = detect_changes(conn, spec, ctx, full_refresh)
        log(f"{spec.table}: as of {ctx.as_of}; {changes.reason}")
        if changes.full or changes.dirty:
            with bulk_session(conn):
                outcome = spec.build(conn, ctx, changes)
        else:
            outcome = BuildOutcome(spec.table, "unchanged", detail=changes.reason)
        record_build(conn, spec, ctx, new_files, outcome.mode)
    seconds = time.perf_counter() - started
    outcome = BuildOutcome(outcome.table, outcome.mode, outcome.rows,
                           f"{outcome.detail}; {seconds:.1f} s" if outcome.detail
                           else f"{seconds:.1f} s")
    log(outcome.line())
    return outcome


def build_features(
    engine: Engine,
    run_id: str,
    as_of: date | str | None = None,
    full_refresh: bool = False,
    tables: list[str] | None = None,
    log: Log = print,
) -> list[BuildOutcome]:
    """Build every feature table (or `tables`) in dependency order."""
    names = tables or [spec.table for spec in FEATURE_SPECS]
    return [build_table(engine, name, run_id, as_of, full_refresh, log) for name in names]


def default_as_of(conn: Connection) -> date:
    """The last POS date; without POS, the last date of any dated fact; else today (UTC)."""
    candidates = ["pos"] + [s for s, cols in DATE_COLUMNS.items() if cols and s != "pos"]
    for group in (candidates[:1], candidates[1:]):
        latest = [_latest(conn, source) for source in group]
        latest = [d for d in latest if d is not None]
        if latest:
            return max(latest)
    return pd.Timestamp.now("UTC").date()


def _as_of(conn: Connection, as_of: date | str | None) -> date:
    return parse_as_of(as_of) or default_as_of(conn)


def _latest(conn: Connection, source: str) -> date | None:
    # Planned dates (a promotion's end, a future event) are not facts that happened.
    if source in ("promotions", "events", "lift_tests"):
        return None
    clean = clean_table(source)
    column = clean.c[DATE_COLUMNS[source][0]]
    value = conn.execute(select(func.max(column))).scalar()
    return None if value is None else pd.Timestamp(value).date()


def _has_rows(conn: Connection, source: str) -> bool:
    return bool(conn.execute(select(exists().select_from(clean_table(source)))).scalar())

