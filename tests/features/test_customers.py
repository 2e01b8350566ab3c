"""feat_customer and feat_service_interaction: point in time, hand-checked, idempotent, incremental.

The leakage property: the features built as of a date from the full warehouse equal those built
from a warehouse that holds only what was known on that date (later invoices, opportunities and
interactions deleted, later closes and ratings undone), and equal a brute-force recount in
pandas for random customers and interactions.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from feature_helpers import (
    SETTLED,
    WORLD_DAYS,
    assert_same_tables,
    build_tables,
    built_copy,
    copy_warehouse,
    day,
    deliver_world,
    feature_frame,
    feature_frames,
    ingest_all,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, update

from liftline.ingest import ingest_source
from liftline.warehouse import (
    bulk_insert,
    clean_table,
    create_schema,
    dispose_engines,
    get_engine,
    read_frame,
)

TABLES = ["feat_customer", "feat_service_interaction"]
LAST_DAY = day(WORLD_DAYS - 1)
DAY = pd.Timedelta(days=1)


def build_customers(engine: Engine, run_id: str = "r1", **kwargs):
    """Build both tables; their outcomes by name."""
    return build_tables(engine, TABLES, run_id, **kwargs)


def modes(outcomes) -> dict[str, str]:
    return {name: outcome.mode for name, outcome in outcomes.items()}


def copy_of(engine_or_path: Engine | Path, tmp_path: Path, name: str = "copy.db") -> Engine:
    return copy_warehouse(engine_or_path, tmp_path / name)


@pytest.fixture(scope="module")
def built_template(ingested_template: Path, tmp_path_factory) -> Path:
    """The ingested world with both tables built as of its last day (copied, never used)."""
    return built_copy(ingested_template, tmp_path_factory.mktemp("built"), build_customers)


@pytest.fixture(scope="module")
def full(built_template: Path) -> dict[str, pd.DataFrame]:
    return feature_frames(built_template, TABLES)


@pytest.fixture(scope="module")
def clean(ingested_template: Path) -> dict[str, pd.DataFrame]:
    engine = get_engine(f"sqlite:///{ingested_template}")
    frames = {s: read_frame(engine, clean_table(s)) for s in ("customers", "erp", "crm", "service")}
    dispose_engines()
    return frames


# --- brute-force recounts ------------------------------------------------------------------


def recount_customer(clean: dict[str, pd.DataFrame], as_of: date, customer_id: str) -> dict:
    """The customer's snapshot features, recounted row by row from the clean tables."""
    ts, end = pd.Timestamp(as_of), pd.Timestamp(as_of) + DAY
    erp = clean["erp"]
    mine = erp.loc[(erp.customer_id == customer_id) & (erp.invoice_date <= ts)]
    year = mine.loc[mine.invoice_date > ts - 365 * DAY]
    last_90 = mine.loc[mine.invoice_date > ts - 90 * DAY].amount.sum()
    prior_90 = mine.loc[(mine.invoice_date > ts - 180 * DAY)
                        & (mine.invoice_date <= ts - 90 * DAY)].amount.sum()
    signup = clean["customers"].set_index("customer_id").signup_date.get(customer_id, pd.NaT)
    starts = [d for d in (signup, mine.invoice_date.min()) if pd.notna(d) and d <= ts]
    crm = clean["crm"]
    opps = crm.loc[crm.opportunity_id.isin(mine.opportunity_id.dropna())
                   & ~(crm.created_date > ts)]
    won = opps.loc[(opps.stage.str.strip().str.lower() == "closed won") & ~(opps.close_date > ts)]
    service = clean["service"]
    contacts = service.loc[(service.customer_id == customer_id) & (service.opened_at < end)]
    ratings = contacts.loc[contacts.closed_at < end].satisfaction_rating.dropna()
    return {
        "recency_days": (ts - mine.invoice_date.max()).days if len(mine) else math.nan,
        "frequency": len(year),
        "monetary": year.amount.sum(),
        "avg_order_value": year.amount.mean() if len(year) else math.nan,
        "tenure_days": (ts - min(starts)).days if starts else math.nan,
        # Unknown, not 0, for a buyer whose invoices name no category.
        "product_breadth": (year.product_category.nunique()
                            if year.product_category.notna().any() or year.empty else math.nan),
        "spend_trend": last_90 / prior_90 - 1 if prior_90 > 0 else math.nan,
        "crm_opportunities": len(opps),
        "crm_won": len(won),
        "service_contacts": len(contacts),
        "service_mean_rating": ratings.mean() if len(ratings) else math.nan,
        "service_low_share": (ratings <= 2).mean() if len(ratings) else math.nan,
        "mean_days_late": year.days_late.mean() if year.days_late.notna().any() else math.nan,
    }


def recount_interaction(clean: dict[str, pd.DataFrame], as_of: date, interaction_id: str) -> dict:
    """The interaction's features, recounted row by row from the clean tables."""
    end = pd.Timestamp(as_of) + DAY
    service = clean["service"]
    row = service.set_index("interaction_id").loc[interaction_id]
    opened = row.opened_at
    theirs = service.loc[(service.customer_id == row.customer_id)
                         & (service.interaction_id != interaction_id)]
    before = theirs.loc[theirs.opened_at < opened]
    rated = theirs.loc[(theirs.closed_at < opened) & (theirs.closed_at < end)]
    ratings = rated.satisfaction_rating.dropna()
    erp = clean["erp"]
    day_opened = opened.normalize()
    recent = erp.loc[(erp.customer_id == row.customer_id)
                     & (erp.invoice_date >= day_opened - 30 * DAY)
                     & (erp.invoice_date < day_opened)]
    last_day = recent.loc[recent.invoice_date == recent.invoice_date.max()]
    closed = pd.notna(row.closed_at) and row.closed_at < end
    rating = row.satisfaction_rating if closed else math.nan
    return {
        "customer_id": row.customer_id,
        "hour": opened.hour,
        "weekday": opened.weekday(),
        "handling_hours": (row.closed_at - opened).total_seconds() / 3600 if closed else math.nan,
        "is_closed": closed,
        "repeat_contact_30d": bool((before.opened_at >= opened - 30 * DAY).any()),
        "prior_contacts": len(before),
        "prior_mean_rating": ratings.mean() if len(ratings) else math.nan,
        "prior_low_share": (ratings <= 2).mean() if len(ratings) else math.nan,
        "order_value_30d": recent.amount.sum(),
        "last_order_days_late": last_day.days_late.max() if len(recent) else math.nan,
        "satisfaction_rating": rating,
        "label_low_satisfaction": None if pd.isna(rating) else bool(rating <= 2),
    }


def assert_matches(got: pd.Series, expected: dict, what: str) -> None:
    for name, want in expected.items():
        value = got[name]
        if want is None or (isinstance(want, float) and math.isnan(want)):
            assert pd.isna(value), f"{what}.{name}: {value!r}, expected NULL"
        elif isinstance(want, str | bool):
            assert value == want, f"{what}.{name}: {value!r}, expected {want!r}"
        else:
            assert value == pytest.approx(want, rel=1e-9, abs=1e-9), f"{what}.{name}"


# --- point in time ------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(customer=st.integers(0, 10**6), interaction=st.integers(0, 10**6))
def test_random_rows_match_a_brute_force_recount(customer, interaction, full, clean):
    customers = full["feat_customer"]
    active = customers.loc[customers.service_contacts > 0]  # every source in play
    for pool in (customers, active):
        row = pool.iloc[customer % len(pool)]
        assert_matches(row, recount_customer(clean, LAST_DAY, row.customer_id), row.customer_id)
    interactions = full["feat_service_interaction"]
    row = interactions.iloc[interaction % len(interactions)]
    assert_matches(row, recount_interaction(clean, LAST_DAY, row.interaction_id),
                   row.interaction_id)


def truncate_to_known_at(engine: Engine, cut: date) -> None:
    """Leave only what was known at the end of `cut`, as the source systems showed it then."""
    end = datetime.combine(cut + timedelta(days=1), datetime.min.time())
    erp, crm, service = clean_table("erp"), clean_table("crm"), clean_table("service")
    with engine.begin() as conn:
        conn.execute(delete(erp).where(erp.c.invoice_date > cut))
        conn.execute(delete(crm).where(crm.c.created_date > cut))
        conn.execute(update(crm).where(crm.c.close_date > cut)
                     .values(stage="Negotiation", close_date=None))
        conn.execute(delete(service).where(service.c.opened_at >= end))
        conn.execute(update(service).where(service.c.closed_at >= end)
                     .values(closed_at=None, satisfaction_rating=None, resolution_status="open"))


@settings(max_examples=3, deadline=None)
@given(offset=st.integers(min_value=30, max_value=WORLD_DAYS - 2))
def test_nothing_known_after_the_as_of_date_is_used(offset, ingested_template, tmp_path_factory):
    cut = day(offset)
    engine = copy_of(ingested_template, tmp_path_factory.mktemp("cut"))
    build_customers(engine, as_of=cut)
    built = {name: feature_frame(engine, name) for name in TABLES}
    truncate_to_known_at(engine, cut)
    build_customers(engine, run_id="r2", as_of=cut, full_refresh=True)
    for name in TABLES:
        pd.testing.assert_frame_equal(feature_frame(engine, name), built[name], obj=name)
    assert (built["feat_service_interaction"].opened_date <= pd.Timestamp(cut)).all()
    dispose_engines()


# --- hand-checked values -------------------------------------------------------------------

HAND_AS_OF = date(2024, 3, 31)


def insert_hand_made_rows(engine: Engine) -> None:
    """Four customers, invoices, opportunities and interactions whose features are worked out
    by hand below (2024 is a leap year)."""
    rows = {
        "customers": pd.DataFrame({
            "customer_id": ["C1", "C2", "C3", "C4"],
            "signup_date": [date(2023, 6, 1), None, date(2024, 4, 10), date(2024, 4, 5)],
            "age": [30.0, None, 40.0, 50.0],
            "gender": ["F", None, "M", "M"],
            "income": [50000.0, None, None, None],
            "region": ["R1", None, "R2", "R2"],
            "country": ["DE", None, "FR", "FR"],
            "marital_status": ["single", None, None, None],
        }),
        "erp": pd.DataFrame.from_records([
            # invoice_id, invoice_date, amount, customer_id, opportunity_id, category, days_late
            ("I1", date(2023, 3, 1), 100.0, "C1", None, "A", 0.0),  # before the 365 days
            ("I2", date(2023, 11, 15), 200.0, "C1", "OP1", "A", 2.0),  # the 90 days before
            ("I3", date(2024, 2, 10), 300.0, "C1", "OP2", "B", 4.0),
            ("I8", date(2024, 3, 10), 20.0, "C1", None, "B", 1.0),
            ("I9", date(2024, 3, 10), 5.0, "C1", None, "A", 3.0),  # same day: worst delay 3
            ("I4", date(2024, 3, 20), 50.0, "C1", None, None, None),
            ("I5", date(2024, 4, 5), 999.0, "C1", None, "C", 9.0),  # after the as-of date
            ("I6", date(2024, 3, 1), 80.0, "C4", None, "A", 0.0),
            ("I7", date(2024, 3, 30), 10.0, "X9", None, None, None),  # not in customers
        ], columns=["invoice_id", "invoice_date", "amount", "customer_id", "opportunity_id",
                    "product_category", "days_late"]),
        "crm": pd.DataFrame.from_records([
            ("OP1", date(2023, 10, 1), " closed won", 500.0, "C1", date(2023, 11, 1)),
            ("OP2", date(2024, 1, 1), "Closed Won", 300.0, "C1", date(2024, 4, 15)),  # later
            ("OP3", date(2024, 1, 1), "Closed Lost", 100.0, "C1", date(2024, 2, 1)),  # no invoice
        ], columns=["opportunity_id", "created_date", "stage", "amount", "account_id",
                    "close_date"]),
        "service": pd.DataFrame.from_records([
            ("S1", "C1", datetime(2024, 1, 5, 9, 30), "billing", "phone",
             datetime(2024, 1, 5, 11, 0), 1.0),
            ("S2", "C1", datetime(2024, 1, 20, 14, 0), "return", "email",
             datetime(2024, 4, 2, 10, 0), 5.0),  # closes after the as-of date
            ("S3", "C1", datetime(2024, 2, 25, 8, 15), "billing", None,
             datetime(2024, 2, 26, 8, 15), 4.0),
            ("S6", "C1", datetime(2024, 3, 15, 12, 0), "inquiry", "chat",
             datetime(2024, 3, 15, 13, 30), None),  # closed, unrated
            ("S4", "C2", datetime(2024, 3, 31, 23, 0), "technical", "phone", None, None),
            ("S5", "C1", datetime(2024, 4, 1, 9, 0), "billing", "phone", None, None),
        ], columns=["interaction_id", "customer_id", "opened_at", "interaction_type", "channel",
                    "closed_at", "satisfaction_rating"]),
    }
    for source, frame in rows.items():
        bulk_insert(engine, clean_table(source), frame)


NAN = math.nan
HAND_CUSTOMERS = {
    # recency, frequency, monetary, avg order, tenure, breadth, trend, opps, won,
    # contacts, mean rating, low share, mean days late
    "C1": (11, 5, 575.0, 115.0, 396, 2, 375 / 200 - 1, 2, 1, 4, 2.5, 0.5, 2.5),
    "C2": (NAN, 0, 0.0, NAN, NAN, 0, NAN, 0, 0, 1, NAN, NAN, NAN),
    "C4": (30, 1, 80.0, 80.0, 30, 1, NAN, 0, 0, 0, NAN, NAN, 0.0),
    "X9": (1, 1, 10.0, 10.0, 1, NAN, NAN, 0, 0, 0, NAN, NAN, NAN),
}
HAND_INTERACTIONS = {
    # hour, weekday, handling h, closed, repeat, prior contacts, prior mean, prior low,
    # order value, last delay, rating, label
    "S1": (9, 4, 1.5, True, False, 0, NAN, NAN, 0.0, NAN, 1.0, True),
    "S2": (14, 5, NAN, False, True, 1, 1.0, 1.0, 0.0, NAN, NAN, None),
    "S3": (8, 6, 24.0, True, False, 2, 1.0, 1.0, 300.0, 4.0, 4.0, False),
    "S6": (12, 4, 1.5, True, True, 3, 2.5, 0.5, 25.0, 3.0, NAN, None),
    "S4": (23, 6, NAN, False, False, 0, NAN, NAN, 0.0, NAN, NAN, None),
}


def test_hand_made_rows_give_hand_checked_values(warehouse):
    insert_hand_made_rows(warehouse)
    assert modes(build_customers(warehouse, as_of=HAND_AS_OF)) == {
        "feat_customer": "full", "feat_service_interaction": "full"}

    customers = feature_frame(warehouse, "feat_customer").set_index("customer_id")
    assert list(customers.index) == ["C1", "C2", "C4", "X9"]  # C3 signed up later
    assert (customers.as_of_date == pd.Timestamp(HAND_AS_OF)).all()
    columns = ["recency_days", "frequency", "monetary", "avg_order_value", "tenure_days",
               "product_breadth", "spend_trend", "crm_opportunities", "crm_won",
               "service_contacts", "service_mean_rating", "service_low_share", "mean_days_late"]
    for customer_id, values in HAND_CUSTOMERS.items():
        assert_matches(customers.loc[customer_id], dict(zip(columns, values, strict=True)),
                       customer_id)
    assert customers.loc["C1", ["age", "gender", "country"]].tolist() == [30.0, "F", "DE"]
    assert customers.loc[["C2", "X9"], "gender"].isna().all()

    interactions = feature_frame(warehouse, "feat_service_interaction").set_index(
        "interaction_id")
    assert sorted(interactions.index) == ["S1", "S2", "S3", "S4", "S6"]  # S5 opens later
    columns = ["hour", "weekday", "handling_hours", "is_closed", "repeat_contact_30d",
               "prior_contacts", "prior_mean_rating", "prior_low_share", "order_value_30d",
               "last_order_days_late", "satisfaction_rating", "label_low_satisfaction"]
    for interaction_id, values in HAND_INTERACTIONS.items():
        assert_matches(interactions.loc[interaction_id],
                       dict(zip(columns, values, strict=True)), interaction_id)
    assert pd.isna(interactions.loc["S3", "channel"])


def test_moving_the_as_of_date_closes_and_reopens_interactions(warehouse, tmp_path):
    insert_hand_made_rows(warehouse)
    build_customers(warehouse, as_of=HAND_AS_OF)
    later = HAND_AS_OF + timedelta(days=3)
    outcomes = build_customers(warehouse, run_id="r2", as_of=later)
    assert modes(outcomes) == {"feat_customer": "incremental",
                               "feat_service_interaction": "incremental"}
    interactions = feature_frame(warehouse, "feat_service_interaction").set_index(
        "interaction_id")
    s2 = interactions.loc["S2"]  # opened long before the old as-of date, closed after it
    assert (s2.is_closed, s2.satisfaction_rating, s2.label_low_satisfaction) == (True, 5.0, False)
    assert interactions.loc["S5", "prior_mean_rating"] == pytest.approx(2.5)  # S2 still open
    customers = feature_frame(warehouse, "feat_customer")
    assert sorted(customers.as_of_date.dt.date.unique()) == [HAND_AS_OF, later]
    incremental = {name: feature_frame(warehouse, name) for name in TABLES}
    build_customers(warehouse, run_id="r3", as_of=later, full_refresh=True)
    for name in TABLES:
        pd.testing.assert_frame_equal(feature_frame(warehouse, name), incremental[name], obj=name)

    build_customers(warehouse, run_id="r4", as_of=HAND_AS_OF)  # and back again
    interactions = feature_frame(warehouse, "feat_service_interaction").set_index(
        "interaction_id")
    assert "S5" not in interactions.index
    assert not interactions.loc["S2", "is_closed"]
    assert pd.isna(interactions.loc["S2", "label_low_satisfaction"])
    back = feature_frame(warehouse, "feat_service_interaction")
    build_customers(warehouse, run_id="r5", as_of=HAND_AS_OF, full_refresh=True)
    pd.testing.assert_frame_equal(feature_frame(warehouse, "feat_service_interaction"), back)


# --- idempotent and incremental ------------------------------------------------------------


def test_rebuilding_changes_nothing(built_template, full, tmp_path):
    engine = copy_of(built_template, tmp_path)
    assert set(modes(build_customers(engine, run_id="r2")).values()) == {"unchanged"}
    build_customers(engine, run_id="r3", full_refresh=True)
    for name in TABLES:
        pd.testing.assert_frame_equal(feature_frame(engine, name), full[name], obj=name)


def test_incremental_build_after_one_more_day_equals_a_full_rebuild(
    built_template, full, next_day, tmp_path
):
    incremental = copy_of(built_template, tmp_path, "incremental.db")
    deliver_world(next_day, tmp_path / "home")
    ingest_all(tmp_path / "home", incremental)
    outcomes = build_customers(incremental, run_id="r2")
    assert modes(outcomes) == {"feat_customer": "incremental",
                               "feat_service_interaction": "incremental"}
    rebuilt = copy_of(incremental, tmp_path, "full.db")
    build_customers(rebuilt, run_id="r3", full_refresh=True)
    assert_same_tables(incremental, rebuilt, TABLES)
    snapshots = feature_frame(incremental, "feat_customer")
    assert sorted(snapshots.as_of_date.unique()) == [pd.Timestamp(LAST_DAY),
                                                     pd.Timestamp(day(WORLD_DAYS))]
    old = snapshots.loc[snapshots.as_of_date == pd.Timestamp(LAST_DAY)].reset_index(drop=True)
    pd.testing.assert_frame_equal(old, full["feat_customer"])  # history is kept as it was


def test_corrected_old_rows_rebuild_every_row_they_reach(built_template, clean, tmp_path):
    engine = copy_of(built_template, tmp_path, "corrected.db")
    service, erp = clean["service"], clean["erp"]
    # A customer's early rated interaction gets a new rating; an early invoice a new amount.
    rated = service.loc[service.satisfaction_rating.notna()
                        & service.customer_id.duplicated(keep=False)].iloc[0]
    invoice = erp.loc[erp.customer_id.isin(service.customer_id)
                      & (erp.invoice_date < pd.Timestamp(day(40)))].iloc[0]
    corrections = {
        "service": {"interaction_id": rated.interaction_id, "customer_id": rated.customer_id,
                    "opened_at": rated.opened_at.isoformat(),
                    "interaction_type": rated.interaction_type,
                    "closed_at": rated.closed_at.isoformat(),
                    "satisfaction_rating": 6 - rated.satisfaction_rating},
        "erp": {"invoice_id": invoice.invoice_id,
                "invoice_date": invoice.invoice_date.date().isoformat(),
                "customer_id": invoice.customer_id, "amount": invoice.amount + 1000},
    }
    home = tmp_path / "home"
    for source, row in corrections.items():
        (home / "landing" / source).mkdir(parents=True)
        path = home / "landing" / source / "correction.csv"
        pd.DataFrame([row]).to_csv(path, index=False)
        os.utime(path, (time.time() - SETTLED,) * 2)  # settled: ready to ingest
    ingest_all(home, engine)
    outcomes = build_customers(engine, run_id="r2")
    assert outcomes["feat_service_interaction"].mode == "incremental"
    rebuilt = copy_of(engine, tmp_path, "full.db")
    build_customers(rebuilt, run_id="r3", full_refresh=True)
    assert_same_tables(engine, rebuilt, ["feat_service_interaction"])


# --- dialects and partial worlds -----------------------------------------------------------


@pytest.fixture
def world_on_each_dialect(engine: Engine, ingested_template: Path, world: Path,
                          tmp_path: Path) -> Engine:
    """Like `ingested_any`, but SQLite gets a copy of the template instead of a second ingest."""
    if engine.dialect.name == "sqlite":
        copy_warehouse(ingested_template, Path(engine.url.database))
        return engine
    create_schema(engine)
    deliver_world(world, tmp_path / "home")
    ingest_all(tmp_path / "home", engine)
    return engine


def test_same_tables_on_every_dialect(world_on_each_dialect, full):
    build_customers(world_on_each_dialect, as_of=LAST_DAY)
    for name in TABLES:
        pd.testing.assert_frame_equal(feature_frame(world_on_each_dialect, name), full[name],
                                      check_dtype=False, rtol=1e-9, atol=1e-9, obj=name)


def test_with_only_customers_delivered(warehouse, world, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(world / "customers", home / "landing" / "customers")
    ingest_source("customers", home=home, engine=warehouse, log=lambda _: None,
                  settle_seconds=0, run_id="test_ingest")
    lines: list[str] = []
    outcomes = build_customers(warehouse, as_of=LAST_DAY, log=lines.append)
    assert modes(outcomes) == {"feat_customer": "full", "feat_service_interaction": "skipped"}
    assert any("left NULL" in line and "no erp" in line and "no service delivered" in line
               for line in lines), lines
    customers = feature_frame(warehouse, "feat_customer")
    assert len(customers) > 0
    for column in ("frequency", "monetary", "recency_days", "crm_won", "service_contacts"):
        assert customers[column].isna().all(), column
    assert customers.tenure_days.notna().any() and customers.age.notna().any()


def test_without_erp_and_crm_order_features_are_null(ingested_template, full, tmp_path):
    engine = copy_of(ingested_template, tmp_path)
    with engine.begin() as conn:
        conn.execute(delete(clean_table("erp")))
        conn.execute(delete(clean_table("crm")))
    lines: list[str] = []
    assert modes(build_customers(engine, as_of=LAST_DAY, log=lines.append)) == {
        "feat_customer": "full", "feat_service_interaction": "full"}
    assert any("order_value_30d" in line and "no erp" in line for line in lines), lines
    interactions = feature_frame(engine, "feat_service_interaction")
    assert interactions.order_value_30d.isna().all()
    assert interactions.last_order_days_late.isna().all()
    kept = [c for c in interactions.columns if c not in ("order_value_30d", "last_order_days_late")]
    pd.testing.assert_frame_equal(interactions[kept], full["feat_service_interaction"][kept])
    customers = feature_frame(engine, "feat_customer")
    assert customers.crm_opportunities.isna().all() and customers.monetary.isna().all()
    assert customers.service_contacts.notna().all()


def test_invoices_without_customer_ids_say_nothing_about_customers(warehouse):
    bulk_insert(warehouse, clean_table("customers"), pd.DataFrame({"customer_id": ["C1"]}))
    bulk_insert(warehouse, clean_table("erp"), pd.DataFrame({
        "invoice_id": ["I1"], "invoice_date": [date(2024, 3, 1)], "amount": [10.0]}))
    lines: list[str] = []
    build_customers(warehouse, as_of=HAND_AS_OF, log=lines.append)
    assert any("no erp invoice names a customer" in line for line in lines), lines
    customers = feature_frame(warehouse, "feat_customer")
    assert customers.customer_id.tolist() == ["C1"]
    assert customers.frequency.isna().all() and customers.tenure_days.isna().all()
