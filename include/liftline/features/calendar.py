"""feat_calendar: one row per day from the first dated fact to well past the as-of date.

Other builders join it for calendar fields and expand date ranges (a promotion's days) against
it, so date arithmetic never needs dialect-specific SQL. Tiny, so it is always rebuilt whole.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from sqlalchemy import Connection, func, select, union_all

from liftline.warehouse import clean_table, table

from .base import BuildContext, BuildOutcome, Changes, FeatureSpec
from .sql import UNIX_EPOCH, rewrite

# The calendar runs this far past the as-of date: the forecast horizon and planned promotions.
DAYS_AHEAD = 400
_FIRST_DATES = {
    "pos": "date", "spend": "date", "erp": "invoice_date", "promotions": "start_date",
    "events": "date", "macro": "date", "inventory": "date", "crm": "created_date",
}
_LAST_PLANNED = {"promotions": "end_date", "events": "date"}


def calendar_frame(first: date, last: date) -> pd.DataFrame:
    """Calendar fields of every day in [first, last]."""
    days = pd.date_range(first, last, freq="D")
    iso = days.isocalendar()
    return pd.DataFrame({
        "date": days,
        "day_num": (days - pd.Timestamp(UNIX_EPOCH)).days.astype("int64"),
        "dow": days.dayofweek.astype("int64"),
        "week_start": days - pd.to_timedelta(days.dayofweek, unit="D"),
        "iso_year": iso["year"].to_numpy().astype("int64"),
        "iso_week": iso["week"].to_numpy().astype("int64"),
        "year": days.year.astype("int64"),
        "month": days.month.astype("int64"),
        "day_of_year": days.dayofyear.astype("int64"),
        "is_weekend": days.dayofweek >= 5,
    })


def _span(conn: Connection, ctx: BuildContext) -> tuple[date, date] | None:
    firsts = [select(func.min(clean_table(s).c[c]).label("d")) for s, c in _FIRST_DATES.items()]
    lasts = [select(func.max(clean_table(s).c[c]).label("d")) for s, c in _LAST_PLANNED.items()]
    first = conn.execute(select(func.min(union_all(*firsts).subquery().c.d))).scalar()
    if first is None:
        return None
    last = conn.execute(select(func.max(union_all(*lasts).subquery().c.d))).scalar()
    end = ctx.as_of + timedelta(days=DAYS_AHEAD)
    if last is not None:
        end = max(end, pd.Timestamp(last).date())
    return pd.Timestamp(first).date(), end


def build_calendar(conn: Connection, ctx: BuildContext, changes: Changes) -> BuildOutcome:
    span = _span(conn, ctx)
    if span is None:
        return BuildOutcome("feat_calendar", "full", 0, "no dated facts yet")
    frame = calendar_frame(*span)
    rows = rewrite(conn, table("feat_calendar"), frame, ctx.run_id)
    return BuildOutcome("feat_calendar", "full", rows, f"{span[0]} .. {span[1]}")


CALENDAR = FeatureSpec(
    "feat_calendar",
    inputs=tuple(_FIRST_DATES),
    requires=(),
    build=build_calendar,
)


def require_calendar(conn: Connection, first: date, last: date) -> None:
    """Fail with a clear message if feat_calendar does not cover [first, last].

    Builders join the calendar; a missing day would silently drop rows.
    """
    cal = table("feat_calendar")
    low, high = conn.execute(select(func.min(cal.c.date), func.max(cal.c.date))).one()
    low = pd.Timestamp(low).date() if low is not None else None
    high = pd.Timestamp(high).date() if high is not None else None
    if low is None or low > first or high < last:
        raise RuntimeError(
            f"feat_calendar covers {low} .. {high}, not {first} .. {last}: build feat_calendar "
            "first (the build_features DAG and build_features() do)"
        )
