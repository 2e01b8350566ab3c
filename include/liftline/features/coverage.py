"""Who a promotion or an event applies to, as temporary tables built in SQL.

CONTRACT.md: a promotion covers the SKUs named by `sku`, else all SKUs of `category`, else all
SKUs; and the stores named by `store_id`, else all stores of `region`, else all stores. An event
applies to its `store_id`, else its `region`, else its `country`, else everywhere. The cells
(store x SKU pairs) are those that ever sold, with their dimension attributes where delivered.
Temporary tables live until the build's transaction ends (one connection, both dialects).
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import (
    Column,
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

from liftline.warehouse import clean_table, table

from .sql import day_number

CANCELLED = "cancelled"


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
    store_match = or_(
        promos.c.store_id == cells.c.store_id,
        and_(promos.c.store_id.is_(None),
             or_(promos.c.region == cells.c.region, promos.c.region.is_(None))),
    )
    sku_match = or_(
        promos.c.sku == cells.c.sku,
        and_(promos.c.sku.is_(None),
             or_(promos.c.category == cells.c.category, promos.c.category.is_(None))),
    )
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
    applies = or_(
        events.c.store_id == stores.c.store_id,
        and_(events.c.store_id.is_(None), or_(
            events.c.region == stores.c.region,
            and_(events.c.region.is_(None),
                 or_(events.c.country == stores.c.country, events.c.country.is_(None))),
        )),
    )
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
        select(spend.c.date, countries.c.country, func.sum(spend.c.spend),
               func.count(func.distinct(spend.c.campaign_id)))
        .select_from(spend.join(countries, or_(spend.c.country == countries.c.country,
                                               spend.c.country.is_(None))))
        .where(spend.c.date.between(first, last), spend.c.spend > 0)
        .group_by(spend.c.date, countries.c.country)
    )
    return fill(conn, tmp, query)

