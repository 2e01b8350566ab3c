"""The readers model stages use for the delivered dimensions (instead of the clean tables)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from liftline.features import (
    dimension_table,
    read_events,
    read_lift_tests,
    read_products,
    read_promotions,
    read_stores,
)
from liftline.warehouse import clean_table


def insert(warehouse, source: str, rows: list[dict]) -> None:
    with warehouse.begin() as conn:
        conn.execute(clean_table(source).insert(), rows)


def promo(promo_id: str, start: date, end: date, status: str | None = None) -> dict:
    return {"promo_id": promo_id, "start_date": start, "end_date": end, "discount_pct": 10.0,
            "status": status, "_file_sha256": "f" * 64, "_row_number": 1}


def test_promotions_leave_out_cancelled_ones_and_can_be_cut_by_end(warehouse):
    insert(warehouse, "promotions", [
        promo("P1", date(2024, 1, 1), date(2024, 1, 7)),
        promo("P2", date(2024, 2, 1), date(2024, 2, 7), status="planned"),
        promo("P3", date(2024, 2, 1), date(2024, 2, 7), status="Cancelled"),
    ])
    found = read_promotions(warehouse)
    assert sorted(found["promo_id"]) == ["P1", "P2"]
    assert "_file_sha256" not in found.columns  # contract columns only
    assert found["start_date"].dtype.kind == "M"
    later = read_promotions(warehouse, ["promo_id"], ending_after=date(2024, 1, 7))
    assert list(later.columns) == ["promo_id"] and later["promo_id"].tolist() == ["P2"]
    every = read_promotions(warehouse, ["promo_id"], include_cancelled=True)
    assert sorted(every["promo_id"]) == ["P1", "P2", "P3"]


def test_events_between_dates_and_lift_tests_of_a_country_or_none(warehouse):
    insert(warehouse, "events", [
        {"date": date(2024, 1, d), "name": f"E{d}", "kind": "holiday"} for d in (1, 5, 9)])
    assert read_events(warehouse, first=date(2024, 1, 2), last=date(2024, 1, 9))[
        "name"].tolist() == ["E5", "E9"]
    insert(warehouse, "lift_tests", [
        {"channel": "tv", "start_date": date(2024, 1, 1), "end_date": date(2024, 1, 28),
         "incremental_revenue": 100.0, "country": country} for country in ("DE", "FR", None)])
    assert len(read_lift_tests(warehouse)) == 3
    de = read_lift_tests(warehouse, ["channel", "country"], country="DE")
    assert sorted(de["country"].fillna("-")) == ["-", "DE"]


def test_products_and_stores_as_delivered(warehouse):
    insert(warehouse, "products", [{"sku": "A1", "category": "snacks", "list_price": 4.0}])
    insert(warehouse, "stores", [{"store_id": "S0", "region": "north", "country": "DE"}])
    products = read_products(warehouse, ["sku", "category", "list_price", "unit_cost"])
    assert products.to_dict("records")[0]["list_price"] == 4.0
    assert pd.isna(products["unit_cost"].item())
    assert read_stores(warehouse)["region"].tolist() == ["north"]


def test_an_unknown_column_is_a_one_line_error(warehouse):
    with pytest.raises(ValueError, match="products has no column 'price': use one of sku,"):
        read_products(warehouse, ["sku", "price"])


def test_a_warehouse_without_the_table_reads_as_empty(engine):
    frame = read_stores(engine, ["store_id", "region"])
    assert frame.empty and list(frame.columns) == ["store_id", "region"]
    assert dimension_table("stores") == "clean_stores"
