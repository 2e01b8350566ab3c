"""The contract's coverage rules, defined once: the SQL and the frame versions agree.

Every combination of a named, an unknown and an empty value at each level is tried, on SQLite
and (when configured) PostgreSQL, and a few cases are checked by hand against CONTRACT.md.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import Column, Engine, String, select

from liftline.features import (
    event_stores,
    in_scope,
    promo_cover,
    promotion_skus,
    promotion_stores,
    scope_level,
    temp_table,
)
from liftline.features.coverage import store_events
from liftline.warehouse import clean_table, read_frame

STORES = pd.DataFrame({"store_id": ["S0", "S1", "S2", "S3", "S4"],
                       "region": ["north", "north", "south", "south", None],
                       "country": ["DE", "DE", "DE", "FR", None]})
PRODUCTS = pd.DataFrame({"sku": ["A1", "A2", "B1", "B2", "X1"],
                         "category": ["snacks", "snacks", "drinks", "drinks", None]})
START = date(2024, 1, 1)


def all_promotions() -> pd.DataFrame:
    """One promotion per combination of (named, unknown, empty) store, region, SKU, category,
    and one cancelled promotion that would cover everything."""
    levels = {"store_id": ["S2", "S9", None], "region": ["north", "west", None],
              "sku": ["A1", "Z9", None], "category": ["drinks", "toys", None]}
    rows = [dict(zip(levels, values, strict=True))
            for values in itertools.product(*levels.values())]
    promos = pd.DataFrame(rows)
    promos.insert(0, "promo_id", [f"P{i:02d}" for i in range(len(promos))])
    promos["status"] = None
    cancelled = {"promo_id": "PX", "store_id": None, "region": None, "sku": None,
                 "category": None, "status": "Cancelled"}
    return pd.concat([promos, pd.DataFrame([cancelled])], ignore_index=True)


def insert(conn, source: str, frame: pd.DataFrame) -> None:
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    conn.execute(clean_table(source).insert(), records)


def sql_promotion_cells(engine: Engine, promos: pd.DataFrame) -> set[tuple[str, str, str]]:
    """(promo_id, store_id, sku) from the SQL rule, every store x product being a cell."""
    terms = promos.assign(start_date=START, end_date=START + timedelta(days=6),
                          discount_pct=10.0)
    with engine.begin() as conn:
        insert(conn, "promotions", terms)
        cells = temp_table(conn, "test_cells", Column("store_id", String),
                           Column("sku", String), Column("region", String),
                           Column("category", String))
        catalogue = STORES[["store_id", "region"]].merge(PRODUCTS, how="cross")
        conn.execute(cells.insert(), catalogue.astype(object)
                     .where(catalogue.notna(), None).to_dict("records"))
        cover = read_frame(conn, select(promo_cover(conn, cells)))
    return set(cover[["promo_id", "store_id", "sku"]].itertuples(index=False, name=None))


def frame_promotion_cells(promos: pd.DataFrame) -> set[tuple[str, str, str]]:
    """The same from the frame rule (cancelled promotions left out, as readers do)."""
    live = promos.loc[promos["status"].fillna("").str.lower() != "cancelled"]
    stores = promotion_stores(live[["promo_id", "store_id", "region"]],
                              STORES[["store_id", "region"]])
    skus = promotion_skus(live[["promo_id", "sku", "category"]], PRODUCTS)
    both = stores[["promo_id", "store_id"]].merge(skus[["promo_id", "sku"]], on="promo_id")
    return set(both.itertuples(index=False, name=None))


def test_promotion_coverage_is_the_same_in_sql_and_on_frames(warehouse):
    promos = all_promotions()
    in_sql = sql_promotion_cells(warehouse, promos)
    assert in_sql == frame_promotion_cells(promos)
    covered = pd.DataFrame(sorted(in_sql), columns=["promo_id", "store_id", "sku"])
    by_promo = covered.groupby("promo_id")
    # A store, region, SKU or category nobody has covers nothing; every other live promotion
    # covers something; a cancelled one nothing.
    nowhere = ((promos["store_id"] == "S9")
               | (promos["store_id"].isna() & (promos["region"] == "west"))
               | (promos["sku"] == "Z9")
               | (promos["sku"].isna() & (promos["category"] == "toys")))
    assert set(covered["promo_id"]) == set(promos.loc[~nowhere & promos["status"].isna(),
                                                      "promo_id"])
    everything = by_promo.get_group(find(promos, store_id=None, region=None, sku=None,
                                         category=None))
    assert len(everything) == len(STORES) * len(PRODUCTS)
    # A named store wins over the region; a named SKU over the category.
    named = by_promo.get_group(find(promos, store_id="S2", region="north", sku="A1",
                                    category="drinks"))
    assert set(zip(named["store_id"], named["sku"], strict=True)) == {("S2", "A1")}
    regional = by_promo.get_group(find(promos, store_id=None, region="north", sku=None,
                                       category="drinks"))
    assert set(regional["store_id"]) == {"S0", "S1"} and set(regional["sku"]) == {"B1", "B2"}


def find(frame: pd.DataFrame, column: str = "promo_id", **levels):
    """The `column` of the one live row whose levels are `levels` (None: empty)."""
    match = frame.loc[frame["status"].isna()] if "status" in frame else frame
    for name, value in levels.items():
        match = match.loc[match[name].isna() if value is None else match[name] == value]
    return match[column].item()


def all_events() -> pd.DataFrame:
    """One event a day per combination of (named, unknown, empty) store, region and country."""
    levels = {"store_id": ["S3", "S9", None], "region": ["north", "west", None],
              "country": ["DE", "IT", None]}
    rows = [dict(zip(levels, values, strict=True))
            for values in itertools.product(*levels.values())]
    events = pd.DataFrame(rows)
    events.insert(0, "date", [START + timedelta(days=i) for i in range(len(events))])
    events.insert(1, "name", [f"E{i:02d}" for i in range(len(events))])
    return events.assign(kind="event")


def test_event_scope_is_the_same_in_sql_and_on_frames(warehouse):
    events = all_events()
    with warehouse.begin() as conn:
        insert(conn, "events", events)
        stores = temp_table(conn, "test_stores", Column("store_id", String),
                            Column("region", String), Column("country", String))
        conn.execute(stores.insert(), STORES.astype(object).where(STORES.notna(), None)
                     .to_dict("records"))
        found = read_frame(conn, select(store_events(conn, stores, START,
                                                     START + timedelta(days=40))))
    in_sql = {(d.date(), s) for d, s in zip(found["date"], found["store_id"], strict=True)}
    assert set(found["event_count"]) == {1}
    applied = event_stores(events[["date", "store_id", "region", "country"]], STORES)
    assert in_sql == set(zip(applied["date"], applied["store_id"], strict=True))
    per_event = applied.groupby("date")["store_id"].agg(set)

    def stores_of(**levels) -> set[str]:
        day = find(events, "date", **levels)
        return per_event[day] if day in per_event.index else set()

    assert stores_of(store_id="S3", region="north", country="DE") == {"S3"}  # the store wins
    assert stores_of(store_id=None, region="north", country="IT") == {"S0", "S1"}
    assert stores_of(store_id=None, region=None, country="DE") == {"S0", "S1", "S2"}
    assert stores_of(store_id=None, region=None, country=None) == set(STORES["store_id"])
    assert stores_of(store_id=None, region="west", country="DE") == set()  # unknown region


def test_scope_level_names_the_first_level_given():
    rows = pd.DataFrame({"sku": ["A1", "A1", None, None], "category": ["x", None, "x", None]})
    assert scope_level(rows, ("sku", "category")).tolist() == ["sku", "sku", "category", None]


def test_in_scope_keeps_the_rows_columns_and_refuses_a_clash():
    promos = pd.DataFrame({"promo_id": ["P1"], "store_id": [None], "region": ["south"]})
    out = in_scope(promos, STORES[["store_id", "region"]], ("store_id", "region"))
    assert list(out.columns) == ["promo_id", "store_id", "region"]
    assert out["store_id"].tolist() == ["S2", "S3"]
    with pytest.raises(ValueError, match="both have \\['country'\\]"):
        in_scope(promos.assign(country="DE"), STORES, ("store_id", "region"))
