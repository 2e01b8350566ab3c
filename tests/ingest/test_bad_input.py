"""Bad input, one case per test: nothing lost, a clear reason, and the books balance after each."""

from __future__ import annotations

import gzip
import json
import os
import time

import pandas as pd
import pytest
from ingest_helpers import assert_reconciles, deliver, ingest, ingest_log

from liftline.ingest import pending_sources
from liftline.warehouse import read_frame

STORES = "store_id,region,country,format,opened_date\nST-1,North,DE,mall,2020-01-01\n"
POS_HEADER = "date,store_id,sku,units,revenue\n"
POS = POS_HEADER + "2024-03-01,ST-1,SKU-1,3,29.97\n2024-03-01,ST-1,SKU-2,1,5.00\n"
SPEND = "date,campaign_id,channel,spend\n2024-03-01,CMP-1,search,120.5\n"


def only_outcome(result):
    assert len(result.files) == 1
    return result.files[0]


def reason_of(home, outcome) -> dict:
    return json.loads((home / outcome.reason_file).read_text())


def clean_rows(engine, table: str) -> pd.DataFrame:
    return read_frame(engine, f"SELECT * FROM {table}")


def test_a_good_delivery_is_loaded_archived_and_logged(home, engine):
    deliver(home, "pos", "pos_march.csv", POS)
    outcome = only_outcome(ingest(home, engine, "pos"))
    assert (outcome.status, outcome.rows_in, outcome.rows_loaded) == ("loaded", 2, 2)
    assert (home / "archive" / "pos" / "pos_march.csv").exists()
    pos = clean_rows(engine, "clean_pos").sort_values("sku")
    assert pos.units.tolist() == [3.0, 1.0] and pos._row_number.tolist() == [1, 2]
    log = ingest_log(engine)
    assert log.archived_path.tolist() == ["archive/pos/pos_march.csv"]
    assert_reconciles(engine)


def test_an_empty_file_is_quarantined_with_its_reason(home, engine):
    deliver(home, "pos", "empty.csv", b"")
    outcome = only_outcome(ingest(home, engine, "pos"))
    assert outcome.status == "quarantined" and "empty" in outcome.reason
    assert reason_of(home, outcome)["file_checks_failed"] == ["empty_file"]
    assert (home / "quarantine" / "pos" / "empty.csv").exists()
    assert_reconciles(engine)


def test_a_header_only_file_loads_nothing_and_is_archived(home, engine):
    deliver(home, "pos", "header_only.csv", POS_HEADER)
    outcome = only_outcome(ingest(home, engine, "pos"))
    assert (outcome.status, outcome.rows_in, outcome.rows_loaded) == ("loaded", 0, 0)
    assert (home / "archive" / "pos" / "header_only.csv").exists()
    assert ingest(home, engine, "pos").changed_tables == []


def test_pos_columns_under_spend_are_quarantined_with_a_hint(home, engine):
    deliver(home, "spend", "misplaced.csv", POS)
    outcome = only_outcome(ingest(home, engine, "spend"))
    assert outcome.status == "quarantined"
    assert "missing required column(s) campaign_id, channel, spend" in outcome.reason
    assert "landing/pos/" in outcome.reason
    assert outcome.rows_in == outcome.rows_rejected == 2  # kept in raw_spend, listed as rejected
    assert len(clean_rows(engine, "raw_spend")) == 2 and clean_rows(engine, "clean_spend").empty
    assert_reconciles(engine)


@pytest.mark.parametrize(
    ("name", "content", "check"),
    [
        ("image.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        ("zero.parquet", b"", "empty_file"),
        ("garbage.parquet", b"PAR1 this is not parquet", "unreadable"),
        ("cut.csv.gz", gzip.compress(POS.encode() * 50)[:60], "truncated"),
        ("report.xlsx", b"PK\x03\x04", "unsupported_format"),
    ],
)
def test_unreadable_files_are_quarantined_whole(home, engine, name, content, check):
    deliver(home, "pos", name, content)
    outcome = only_outcome(ingest(home, engine, "pos"))
    assert outcome.status == "quarantined", outcome.reason
    # A stream cut inside the header also misses the header's last columns.
    assert check in reason_of(home, outcome)["file_checks_failed"]
    assert (home / "quarantine" / "pos" / name).exists()
    assert "\n" not in outcome.reason and "Traceback" not in outcome.reason
    assert_reconciles(engine)


def test_a_csv_cut_mid_row_is_quarantined_as_truncated(home, engine):
    deliver(home, "pos", "cut.csv", POS + "2024-03-02,ST-1,SK")
    outcome = only_outcome(ingest(home, engine, "pos"))
    assert outcome.status == "quarantined" and "cut short" in outcome.reason
    assert clean_rows(engine, "clean_pos").empty


def test_files_still_being_written_are_left_for_the_next_run(home, engine):
    deliver(home, "pos", "fresh.csv", POS, age=5)
    deliver(home, "pos", "upload.csv.part", POS)
    deliver(home, "pos", ".hidden.csv", POS)
    assert pending_sources(home, settle_seconds=60) == []
    assert ingest(home, engine, "pos", settle_seconds=60).files == []
    assert (home / "landing" / "pos" / "fresh.csv").exists()
    # Once settled it is taken; temporary names never are.
    old = time.time() - 120
    os.utime(home / "landing" / "pos" / "fresh.csv", (old, old))
    result = ingest(home, engine, "pos", settle_seconds=60)
    assert [f.file_name for f in result.files] == ["fresh.csv"]
    assert (home / "landing" / "pos" / "upload.csv.part").exists()


@pytest.mark.parametrize("name", ["pos march 2024.csv", "ventes_été_2024.csv", "pos..2024..csv"])
def test_odd_file_names_are_ingested_and_filed_under_their_name(home, engine, name):
    deliver(home, "pos", name, POS)
    outcome = only_outcome(ingest(home, engine, "pos"))
    assert outcome.status == "loaded"
    assert (home / "archive" / "pos" / name).exists()
    assert ingest_log(engine).file_name.tolist() == [name]


def test_the_same_bytes_under_two_names_are_ingested_once(home, engine):
    deliver(home, "pos", "a.csv", POS, age=200)
    deliver(home, "pos", "b.csv", POS, age=100)
    first, second = ingest(home, engine, "pos").files
    assert first.status == "loaded" and second.status == "duplicate"
    assert "duplicate of a.csv" in second.reason
    assert len(clean_rows(engine, "clean_pos")) == 2 and len(clean_rows(engine, "raw_pos")) == 2
    assert len(ingest_log(engine)) == 1
    assert (home / "archive" / "pos" / "b.csv").exists()


def test_a_correction_replaces_the_row_with_the_same_natural_key(home, engine):
    deliver(home, "pos", "pos.csv", POS, age=200)
    corrected = POS_HEADER + "2024-03-01,ST-1,SKU-1,4,39.96\n"
    deliver(home, "pos", "pos.csv.correction.csv", corrected, age=100)
    ingest(home, engine, "pos")
    pos = clean_rows(engine, "clean_pos").set_index("sku")
    assert len(pos) == 2
    assert pos.loc["SKU-1", "units"] == 4.0 and pos.loc["SKU-2", "units"] == 1.0
    # Re-delivered under the same name as an archived file: filed beside it, not over it.
    deliver(home, "pos", "pos.csv", POS_HEADER + "2024-03-01,ST-1,SKU-2,2,10.00\n")
    ingest(home, engine, "pos")
    assert len(list((home / "archive" / "pos").glob("pos.*csv"))) == 3
    assert_reconciles(engine)


def test_column_names_are_case_insensitive_and_extra_columns_stay_in_raw(home, engine):
    deliver(home, "pos", "pos.csv", "Date,STORE_ID,Sku,Units,Revenue,Weather\n"
            "2024-03-01,ST-1,SKU-1,3,29.97,sunny\n")
    assert only_outcome(ingest(home, engine, "pos")).status == "loaded"
    raw = clean_rows(engine, "raw_pos")
    assert json.loads(raw._extra[0]) == {"weather": "sunny"}
    assert clean_rows(engine, "clean_pos").store_id.tolist() == ["ST-1"]


def test_parquet_and_gzip_deliveries_load(home, engine, tmp_path):
    frame = pd.DataFrame({"date": pd.to_datetime(["2024-03-01"]).date, "campaign_id": ["CMP-9"],
                          "channel": ["tv"], "spend": [1000.0]})
    frame.to_parquet(tmp_path / "s.parquet")
    deliver(home, "spend", "spend.parquet", (tmp_path / "s.parquet").read_bytes())
    deliver(home, "spend", "spend.csv.gz", gzip.compress(SPEND.encode()))
    result = ingest(home, engine, "spend")
    assert sorted(f.status for f in result.files) == ["loaded", "loaded"]
    spend = clean_rows(engine, "clean_spend").set_index("campaign_id")
    assert spend.loc["CMP-9", "spend"] == 1000.0 and spend.loc["CMP-1", "spend"] == 120.5


def test_unknown_stores_are_warned_about_but_loaded(home, engine):
    deliver(home, "stores", "stores.csv", STORES)
    ingest(home, engine, "stores")
    deliver(home, "pos", "pos.csv", POS_HEADER + "2024-03-01,ST-404,SKU-1,3,29.97\n")
    outcome = only_outcome(ingest(home, engine, "pos"))
    assert outcome.status == "loaded" and outcome.warnings == {"store_id_in_stores": 1}
    assert "warnings: store_id_in_stores 1" in ingest_log(engine).reason.iloc[-1]


def test_rows_over_the_threshold_quarantine_the_file_but_keep_every_row(home, engine):
    bad = POS_HEADER + "".join(f"2024-03-01,ST-1,SKU-{i},{-1 if i < 3 else 1},1\n"
                               for i in range(20))
    deliver(home, "pos", "mostly_bad.csv", bad)
    outcome = only_outcome(ingest(home, engine, "pos"))
    assert outcome.status == "quarantined" and "15.0% > the 5% threshold" in outcome.reason
    rejected = clean_rows(engine, "ops_rejected_rows").sort_values("row_number")
    assert len(rejected) == 20 and len(clean_rows(engine, "raw_pos")) == 20
    assert json.loads(rejected.checks.iloc[0]) == ["units_not_negative"]
    assert json.loads(rejected.checks.iloc[5]) == ["file_quarantined"]
    assert "units='-1'" in rejected.detail.iloc[0]
    assert clean_rows(engine, "clean_pos").empty
    assert_reconciles(engine)


def test_rejected_rows_of_an_accepted_file_are_written_beside_their_reason(home, engine):
    good = "".join(f"2024-03-01,ST-1,SKU-{i},1,1\n" for i in range(40))
    deliver(home, "pos", "pos.csv", POS_HEADER + good + "2024-03-01,ST-1,SKU-X,n/a,1\n")
    outcome = only_outcome(ingest(home, engine, "pos"))
    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("partial", 40, 1)
    document = reason_of(home, outcome)
    assert document["row_checks_failed"][0]["check"] == "units_is_number"
    assert document["row_checks_failed"][0]["first_rows"] == [41]
    rows = pd.read_csv(home / document["rejected_rows_file"], dtype=str, keep_default_na=False)
    assert rows._row_number.tolist() == ["41"] and rows.units.tolist() == ["n/a"]


def test_a_crash_after_the_commit_only_files_the_delivery_on_the_next_run(home, engine):
    path = deliver(home, "pos", "pos.csv", POS)
    ingest(home, engine, "pos")
    # As if the process died between the commit and the move: the file is back in landing/.
    (home / "archive" / "pos" / "pos.csv").rename(path)
    outcome = only_outcome(ingest(home, engine, "pos"))
    assert outcome.status == "duplicate"
    assert len(clean_rows(engine, "clean_pos")) == 2 and len(ingest_log(engine)) == 1


def test_a_file_that_vanishes_before_it_is_read_is_noted_not_fatal(home, engine, monkeypatch):
    from liftline.ingest import pipeline, ready_files

    deliver(home, "pos", "moved.csv", POS)
    listed = ready_files(home, "pos", 0)
    (home / "landing" / "pos" / "moved.csv").unlink()  # e.g. the sender took it back
    monkeypatch.setattr(pipeline, "ready_files", lambda *args, **kwargs: listed)
    result = ingest(home, engine, "pos")
    assert result.files == [] and "moved.csv left in landing/" in result.notes[-1]
    assert ingest_log(engine).empty


def test_next_months_holidays_are_plausible_events(home, engine):
    from datetime import date, timedelta

    soon = (date.today() + timedelta(days=40)).isoformat()
    deliver(home, "events", "calendar.csv", f"date,name,kind,country\n{soon},Christmas,holiday,DE\n")
    assert only_outcome(ingest(home, engine, "events")).status == "loaded"


# --- real-extract quirks (from review) -----------------------------------------------------


def test_a_trailing_comma_on_the_first_row_does_not_shift_columns(home, engine):
    deliver(home, "stores", "stores.csv", "store_id,region\n00123,North,\n00124,South\n")
    outcome = only_outcome(ingest(home, engine, "stores"))
    # The row with the extra field is rejected on its own (1 of 2 rows: over the threshold).
    assert outcome.status == "quarantined" and "too_many_fields 1" in outcome.reason
    rejected = clean_rows(engine, "ops_rejected_rows").sort_values("row_number")
    assert "3 fields where the header has 2" in rejected.detail.iloc[0]
    raw = clean_rows(engine, "raw_stores").sort_values("store_id")
    assert raw.region.tolist() == ["North", "South"]  # not shifted
    assert_reconciles(engine)


def test_old_mac_line_endings_and_spaced_headers_are_read(home, engine):
    deliver(home, "pos", "mac.csv", b"Date,Store ID,SKU,Units,Revenue\r2024-03-01,00123,A,1,2\r")
    assert only_outcome(ingest(home, engine, "pos")).status == "loaded"
    assert clean_rows(engine, "clean_pos").store_id.tolist() == ["00123"]  # ids stay strings


def test_a_header_only_file_missing_a_required_column_is_quarantined(home, engine):
    deliver(home, "pos", "header.csv", "date,store_id,sku,units\n")
    outcome = only_outcome(ingest(home, engine, "pos"))
    assert outcome.status == "quarantined" and "revenue" in outcome.reason


def test_out_of_range_values_reject_their_row_instead_of_crashing(home, engine):
    promos = ("promo_id,start_date,end_date,discount_pct\n"
              + "".join(f"P{i},2024-03-01,2024-03-10,10\n" for i in range(30))
              + "P-open,2024-03-01,9999-12-31,10\n")
    deliver(home, "promotions", "promos.csv", promos)
    outcome = only_outcome(ingest(home, engine, "promotions"))
    assert (outcome.status, outcome.rows_rejected) == ("partial", 1)
    detail = clean_rows(engine, "ops_rejected_rows").detail[0]
    assert "end_date_is_date: end_date='9999-12-31'" in detail
    pos = POS_HEADER.strip() + ",customer_count\n" + "".join(
        f"2024-03-01,ST-1,SKU-{i},1,1,{'99999999999999999999' if i == 0 else 3}\n"
        for i in range(30))
    deliver(home, "pos", "pos.csv", pos)
    assert only_outcome(ingest(home, engine, "pos")).rows_rejected == 1


def test_one_key_written_two_ways_is_a_repeat(home, engine):
    deliver(home, "pos", "pos.csv", POS_HEADER + "2024-03-05,S,A,1,1\n2024-3-5,S,A,2,2\n"
            + "".join(f"2024-03-05,S,B{i},1,1\n" for i in range(30)))
    outcome = only_outcome(ingest(home, engine, "pos"))
    assert outcome.rows_rejected == 1 and outcome.rows_loaded == len(clean_rows(engine,
                                                                               "clean_pos"))


def test_parquet_written_by_pandas_with_an_index_and_nullable_ids(home, engine, tmp_path):
    days = pd.date_range("2024-03-01", periods=30)  # stored as timestamps at midnight
    frame = pd.DataFrame({"date": days,
                          "campaign_id": pd.array([123] * 29 + [None], dtype="Int64"),
                          "channel": "tv", "spend": 10.0}).set_index("date")
    frame.to_parquet(tmp_path / "s.parquet")
    deliver(home, "spend", "spend.parquet", (tmp_path / "s.parquet").read_bytes())
    outcome = only_outcome(ingest(home, engine, "spend"))
    assert (outcome.rows_loaded, outcome.rows_rejected) == (29, 1)  # the id-less row
    spend = clean_rows(engine, "clean_spend").sort_values("date")
    assert set(spend.campaign_id) == {"123"} and str(spend.date.iloc[0])[:10] == "2024-03-01"


def test_macro_indicators_may_be_called_value_and_text_columns_are_not_indicators(home, engine):
    deliver(home, "macro", "macro.csv", "date,country,value,cpi,source\n"
            "2024-03-01,DE,1.5,2.0,Eurostat\n2024-03-01,FR,,2.1,Eurostat\n")
    assert only_outcome(ingest(home, engine, "macro")).status == "loaded"
    macro = clean_rows(engine, "clean_macro").sort_values(["country", "indicator"])
    assert macro[["country", "indicator", "value"]].values.tolist() == [
        ["DE", "cpi", 2.0], ["DE", "value", 1.5], ["FR", "cpi", 2.1]]


def test_a_partial_file_does_not_overwrite_an_earlier_quarantine_reason(home, engine):
    deliver(home, "pos", "pos.csv", b"", age=200)
    ingest(home, engine, "pos")
    good = "".join(f"2024-03-01,ST-1,SKU-{i},1,1\n" for i in range(40))
    deliver(home, "pos", "pos.csv", POS_HEADER + good + "2024-03-01,ST-1,SKU-X,n/a,1\n")
    outcome = only_outcome(ingest(home, engine, "pos"))
    assert outcome.status == "partial"
    reasons = sorted(p.name for p in (home / "quarantine" / "pos").glob("*.reason.json"))
    assert len(reasons) == 2
    first = json.loads((home / "quarantine" / "pos" / "pos.csv.reason.json").read_text())
    assert first["status"] == "quarantined"


@pytest.mark.parametrize("bad", [False, True])
def test_a_run_that_stopped_before_filing_is_finished_by_the_next(home, engine, bad):
    path = deliver(home, "pos", "pos.csv", b"" if bad else POS)
    ingest(home, engine, "pos")
    area = "quarantine" if bad else "archive"
    # As if the process died after the commit, before the move: the log has no path yet.
    (home / area / "pos" / "pos.csv").rename(path)
    (home / area / "pos" / "pos.csv.reason.json").unlink(missing_ok=True)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE ops_ingest_log SET archived_path = NULL")
    if bad:
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM ops_alerts")
    result = ingest(home, engine, "pos")
    outcome = only_outcome(result)
    assert outcome.status == ("quarantined" if bad else "loaded")
    assert ingest_log(engine).archived_path.tolist() == [f"{area}/pos/pos.csv"]
    assert result.changed_tables == ([] if bad else ["clean_pos"])
    assert (home / area / "pos" / "pos.csv").exists()
    alerts = clean_rows(engine, "ops_alerts")
    assert len(alerts) == (1 if bad else 0)
    assert len(clean_rows(engine, "clean_pos")) == (0 if bad else 2)


def test_a_lift_tests_post_period_ending_before_its_window_rejects_the_row(home, engine):
    """measured_until (optional) is loaded where given; one before end_date rejects its row."""
    tests = ("channel,start_date,end_date,incremental_revenue,spend,measured_until\n"
             + "".join(f"tv,2024-01-{i + 1:02d},2024-02-{i + 1:02d},{1000 + i},800,"
                       f"{f'2024-04-{i + 1:02d}' if i % 6 == 1 else ''}\n" for i in range(24))
             + "tv,2024-07-01,2024-07-28,900,800,2024-07-14\n")
    deliver(home, "lift_tests", "lift_tests.csv", tests)
    outcome = only_outcome(ingest(home, engine, "lift_tests"))
    assert (outcome.status, outcome.rows_rejected) == ("partial", 1)
    document = reason_of(home, outcome)
    assert document["row_checks_failed"][0]["check"] == "measured_until_not_before_end_date"
    loaded = clean_rows(engine, "clean_lift_tests")
    assert pd.to_datetime(loaded.measured_until).notna().sum() == 4
    assert_reconciles(engine)
