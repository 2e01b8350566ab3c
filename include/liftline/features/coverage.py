"""Who a promotion or an event applies to: the contract's scope rules, defined once.

CONTRACT.md: a promotion covers the SKUs named by `sku`, else all SKUs of `category`, else all
SKUs; and the stores named by `store_id`, else all stores of `region`, else all stores. An event
applies to its `store_id`, else its `region`, else its `country`, else everywhere. Each rule is
a tuple of levels, most specific first (`PROMOTION_SKU_LEVELS`, `PROMOTION_STORE_LEVELS`,
`EVENT_STORE_LEVELS`): a row applies to the targets its first non-empty level names, and to
every target when all its levels are empty. The set work that must scale (promotion x store x
SKU cells, events x stores) is SQL built from `scope_condition`; callers holding small frames
(stores, products, a promotion calendar) use `in_scope`, the same rule on frames (the tests
check the two agree on both dialects).

The cells (store x SKU pairs) are those that ever sold, with their dimension attributes where
delivered. Temporary tables live until the build's transaction ends (one connection, both
dialects).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Date,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    func,
    or_,
    select,
)

from liftline.warehouse import clean_table, exact_sum, table

from .sql import day_number

CANCELLED = "cancelled"
PROMOTION_SKU_LEVELS = ("sku", "category")
PROMOTION_STORE_LEVELS = ("store_id", "region")
EVENT_STORE_LEVELS = ("store_id", "region", "country")


def scope_condition(rows, targets, levels: Sequence[str]) -> ColumnElement[bool]:
    """SQL: a row of `rows` applies to a row of `targets` (tables or subqueries that both have
    the `levels` columns): its first non-NULL level equals the target's, or all are NULL."""
    first, *rest = levels
    wider = rows.c[first].is_(None)
    if rest:
        wider = and_(wider, scope_condition(rows, targets, rest))
    return or_(rows.c[first] == targets.c[first], wider)


def scope_level(rows: pd.DataFrame, levels: Sequence[str]) -> pd.Series:
    """Per row of `rows`, the level that decides what it applies to (its first non-empty one),
    or None when every level is empty: it applies to all."""
    decided = np.full(len(rows), None, dtype=object)
    for level in reversed(levels):
        decided[rows[level].notna().to_numpy()] = level
    return pd.Series(decided, index=rows.index, dtype=object)


def in_scope(rows: pd.DataFrame, targets: pd.DataFrame, levels: Sequence[str]) -> pd.DataFrame:
    """The rule of `scope_condition` on frames: each row of `rows` beside each row of `targets`
    it applies to; rows' own columns (the levels dropped) then the targets' columns, rows in the
    order of their deciding level (most specific first), then of `rows`."""
    own = [column for column in rows.columns if column not in levels]
    shared = sorted(set(own) & set(targets.columns))
    if shared:
        raise ValueError(f"in_scope: rows and targets both have {shared}: rename one side")
    decided = scope_level(rows, levels)
    parts = [rows.loc[decided == level, [*own, level]].merge(targets, on=level)
             for level in levels]
    parts.append(rows.loc[decided.isna(), own].merge(targets, how="cross"))
    return pd.concat(parts, ignore_index=True)[[*own, *targets.columns]]


def promotion_stores(promotions: pd.DataFrame, stores: pd.DataFrame) -> pd.DataFrame:
    """Each promotion beside each store it covers (`stores`: store_id and region)."""
    return in_scope(promotions, stores, PROMOTION_STORE_LEVELS)


def promotion_skus(promotions: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """Each promotion beside each product it covers (`products`: sku and category)."""
    return in_scope(promotions, products, PROMOTION_SKU_LEVELS)


def event_stores(events: pd.DataFrame, stores: pd.DataFrame) -> pd.DataFrame:
    """Each event beside each store it applies to (`stores`: store_id, region and country)."""
    return in_scope(events, stores, EVENT_STORE_LEVELS)


def temp_table(conn: Connection, stem: str, *columns: Column) -> Table:
    """A new temporary table (dropped at commit on PostgreSQL, with the connection on SQLite)."""
    name = f"tmp_{stem}_{uuid.uuid4().hex[:8]}"
    kwargs = {}
    if conn.dialect.name == "postgresql":
        kwargs = {"schema": "pg_temp", "postgresql_on_commit": "DROP"}
    elif any(column.primary_key for column in columns):
        # Clustered on the key: each lookup is one B-tree search, not an index then the rowid.
        kwargs = {"sqlite_with_rowid": False}
    tmp = Table(name, MetaData(), *columns, prefixes=["TEMPORARY"], **kwargs)
    tmp.create(conn)
    return tmp


def fill(conn: Connection, tmp: Table, query) -> Table:
    conn.execute(tmp.insert().from_select([c.name for c in tmp.columns], query))
    if conn.dialect.name == "postgresql":
        # Autovacuum never analyzes temporary tables; the planner needs their size.
        conn.exec_driver_sql("ANALYZE " + conn.dialect.identifier_preparer.format_table(tmp))
    return tmp


def sales_cells(conn: Connection, as_of: date, sold: Table | None = None) -> Table:
    """Every store x SKU that sold on or before `as_of`: first sale, store and product attributes.

    `sold` is the table whose (date, store_id, sku) rows say what sold: clean POS by default.
    The tables built after feat_sales_daily pass it instead: it holds one row per POS row up to
    the as-of date, and its (store_id, sku, date) index answers this GROUP BY in order, where
    POS's (date, store_id, sku) key makes it sort millions of rows.
    """
    stores, products = clean_table("stores"), clean_table("products")
    sold = clean_table("pos") if sold is None else sold
    firsts = (
        select(sold.c.store_id, sold.c.sku, func.min(sold.c.date).label("first_date"))
        .where(sold.c.date <= as_of)
        .group_by(sold.c.store_id, sold.c.sku)
        .subquery()
    )
    tmp = temp_table(
        conn, "cells",
        Column("store_id", String, primary_key=True), Column("sku", String, primary_key=True),
        Column("cell_code", Integer, nullable=False),  # a small integer id, for numpy
        Column("first_date", Date), Column("first_dn", Integer),
        Column("region", String), Column("country", String), Column("format", String),
        Column("category", String), Column("list_price", Float),
    )
    query = (
        select(firsts.c.store_id, firsts.c.sku,
               func.row_number().over(order_by=(firsts.c.store_id, firsts.c.sku)),
               firsts.c.first_date,
               day_number(firsts.c.first_date), stores.c.region, stores.c.country,
               stores.c.format, products.c.category, products.c.list_price)
        .select_from(firsts)
        .outerjoin(stores, stores.c.store_id == firsts.c.store_id)
        .outerjoin(products, products.c.sku == firsts.c.sku)
    )
    fill(conn, tmp, query)
    # Looked up by code for every feature row of feat_sales_daily.
    Index(f"{tmp.name}_code", tmp.c.cell_code, unique=True).create(conn)
    return tmp


def promo_cover(conn: Connection, cells: Table) -> Table:
    """One row per promotion x covered cell, with the promotion's days and terms.

    Cancelled promotions cover nothing. A promotion naming a store or SKU that never sold
    covers no cell (there is nothing to feature).
    """
    promos = clean_table("promotions")
    store_match = scope_condition(promos, cells, PROMOTION_STORE_LEVELS)
    sku_match = scope_condition(promos, cells, PROMOTION_SKU_LEVELS)
    tmp = temp_table(
        conn, "promo_cover",
        Column("promo_id", String), Column("store_id", String), Column("sku", String),
        Column("start_date", Date), Column("end_date", Date),
        Column("start_dn", Integer), Column("end_dn", Integer),
        Column("discount_pct", Float), Column("promo_type", String),
    )
    query = (
        select(promos.c.promo_id, cells.c.store_id, cells.c.sku, promos.c.start_date,
               promos.c.end_date, day_number(promos.c.start_date),
               day_number(promos.c.end_date), promos.c.discount_pct, promos.c.promo_type)
        .select_from(promos.join(cells, and_(store_match, sku_match)))
        .where(func.coalesce(func.lower(promos.c.status), "") != CANCELLED)
    )
    return fill(conn, tmp, query)


def promo_daily(conn: Connection, cover: Table, first: date, last: date) -> Table:
    """Per cell and day in [first, last]: active promotions, deepest discount and its type."""
    cal = table("feat_calendar")
    per_promo = (
        select(
            cal.c.date, cover.c.store_id, cover.c.sku, cover.c.discount_pct, cover.c.promo_type,
            func.row_number().over(
                partition_by=(cal.c.date, cover.c.store_id, cover.c.sku),
                order_by=(cover.c.discount_pct.desc().nulls_last(), cover.c.promo_id),
            ).label("rank"),
        )
        .select_from(cover.join(cal, cal.c.date.between(cover.c.start_date, cover.c.end_date)))
        .where(cal.c.date.between(first, last))
        .subquery()
    )
    tmp = temp_table(
        conn, "promo_daily",
        Column("date", Date, primary_key=True), Column("store_id", String, primary_key=True),
        Column("sku", String, primary_key=True), Column("promo_count", Integer),
        Column("max_discount", Float), Column("promo_type", String),
    )
    query = select(
        per_promo.c.date, per_promo.c.store_id, per_promo.c.sku,
        func.count().label("promo_count"), func.max(per_promo.c.discount_pct),
        func.max(case((per_promo.c.rank == 1, per_promo.c.promo_type))),
    ).group_by(per_promo.c.date, per_promo.c.store_id, per_promo.c.sku)
    return fill(conn, tmp, query)


def store_events(conn: Connection, cells: Table, first: date, last: date) -> Table:
    """Per store and day with an event: how many, and whether a holiday or a closure."""
    events = clean_table("events")
    stores = select(cells.c.store_id, cells.c.region, cells.c.country).distinct().subquery()
    applies = scope_condition(events, stores, EVENT_STORE_LEVELS)
    kind = func.lower(func.coalesce(events.c.kind, ""))
    tmp = temp_table(
        conn, "store_events",
        Column("date", Date, primary_key=True), Column("store_id", String, primary_key=True),
        Column("event_count", Integer), Column("holiday", Integer), Column("closed", Integer),
    )
    query = (
        select(events.c.date, stores.c.store_id, func.count(),
               func.max(case((kind == "holiday", 1), else_=0)),
               func.max(case((kind == "closure", 1), else_=0)))
        .select_from(events.join(stores, applies))
        .where(events.c.date.between(first, last))
        .group_by(events.c.date, stores.c.store_id)
    )
    return fill(conn, tmp, query)


def country_spend(conn: Connection, cells: Table, first: date, last: date) -> Table:
    """Per country and day: ad spend and campaigns with spend (spend without a country counts
    for every country: it was not targeted)."""
    spend = clean_table("spend")
    countries = select(cells.c.country).where(cells.c.country.is_not(None)).distinct().subquery()
    tmp = temp_table(
        conn, "country_spend",
        Column("date", Date, primary_key=True), Column("country", String, primary_key=True),
        Column("spend", Float), Column("campaigns", Integer),
    )
    query = (
        select(spend.c.date, countries.c.country, exact_sum(spend.c.spend),
               func.count(func.distinct(spend.c.campaign_id)))
        .select_from(spend.join(countries, or_(spend.c.country == countries.c.country,
                                               spend.c.country.is_(None))))
        .where(spend.c.date.between(first, last), spend.c.spend > 0)
        .group_by(spend.c.date, countries.c.country)
    )
    return fill(conn, tmp, query)

