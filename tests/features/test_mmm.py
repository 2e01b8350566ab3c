"""feat_mmm_weekly, feat_mmm_controls_weekly and feat_crm_attribution.

Against the synthetic world's truth and independent sums, hand-checked on a tiny set of clean
rows, incremental vs full, SQLite vs PostgreSQL, and with only spend and erp delivered.
"""

from __future__ import annotations

import os
import shutil
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from feature_helpers import (
    SETTLED,
    WORLD_DAYS,
    assert_same_tables,
    build_tables,
    copy_warehouse,
    day,
    deliver_world,
    feature_frame,
    ingest_all,
    make_world,
)
from sqlalchemy import Engine, delete, select

from liftline.contract import SOURCES
from liftline.features import build_table
from liftline.ingest import ingest_source
from liftline.warehouse import (
    bulk_insert,
    clean_table,
    create_schema,
    get_engine,
    read_frame,
    table,
)

TABLES = ("feat_mmm_weekly", "feat_mmm_controls_weekly", "feat_crm_attribution")
POSTGRES_URL = os.environ.get("LIFTLINE_TEST_POSTGRES_URL", "").strip()


def build_all(engine: Engine, run_id: str = "r1", **kwargs) -> dict[str, str]:
    """Build the three tables; their modes by name."""
    return {name: o.mode for name, o in build_tables(engine, TABLES, run_id, **kwargs).items()}


def week_of(values: pd.Series) -> pd.Series:
    return values - pd.to_timedelta(values.dt.dayofweek, unit="D")


# --- (1) the world: spend against the truth, revenue against independent sums -----------------


def test_spend_matches_truth_and_revenue_matches_sources(ingested: Engine, world: Path):
    build_table(ingested, "feat_mmm_weekly", run_id="r1", log=lambda _: None)
    feat = feature_frame(ingested, "feat_mmm_weekly")
    last_week = pd.Timestamp(feat["week_start"].max())
    # The world ends on a Wednesday: its last week is partial and left out.
    assert last_week == pd.Timestamp(day(WORLD_DAYS - 1) - timedelta(days=9))
    everything = feat[feat["segment"] == "all"]
    per_country = everything[everything["country"] != "ALL"]

    truth = pd.read_csv(world / "_truth" / "media_weekly.csv", parse_dates=["week_start"])
    truth = truth[truth["week_start"] <= last_week]
    spend = truth.merge(per_country, on=["country", "channel", "week_start"], how="outer",
                        suffixes=("_truth", ""))
    assert spend["spend"].notna().all() and spend["spend_truth"].notna().all()
    pd.testing.assert_series_equal(spend["spend"], spend["spend_truth"], check_names=False,
                                   rtol=1e-9)
    total = truth.groupby(["week_start", "channel"])["spend"].sum()
    ours = everything[everything["country"] == "ALL"].set_index(["week_start", "channel"])
    pd.testing.assert_series_equal(ours["spend"].sort_index(), total.sort_index(), rtol=1e-9,
                                   check_index_type=False)

    # Revenue, summed here in pandas from the clean tables.
    end = last_week + pd.Timedelta(days=6)
    pos = read_frame(ingested, clean_table("pos")).merge(
        read_frame(ingested, clean_table("stores"))[["store_id", "country"]], on="store_id")
    erp = read_frame(ingested, clean_table("erp"))
    customers = read_frame(ingested, clean_table("customers"))[["customer_id", "country"]]
    erp["country"] = erp["country"].fillna(
        erp["customer_id"].map(customers.set_index("customer_id")["country"]))
    expected = pd.concat([
        pos[pos["date"] <= end].assign(week_start=lambda f: week_of(f["date"]),
                                       revenue_pos=lambda f: f["revenue"]),
        erp[erp["invoice_date"] <= end].assign(week_start=lambda f: week_of(f["invoice_date"]),
                                               revenue_erp=lambda f: f["amount"]),
    ]).groupby(["week_start", "country"])[["revenue_pos", "revenue_erp"]].sum()
    ours = per_country.groupby(["week_start", "country"])[["revenue_pos", "revenue_erp"]].first()
    pd.testing.assert_frame_equal(ours, expected, rtol=1e-9, check_index_type=False)

    # Dense: every week of a country has every channel; the segments add up to "all".
    channels = per_country.groupby("country")["channel"].nunique()
    rows = per_country.groupby(["country", "week_start"]).size()
    assert (rows == rows.index.get_level_values(0).map(channels)).all()
    segments = feat[feat["segment"] != "all"].groupby(
        ["week_start", "country", "channel"])["revenue"].sum()
    pd.testing.assert_series_equal(segments, everything.set_index(
        ["week_start", "country", "channel"])["revenue"].sort_index(), check_names=False)
    assert set(feat["segment"]) > {"all", "unknown"}


# --- (2) hand-checked values on a tiny set of clean rows ---------------------------------------

D = date.fromisoformat
AS_OF = D("2024-01-14")  # a Sunday: weeks of 2024-01-01 and 2024-01-08 are complete
W1, W2 = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-08")

TINY = {
    "stores": [
        {"store_id": "S1", "region": "DE-N", "country": "DE"},
        {"store_id": "S2", "region": "FR-S", "country": "FR", "opened_date": D("2024-01-03")},
        {"store_id": "S3"},
    ],
    "products": [
        {"sku": "A", "category": "food", "segment": "premium", "list_price": 10.0},
        {"sku": "B", "category": "food", "segment": "value", "list_price": 5.0},
        {"sku": "C", "category": "toys", "list_price": 4.0},
    ],
    "customers": [{"customer_id": "K1", "country": "DE"}, {"customer_id": "K2", "country": "FR"}],
    "pos": [
        {"date": D("2024-01-02"), "store_id": "S1", "sku": "A", "units": 2, "revenue": 20.0,
         "unit_price": 10.0},
        {"date": D("2024-01-03"), "store_id": "S2", "sku": "B", "units": 4, "revenue": 16.0,
         "unit_price": 4.0},
        {"date": D("2024-01-04"), "store_id": "S3", "sku": "C", "units": 1, "revenue": 4.0},
        {"date": D("2024-01-09"), "store_id": "S1", "sku": "B", "units": 1, "revenue": 5.0,
         "unit_price": 5.0},
        {"date": D("2024-01-15"), "store_id": "S1", "sku": "A", "units": 1, "revenue": 10.0},
    ],
    "spend": [
        {"date": D("2024-01-01"), "campaign_id": "CMP-1", "channel": "tv", "spend": 100.0,
         "country": "DE", "impressions": 1000.0},
        {"date": D("2024-01-02"), "campaign_id": "CMP-1", "channel": "tv", "spend": 50.0,
         "country": "DE", "impressions": 500.0},
        {"date": D("2024-01-08"), "campaign_id": "CMP-2", "channel": "search", "spend": 30.0,
         "country": "DE", "impressions": 100.0, "clicks": 10.0},
        {"date": D("2024-01-03"), "campaign_id": "CMP-3", "channel": "search", "spend": 20.0,
         "country": "FR", "clicks": 5.0},
        {"date": D("2024-01-04"), "campaign_id": "CMP-4", "channel": "social", "spend": 40.0},
        {"date": D("2024-01-15"), "campaign_id": "CMP-1", "channel": "tv", "spend": 999.0,
         "country": "DE"},
    ],
    "erp": [
        {"invoice_id": "I1", "invoice_date": D("2024-01-05"), "amount": 100.0, "country": "DE",
         "sku": "A", "customer_id": "K1", "opportunity_id": "O1"},
        {"invoice_id": "I2", "invoice_date": D("2024-01-10"), "amount": 50.0,
         "customer_id": "K2", "opportunity_id": "O2"},
        {"invoice_id": "I3", "invoice_date": D("2024-01-11"), "amount": 7.0, "customer_id": "K9"},
        {"invoice_id": "I4", "invoice_date": D("2024-01-15"), "amount": 1000.0, "country": "DE"},
    ],
    "crm": [
        {"opportunity_id": "O1", "created_date": D("2023-12-01"), "stage": "Closed Won",
         "amount": 100.0, "campaign_id": "CMP-2"},
        {"opportunity_id": "O2", "created_date": D("2024-01-03"), "stage": "Closed Won",
         "amount": 50.0, "campaign_id": "CMP-X"},
    ],
    "events": [
        {"date": D("2024-01-01"), "name": "New Year", "kind": "holiday"},
        {"date": D("2024-01-06"), "name": "Epiphany", "kind": "holiday", "country": "DE"},
        {"date": D("2024-01-09"), "name": "Refit", "kind": "closure", "store_id": "S2"},
        {"date": D("2024-01-10"), "name": "Fair", "region": "DE-N"},
    ],
    "macro": [
        {"date": D("2024-01-01"), "country": "DE", "indicator": "economic_index", "value": 100.0},
        {"date": D("2024-01-03"), "country": "DE", "indicator": "economic_index", "value": 102.0},
        {"date": D("2024-01-02"), "country": "FR", "indicator": "economic_index", "value": 90.0},
    ],
    "promotions": [
        {"promo_id": "P1", "start_date": D("2024-01-03"), "end_date": D("2024-01-04"),
         "discount_pct": 20.0, "category": "food"},
        {"promo_id": "P2", "start_date": D("2024-01-08"), "end_date": D("2024-01-20"),
         "sku": "C", "store_id": "S3"},
        {"promo_id": "P3", "start_date": D("2023-12-20"), "end_date": D("2024-01-31"),
         "discount_pct": 50.0, "status": "Cancelled"},
    ],
}


@pytest.fixture
def tiny(tmp_path: Path) -> Engine:
    engine = get_engine(f"sqlite:///{tmp_path / 'tiny.db'}")
    create_schema(engine)
    for source, rows in TINY.items():
        bulk_insert(engine, clean_table(source), pd.DataFrame(rows))
    return engine


def test_hand_checked_values(tiny: Engine):
    for name in TABLES:
        build_table(tiny, name, run_id="r1", as_of=AS_OF, log=lambda _: None)
    mmm = feature_frame(tiny, "feat_mmm_weekly").set_index(
        ["week_start", "country", "segment", "channel"])
    assert len(mmm) == 2 * (2 + 1 + 3) * 4  # weeks x channels of DE, FR, ALL x segments

    def row(week, country, channel, segment="all"):
        return mmm.loc[(week, country, segment, channel)].to_dict()

    de_tv = row(W1, "DE", "tv")
    assert (de_tv["spend"], de_tv["impressions"], de_tv["campaigns"]) == (150.0, 1500.0, 1)
    assert pd.isna(de_tv["clicks"]) and pd.isna(de_tv["video_views"])  # never reported
    assert (de_tv["revenue_pos"], de_tv["revenue_erp"], de_tv["revenue"]) == (20.0, 100.0, 120.0)
    idle = row(W1, "DE", "search")  # DE's search ran in W2 only: zeros, not a missing row
    assert (idle["spend"], idle["impressions"], idle["clicks"], idle["campaigns"]) == (0, 0, 0, 0)
    assert row(W2, "DE", "tv")["impressions"] == 0 and pd.isna(row(W2, "DE", "tv")["clicks"])
    assert row(W2, "DE", "search")["spend"] == 30.0 and row(W2, "DE", "search")["revenue"] == 5.0
    fr = row(W1, "FR", "search")
    assert (fr["spend"], fr["clicks"], fr["revenue_pos"]) == (20.0, 5.0, 16.0)
    assert pd.isna(fr["impressions"])
    assert row(W2, "FR", "search")["revenue_erp"] == 50.0  # country from the customer
    assert row(W2, "FR", "search")["clicks"] == 0 and pd.isna(row(W2, "FR", "search")["impressions"])
    # ALL: every country plus what has none (S3's POS, I3, the social spend); after as-of: none.
    assert row(W1, "ALL", "social")["spend"] == 40.0
    assert (row(W1, "ALL", "tv")["spend"], row(W1, "ALL", "search")["spend"]) == (150.0, 20.0)
    assert row(W1, "ALL", "tv")["revenue"] == 140.0 and row(W2, "ALL", "tv")["revenue"] == 62.0
    assert row(W2, "ALL", "social")["spend"] == 0 and pd.isna(row(W2, "ALL", "social")["clicks"])
    assert row(W1, "DE", "tv", "premium")["revenue"] == 120.0
    assert row(W1, "DE", "tv", "premium")["spend"] == 150.0  # spend repeats on segment rows
    assert row(W2, "FR", "search", "unknown")["revenue"] == 50.0  # ERP without a SKU
    assert row(W1, "ALL", "tv", "unknown")["revenue"] == 4.0  # SKU C has no segment
    assert row(W2, "ALL", "tv", "unknown")["revenue"] == 57.0
    assert row(W1, "FR", "search", "value")["revenue"] == 16.0

    controls = feature_frame(tiny, "feat_mmm_controls_weekly").set_index(
        ["week_start", "country", "control"])["value"]
    expected = {
        (W1, "DE", "macro_economic_index"): 101.0, (W1, "FR", "macro_economic_index"): 90.0,
        (W1, "ALL", "macro_economic_index"): 95.5,
        (W1, "DE", "holiday_days"): 2, (W1, "FR", "holiday_days"): 1,
        (W1, "ALL", "holiday_days"): 2, (W2, "DE", "holiday_days"): 0,
        (W2, "DE", "event_days"): 1, (W2, "FR", "event_days"): 0,
        (W2, "FR", "closure_store_days"): 1, (W2, "DE", "closure_store_days"): 0,
        (W2, "ALL", "closure_store_days"): 1,
        (W1, "DE", "price_index"): 1.0, (W1, "FR", "price_index"): 0.8,
        (W1, "ALL", "price_index"): (20 + 16 * 0.8 + 4) / 40, (W2, "ALL", "price_index"): 1.0,
        # Cells: 3 stores x 3 products, S2 open from 01-03; P1 covers food (A, B) everywhere
        # on 01-03 and 01-04. W1 open cell-days: S1 21, S2 15, S3 21 (no country: ALL only).
        (W1, "DE", "promo_share"): 4 / 21, (W1, "FR", "promo_share"): 4 / 15,
        (W1, "ALL", "promo_share"): 12 / 57, (W1, "DE", "promo_discount_mean"): 80 / 21,
        (W1, "ALL", "promo_discount_mean"): 240 / 57,
        # W2: P2 (depth unknown) covers (S3, C) all week; cancelled P3 covers nothing.
        (W2, "DE", "promo_share"): 0.0, (W2, "ALL", "promo_share"): 7 / 63,
        (W2, "ALL", "promo_discount_mean"): 0.0,
    }
    for key, value in expected.items():
        assert controls[key] == pytest.approx(value), key
    assert len(controls.loc[(W1, "DE")]) == 7  # macro, 3 event counts, price, promo share+depth
    assert set(controls.index.get_level_values("country")) == {"DE", "FR", "ALL"}

    crm = feature_frame(tiny, "feat_crm_attribution").set_index("invoice_id")
    assert list(crm.index) == ["I1", "I2", "I3"]
    assert crm.loc["I1", ["campaign_id", "channel", "lag_days"]].tolist() == [
        "CMP-2", "search", 35]
    assert crm.loc["I2", "country"] == "FR" and pd.isna(crm.loc["I2", "channel"])
    assert crm.loc["I2", "lag_days"] == 7 and crm.loc["I2", "week_start"] == W2
    assert crm.loc["I3", ["country", "opportunity_id", "channel"]].isna().all()


# --- (3) rebuilding: idempotent, and incremental equal to full --------------------------------


def deliver_correction(engine: Engine, home: Path, invoice_id: str, new_date: date) -> date:
    """Re-deliver one invoice moved to `new_date`; its old date."""
    erp = read_frame(engine, select(clean_table("erp")).where(
        clean_table("erp").c.invoice_id == invoice_id))
    old = erp["invoice_date"].iat[0].date()
    erp = erp[list(SOURCES["erp"].columns)].assign(invoice_date=new_date.isoformat())
    path = home / "landing" / "erp" / "erp_correction.csv"
    erp.to_csv(path, index=False)
    landed = path.stat().st_mtime - SETTLED
    os.utime(path, (landed, landed))
    result = ingest_source("erp", home=home, engine=engine, log=lambda _: None,
                           settle_seconds=60, run_id="test_ingest")
    assert [f.status for f in result.files] == ["loaded"]
    return old


def test_rebuilds_are_idempotent_and_incremental_equals_full(ingested: Engine, tmp_path: Path):
    assert set(build_all(ingested).values()) == {"full"}
    first = {name: feature_frame(ingested, name) for name in TABLES}
    assert set(build_all(ingested, "r2").values()) == {"unchanged"}
    assert set(build_all(ingested, "r3", full_refresh=True).values()) == {"full"}
    for name in TABLES:
        pd.testing.assert_frame_equal(feature_frame(ingested, name), first[name], obj=name)

    # One more week of dated deliveries (dimensions and the CRM snapshot left out: they
    # rebuild everything by design), and an invoice corrected from week 3 into week 10.
    extra = make_world(tmp_path / "slice", days=7, start=day(WORLD_DAYS))
    for source in ("stores", "products", "customers", "crm"):
        shutil.rmtree(extra / source)
    home = tmp_path / "home"
    deliver_world(extra, home)
    ingest_all(home, ingested)
    invoice = read_frame(ingested, select(clean_table("erp").c.invoice_id)
                         .where(clean_table("erp").c.invoice_date == day(16))).iat[0, 0]
    assert deliver_correction(ingested, home, invoice, day(66)) == day(16)

    full = copy_warehouse(ingested, tmp_path / "full.db")
    assert set(build_all(ingested, "r4").values()) == {"incremental"}
    build_all(full, "r4", full_refresh=True)
    assert_same_tables(ingested, full, TABLES)
    weeks = feature_frame(ingested, "feat_mmm_weekly")["week_start"]
    assert weeks.max() == pd.Timestamp(day(WORLD_DAYS + 6) - timedelta(days=9))  # now complete
    moved = feature_frame(ingested, "feat_crm_attribution").set_index("invoice_id")
    assert moved.loc[invoice, "invoice_date"] == pd.Timestamp(day(66))


# --- (4) SQLite and PostgreSQL agree ----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="set LIFTLINE_TEST_POSTGRES_URL to run PostgreSQL tests")
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_postgres_matches_sqlite(ingested_any: Engine, ingested_template: Path, tmp_path: Path):
    reference = tmp_path / "reference.db"
    shutil.copyfile(ingested_template, reference)
    sqlite_engine = get_engine(f"sqlite:///{reference}")
    build_all(sqlite_engine)
    build_all(ingested_any)
    assert_same_tables(ingested_any, sqlite_engine, TABLES)


# --- (5) only spend and erp delivered ---------------------------------------------------------


def test_builds_with_only_spend_and_erp(ingested: Engine):
    with ingested.begin() as conn:
        for source in SOURCES:
            if source not in ("spend", "erp"):
                conn.execute(delete(clean_table(source)))
        log = table("ops_ingest_log")
        conn.execute(delete(log).where(log.c.source.not_in(("spend", "erp"))))
    lines: list[str] = []
    modes = {name: build_table(ingested, name, run_id="r1", log=lines.append).mode
             for name in TABLES}
    assert modes == dict.fromkeys(TABLES, "full")
    mmm = feature_frame(ingested, "feat_mmm_weekly")
    assert set(mmm["segment"]) == {"all"} and (mmm["revenue_pos"] == 0).all()
    assert mmm["revenue_erp"].sum() > 0 and set(mmm["country"]) == {"DE", "FR", "ALL"}
    assert feature_frame(ingested, "feat_mmm_controls_weekly").empty
    crm = feature_frame(ingested, "feat_crm_attribution")
    assert len(crm) > 0 and crm["channel"].isna().all()
    left_out = [line for line in lines if "left out" in line]
    assert len(left_out) == 3, lines
    assert "POS revenue" in left_out[0] and "event counts" in left_out[1]
