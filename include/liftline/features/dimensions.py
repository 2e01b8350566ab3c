"""The delivered dimensions and calendars model stages read beside the feat_* tables.

Products, stores, the promotion calendar, events and lift tests are read as delivered (their
clean tables); model stages read them through these functions, never the clean tables, so the
features package stays the one stage that knows the clean layer. Each reader returns the
contract's columns (all of them, or `columns`), without the lineage columns, and an empty frame
with those columns when the table is not in the warehouse yet. Dates come back as datetime64.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd
from sqlalchemy import Connection, Engine, func, inspect, or_, select

from liftline.contract import source
from liftline.warehouse import clean_table, read_frame

from .coverage import CANCELLED

Bind = Engine | Connection


def dimension_table(name: str) -> str:
    """The warehouse table a reader below reads (e.g. "products" -> "clean_products"), for
    callers that check a warehouse is ready and name what is missing."""
    return clean_table(name).name


def read_products(bind: Bind, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per SKU: sku, category, segment, division, unit_cost, list_price."""
    return _read(bind, "products", columns)


def read_stores(bind: Bind, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per store: store_id, region, country, format, opened_date."""
    return _read(bind, "stores", columns)


def read_promotions(bind: Bind, columns: Sequence[str] | None = None,
                    ending_after: date | None = None,
                    include_cancelled: bool = False) -> pd.DataFrame:
    """The promotion calendar, past and planned; cancelled promotions (`status`) are left out
    unless asked for, since they cover nothing. `ending_after`: only those whose end_date is
    after that day (planned or still running then)."""
    promos = clean_table("promotions")
    conditions = []
    if ending_after is not None:
        conditions.append(promos.c.end_date > ending_after)
    if not include_cancelled:
        conditions.append(func.coalesce(func.lower(promos.c.status), "") != CANCELLED)
    return _read(bind, "promotions", columns, *conditions)


def read_events(bind: Bind, columns: Sequence[str] | None = None, first: date | None = None,
                last: date | None = None) -> pd.DataFrame:
    """Holidays, events and closures (date, name, kind, country, region, store_id), dated in
    [first, last] where given. Who an event applies to: `event_stores`."""
    events = clean_table("events")
    conditions = []
    if first is not None:
        conditions.append(events.c.date >= first)
    if last is not None:
        conditions.append(events.c.date <= last)
    return _read(bind, "events", columns, *conditions)


def read_lift_tests(bind: Bind, columns: Sequence[str] | None = None,
                    country: str | None = None) -> pd.DataFrame:
    """Lift test results; with `country`, those of that country or without one."""
    tests = clean_table("lift_tests")
    conditions = []
    if country is not None:
        conditions.append(or_(tests.c.country == country, tests.c.country.is_(None)))
    return _read(bind, "lift_tests", columns, *conditions)


def _read(bind: Bind, name: str, columns: Sequence[str] | None, *conditions) -> pd.DataFrame:
    known = list(source(name).columns)
    wanted = known if columns is None else list(columns)
    unknown = [column for column in wanted if column not in known]
    if unknown:
        raise ValueError(f"{name} has no column {unknown[0]!r}: use one of {', '.join(known)}")
    clean = clean_table(name)
    if not inspect(bind).has_table(clean.name):
        return pd.DataFrame(columns=wanted)
    return read_frame(bind, select(*(clean.c[column] for column in wanted)).where(*conditions))
