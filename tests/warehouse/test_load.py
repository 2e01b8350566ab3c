"""bulk_insert, replace_partition, upsert_by_key and read_frame on each dialect."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from liftline.warehouse import (
    bulk_insert,
    clean_table,
    read_frame,
    replace_partition,
    table,
    upsert_by_key,
)
from liftline.warehouse import load as load_module

# Each of these breaks naive CSV/COPY text handling; "\\N" and "\\." are COPY's NULL and end marker.
TRICKY = [
    "plain",
    "comma, \"double\" and 'single' quotes",
    "new\nline and\r\ncrlf",
    "tab\there",
    "back\\slash",
    "\\N",
    "\\.",
    "",
    "unicode é ✓ 東京",
]


def _rows(engine, tbl, *order_by) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(tbl).order_by(*order_by))]


def _count(engine, tbl, **where) -> int:
    query = select(func.count()).select_from(tbl)
    for name, value in where.items():
        query = query.where(tbl.c[name] == value)
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def test_bulk_insert_round_trips_values_and_nulls(warehouse):
    n = len(TRICKY)
    frame = pd.DataFrame(
        {
            "interaction_id": [f"I{i}" for i in range(n)],
            "customer_id": TRICKY,
            "opened_at": pd.to_datetime(["2024-03-01 08:15:30.123456"] * (n - 1) + [None]),
            "interaction_type": ["call"] * n,
            "channel": [None] + ["phone"] * (n - 1),
            "closed_at": [pd.NaT] * n,
            "satisfaction_rating": [np.nan, 1.5, -0.0, 1e300] + [4.0] * (n - 4),
            "_row_number": np.arange(n, dtype=np.int64),
        }
    )
    service = clean_table("service")
    assert bulk_insert(warehouse, service, frame) == n
    got = _rows(warehouse, service, service.c._row_number)
    names = list(service.c.keys())
    as_dicts = [dict(zip(names, row, strict=True)) for row in got]
    assert [r["customer_id"] for r in as_dicts] == TRICKY
    assert as_dicts[0]["opened_at"] == dt.datetime(2024, 3, 1, 8, 15, 30, 123456)
    assert as_dicts[-1]["opened_at"] is None
    assert as_dicts[0]["channel"] is None and as_dicts[1]["channel"] == "phone"
    assert all(r["closed_at"] is None for r in as_dicts)
    assert [r["satisfaction_rating"] for r in as_dicts[:4]] == [None, 1.5, 0.0, 1e300]
    assert [r["_row_number"] for r in as_dicts] == list(range(n))
    assert all(r["_file_sha256"] is None for r in as_dicts)  # columns absent from the frame


def test_bulk_insert_converts_dates_ints_and_pandas_missing_values(warehouse):
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-02-29", "2024-03-01"]),
            "store_id": ["S1", "S2"],
            "sku": pd.Series(["A", "B"], dtype="string"),
            "units": [np.float32(1.25), np.nan],
            "revenue": pd.array([10.5, None], dtype="Float64"),
            "promo_id": pd.array(["P1", pd.NA], dtype="string"),
            "customer_count": pd.array([2**40, None], dtype="Int64"),
            "_loaded_at": pd.to_datetime(["2024-03-02T10:00:00+02:00", None], utc=True),
        }
    )
    pos = clean_table("pos")
    bulk_insert(warehouse, pos, frame)
    first, second = _rows(warehouse, pos, pos.c.date)
    columns = list(pos.c.keys())
    first, second = dict(zip(columns, first, strict=True)), dict(zip(columns, second, strict=True))
    assert first["date"] == dt.date(2024, 2, 29) and second["date"] == dt.date(2024, 3, 1)
    assert first["units"] == 1.25 and second["units"] is None
    assert first["revenue"] == 10.5 and second["revenue"] is None
    assert first["promo_id"] == "P1" and second["promo_id"] is None
    assert first["customer_count"] == 2**40 and second["customer_count"] is None
    assert first["_loaded_at"] == dt.datetime(2024, 3, 2, 8, 0)  # stored as naive UTC
    assert second["_loaded_at"] is None


def test_bulk_insert_writes_many_rows_in_batches(warehouse):
    n = 12_345
    frame = _forecast("r1", n)
    assert bulk_insert(warehouse, table("ml_sales_forecast"), frame) == n
    forecast = table("ml_sales_forecast")
    with warehouse.connect() as conn:
        count, total = conn.execute(select(func.count(), func.sum(forecast.c.yhat))).one()
    assert count == n
    assert total == pytest.approx(float(frame["yhat"].sum()))


def test_postgres_bulk_insert_streams_with_copy(warehouse, monkeypatch):
    calls = []
    original = load_module._copy
    monkeypatch.setattr(load_module, "_copy", lambda *a: calls.append(a[1].name) or original(*a))
    bulk_insert(warehouse, table("ml_sales_forecast"), _forecast("r1", 3))
    expected = ["ml_sales_forecast"] if warehouse.dialect.name == "postgresql" else []
    assert calls == expected


def test_bulk_insert_inside_a_callers_transaction_is_rolled_back_with_it(warehouse):
    forecast = table("ml_sales_forecast")
    with warehouse.connect() as conn:
        bulk_insert(conn, forecast, _forecast("r1", 5))
        conn.rollback()
        bulk_insert(conn, forecast, _forecast("r2", 3))
        conn.commit()
    assert _count(warehouse, forecast, run_id="r1") == 0
    assert _count(warehouse, forecast, run_id="r2") == 3


def test_bulk_insert_rejects_unknown_columns_and_unconvertible_values(warehouse):
    forecast = table("ml_sales_forecast")
    with pytest.raises(ValueError, match="ml_sales_forecast has no column 'bogus'"):
        bulk_insert(warehouse, forecast, _forecast("r1", 2).assign(bogus=1))
    with pytest.raises(ValueError, match=r"ml_sales_forecast\.yhat"):
        bulk_insert(warehouse, forecast, _forecast("r1", 2).assign(yhat=["1.0", "lots"]))
    assert bulk_insert(warehouse, forecast, _forecast("r1", 0)) == 0
    assert _count(warehouse, forecast) == 0


def test_replace_partition_twice_equals_once_and_leaves_other_partitions(warehouse):
    forecast = table("ml_sales_forecast")
    order = (forecast.c.run_id, forecast.c.series_key, forecast.c.date)
    replace_partition(warehouse, forecast, _forecast("r1", 10), {"run_id": "r1"})
    replace_partition(warehouse, forecast, _forecast("r2", 7, yhat=5.0), {"run_id": "r2"})
    once = _rows(warehouse, forecast, *order)
    assert replace_partition(warehouse, forecast, _forecast("r1", 10), {"run_id": "r1"}) == 10
    assert _rows(warehouse, forecast, *order) == once
    # A smaller rerun leaves only its own rows; run_id is filled in when the frame lacks it.
    rerun = _forecast("r1", 4).drop(columns="run_id")
    replace_partition(warehouse, forecast, rerun, {"run_id": "r1"})
    assert _count(warehouse, forecast, run_id="r1") == 4
    assert [row for row in _rows(warehouse, forecast, *order) if row[0] == "r2"] == [
        row for row in once if row[0] == "r2"
    ]


def test_replace_partition_with_a_multi_column_key_and_a_date(warehouse):
    forecast = table("ml_sales_forecast")
    frame = pd.concat([_forecast("r1", 3, series="S1"), _forecast("r1", 3, series="S2")])
    bulk_insert(warehouse, forecast, frame)
    day = pd.Timestamp("2024-01-02")
    replacement = _forecast("r1", 1, series="S1", start=day.date(), yhat=99.0)
    replace_partition(warehouse, forecast, replacement, {"series_key": "S1", "date": day})
    assert _count(warehouse, forecast) == 6
    with warehouse.connect() as conn:
        yhat = conn.execute(
            select(forecast.c.yhat).where(
                forecast.c.series_key == "S1", forecast.c.date == dt.date(2024, 1, 2)
            )
        ).scalar_one()
    assert yhat == 99.0


def test_replace_partition_refuses_rows_of_another_partition_and_an_empty_key(warehouse):
    forecast = table("ml_sales_forecast")
    bulk_insert(warehouse, forecast, _forecast("r1", 3))
    mixed = pd.concat([_forecast("r1", 2), _forecast("r2", 1)])
    with pytest.raises(ValueError, match="1 of 3 rows have run_id='r2'"):
        replace_partition(warehouse, forecast, mixed, {"run_id": "r1"})
    with pytest.raises(ValueError, match="key is empty"):
        replace_partition(warehouse, forecast, _forecast("r1", 1), {})
    with pytest.raises(ValueError, match="no key column 'nope'"):
        replace_partition(warehouse, forecast, _forecast("r1", 1), {"nope": 1})
    assert _count(warehouse, forecast, run_id="r1") == 3


def test_a_failing_insert_rolls_back_the_partition_delete(warehouse):
    segments = table("ml_customer_segments")
    good = pd.DataFrame({"customer_id": ["C1", "C2"], "segment": ["gold", "silver"]})
    replace_partition(warehouse, segments, good, {"run_id": "r1"})
    duplicate_key = pd.DataFrame({"customer_id": ["C9", "C9"], "segment": ["x", "y"]})
    with pytest.raises(IntegrityError):
        replace_partition(warehouse, segments, duplicate_key, {"run_id": "r1"})
    assert [row[:3] for row in _rows(warehouse, segments, segments.c.customer_id)] == [
        ("r1", "C1", "gold"),
        ("r1", "C2", "silver"),
    ]


def test_upsert_replaces_corrected_rows_and_keeps_the_rest(warehouse):
    crm = clean_table("crm")
    day = dt.date(2024, 5, 1)
    first = pd.DataFrame(
        {
            "opportunity_id": ["O1", "O2", "O3"],
            "created_date": [day] * 3,
            "stage": ["Prospecting"] * 3,
            "amount": [100.0, 200.0, 300.0],
        }
    )
    upsert_by_key(warehouse, crm, first, ["opportunity_id"])
    correction = pd.DataFrame(
        {
            "opportunity_id": ["O2", "O4", "O4"],
            "created_date": [day] * 3,
            "stage": ["Closed Won", "Proposal", "Negotiation"],
            "amount": [250.0, 400.0, 450.0],
        }
    )
    assert upsert_by_key(warehouse, crm, correction, ["opportunity_id"]) == 2  # last O4 wins
    upsert_by_key(warehouse, crm, correction, ["opportunity_id"])  # a re-delivery changes nothing
    got = {row.opportunity_id: (row.stage, row.amount) for row in _named_rows(warehouse, crm)}
    assert got == {
        "O1": ("Prospecting", 100.0),
        "O2": ("Closed Won", 250.0),
        "O3": ("Prospecting", 300.0),
        "O4": ("Negotiation", 450.0),
    }


def test_upsert_treats_null_key_parts_as_equal(warehouse):
    events = clean_table("events")
    key = ["date", "name", "country", "region", "store_id"]
    day = dt.date(2024, 12, 25)
    initial = pd.DataFrame(
        {
            "date": [day, day, day],
            "name": ["Christmas"] * 3,
            "kind": ["holiday"] * 3,
            "country": [None, "DE", None],
            "region": [None, None, "north"],
            "store_id": [None, None, None],
        }
    )
    upsert_by_key(warehouse, events, initial, key)
    correction = initial.iloc[[0]].assign(kind="closure")
    upsert_by_key(warehouse, events, correction, key)
    upsert_by_key(warehouse, events, correction, key)
    got = sorted(
        ((row.country or "", row.region or ""), row.kind) for row in _named_rows(warehouse, events)
    )
    assert got == [(("", ""), "closure"), (("", "north"), "holiday"), (("DE", ""), "holiday")]


def test_upsert_many_keys_with_a_partial_overlap(warehouse):
    pos = clean_table("pos")
    old = _pos(range(0, 6_000), revenue=1.0)
    new = _pos(range(3_000, 9_000), revenue=2.0)
    upsert_by_key(warehouse, pos, old, ["date", "store_id", "sku"])
    assert upsert_by_key(warehouse, pos, new, ["date", "store_id", "sku"]) == 6_000
    with warehouse.connect() as conn:
        by_revenue = dict(
            conn.execute(select(pos.c.revenue, func.count()).group_by(pos.c.revenue)).all()
        )
    assert by_revenue == {1.0: 3_000, 2.0: 6_000}


def test_upsert_requires_its_key_in_the_frame(warehouse):
    with pytest.raises(ValueError, match="lacks key column"):
        upsert_by_key(
            warehouse, clean_table("crm"), pd.DataFrame({"stage": ["x"]}), ["opportunity_id"]
        )


def test_read_frame_returns_dates_as_datetimes_and_binds_parameters(warehouse):
    forecast = table("ml_sales_forecast")
    bulk_insert(warehouse, forecast, _forecast("r1", 3))
    typed = read_frame(warehouse, select(forecast).order_by(forecast.c.date))
    assert pd.api.types.is_datetime64_any_dtype(typed["date"])
    assert typed["date"].iloc[0] == pd.Timestamp("2024-01-01")
    text = read_frame(
        warehouse,
        "SELECT series_key, date, yhat FROM ml_sales_forecast WHERE run_id = :run ORDER BY date",
        {"run": "r1"},
        parse_dates=["date"],
    )
    assert list(text.columns) == ["series_key", "date", "yhat"]
    assert text["date"].tolist() == typed["date"].tolist()
    assert read_frame(warehouse, forecast.select().where(forecast.c.run_id == "none")).empty


def _named_rows(engine, tbl):
    with engine.connect() as conn:
        return list(conn.execute(select(tbl)))


def _forecast(run_id, n, series="S1", start=dt.date(2024, 1, 1), yhat=None) -> pd.DataFrame:
    values = np.arange(n, dtype=float) if yhat is None else np.full(n, yhat)
    return pd.DataFrame(
        {
            "run_id": run_id,
            "model_name": "store_daily",
            "model_version": "v1",
            "series_key": series,
            "date": pd.date_range(start, periods=n, freq="D"),
            "yhat": values,
            "yhat_lower": values - 1,
            "yhat_upper": values + 1,
        }
    )


def _pos(numbers, revenue) -> pd.DataFrame:
    numbers = np.asarray(list(numbers))
    return pd.DataFrame(
        {
            "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(numbers % 30, unit="D"),
            "store_id": [f"S{k // 30 % 20}" for k in numbers],
            "sku": [f"K{k // 600}" for k in numbers],
            "units": 1.0,
            "revenue": revenue,
        }
    )


def test_bulk_written_dates_and_times_match_bound_parameters(warehouse):
    # SQLite's fast path renders dates itself; they must compare equal to SQLAlchemy's binds.
    log = table("ops_ingest_log")
    received = dt.datetime(2024, 3, 1, 10, 0, 0)
    frame = pd.DataFrame({"file_sha256": ["a", "b"], "source": "pos", "file_name": ["a", "b"],
                          "status": "loaded", "received_at": [received, received.replace(
                              microsecond=250)]})
    bulk_insert(warehouse, log, frame)
    pos = clean_table("pos")
    bulk_insert(warehouse, pos, pd.DataFrame({"date": [dt.date(2024, 3, 1)], "store_id": ["S"],
                                              "sku": ["A"], "units": [1.0], "revenue": [2.0]}))
    with warehouse.connect() as conn:
        found = conn.execute(select(log.c.file_sha256).where(log.c.received_at == received))
        assert found.scalars().all() == ["a"]
        later = conn.execute(select(func.count()).where(log.c.received_at > received)).scalar()
        assert later == 1
        day = conn.execute(select(pos.c.sku).where(pos.c.date == dt.date(2024, 3, 1)))
        assert day.scalars().all() == ["A"]
    assert upsert_by_key(warehouse, pos, pd.DataFrame(
        {"date": [dt.date(2024, 3, 1)], "store_id": ["S"], "sku": ["A"], "units": [5.0]}),
        ["date", "store_id", "sku"]) == 1
    assert read_frame(warehouse, pos).units.tolist() == [5.0]


def test_upsert_replaces_rows_whatever_the_databases_text_ordering(warehouse):
    # min/max of mixed-case keys in Python ('Search' < 'display') are an empty range under
    # PostgreSQL's en_US collation; the range probe must not skip the delete because of it.
    tests = clean_table("lift_tests")
    key = ["channel", "start_date", "end_date", "country"]

    def frame(revenue: float) -> pd.DataFrame:
        return pd.DataFrame({"channel": ["Search", "display"],
                             "start_date": [dt.date(2024, 3, 1)] * 2,
                             "end_date": [dt.date(2024, 3, 31)] * 2, "country": [None, None],
                             "incremental_revenue": [revenue, revenue]})

    upsert_by_key(warehouse, tests, frame(1.0), key)
    upsert_by_key(warehouse, tests, frame(2.0), key)
    assert read_frame(warehouse, tests).incremental_revenue.tolist() == [2.0, 2.0]
