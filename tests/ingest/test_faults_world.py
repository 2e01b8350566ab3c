"""A synthetic world with every injected fault: ingest quarantines exactly what faults.json says."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from ingest_helpers import assert_every_line_accounted_for, assert_reconciles, ingest, ingest_log

from liftline.contract import SOURCES
from liftline.ingest import pending_sources
from liftline.synth import generate
from liftline.warehouse import read_frame


@pytest.fixture(scope="module")
def faulty_world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("world") / "landing"
    generate(out, scale="small", days=62, faults=True, progress=False)
    return out


@pytest.fixture
def ingested(faulty_world: Path, home: Path, engine):
    shutil.copytree(faulty_world, home / "landing", dirs_exist_ok=True)
    results = [ingest(home, engine, s, settle_seconds=0) for s in pending_sources(home, 0)]
    return home, engine, results


def _left_in_landing(home: Path) -> list[Path]:
    return [p for name in SOURCES for p in (home / "landing" / name).iterdir()]


def _faults(home: Path) -> list[dict]:
    faults = json.loads((home / "landing" / "_truth" / "faults.json").read_text())
    return faults["faults"] if isinstance(faults, dict) else faults


def test_a_faulty_world_is_ingested_exactly_and_only_once(ingested, faulty_world):
    # One test, three stages, so the world is ingested once per database.
    home, engine, _ = ingested
    check_exactly_the_injected_faults_are_quarantined(home, engine)
    check_every_delivered_line_is_loaded_or_rejected(engine, faulty_world)
    check_quarantined_files_raise_one_data_quality_alert_each(home, engine)
    check_a_second_run_and_a_redelivery_change_nothing(home, engine, faulty_world)


def check_exactly_the_injected_faults_are_quarantined(home, engine):
    log = ingest_log(engine).set_index("file_name")
    rejected = read_frame(engine, "SELECT file_sha256, row_number FROM ops_rejected_rows")
    faults = _faults(home)
    assert len(faults) == 10
    fault_files = set()
    for fault in faults:
        name = Path(fault["file"]).name
        fault_files.add(name)
        entry = log.loc[name]
        rows = sorted(rejected.loc[rejected.file_sha256 == entry.file_sha256, "row_number"])
        if fault["expect"] == "file_quarantined":
            assert entry.status == "quarantined", (fault["kind"], entry.reason)
            assert (home / "quarantine" / fault["source"] / name).exists()
            assert (home / "quarantine" / fault["source"] / f"{name}.reason.json").exists()
            assert entry.rows_loaded == 0
            assert entry.rows_rejected == entry.rows_in  # kept in raw, listed as rejected
            if fault["rows"]:
                checks = read_frame(engine, "SELECT row_number, checks FROM ops_rejected_rows "
                                    "WHERE file_sha256 = :sha AND checks NOT LIKE "
                                    "'%file_quarantined%'", params={"sha": entry.file_sha256})
                assert sorted(checks.row_number) == fault["rows"], fault["kind"]
        else:
            assert entry.status == "partial", (fault["kind"], entry.reason)
            assert rows == fault["rows"], fault["kind"]
            assert (home / "archive" / fault["source"] / name).exists()
    clean = log.drop(index=list(fault_files))
    assert (clean.status == "loaded").all(), clean[clean.status != "loaded"][["status", "reason"]]
    assert_reconciles(engine)
    assert not _left_in_landing(home), "every delivery was filed away"


def check_every_delivered_line_is_loaded_or_rejected(engine, faulty_world):
    delivered = {path.name: path for name in SOURCES for path in (faulty_world / name).iterdir()
                 if not path.name.endswith(".parquet")}
    assert_every_line_accounted_for(engine, delivered)
    # The transfers cut short keep their complete rows; the row cut in two is rejected for it.
    detail = read_frame(engine, "SELECT r.checks FROM ops_rejected_rows r JOIN ops_ingest_log l "
                                "ON l.file_sha256 = r.file_sha256 WHERE l.file_name LIKE "
                                "'%fault_truncated.csv'")
    assert len(detail) > 100 and detail.checks.str.contains("truncated_row").sum() == 1


def check_quarantined_files_raise_one_data_quality_alert_each(home, engine):
    alerts = read_frame(engine, "SELECT * FROM ops_alerts WHERE kind = 'data_quality'")
    quarantined = [Path(f["file"]).name for f in _faults(home) if f["expect"] == "file_quarantined"]
    assert sorted(alerts.entity_key.str.split("/").str[-1]) == sorted(quarantined)
    details = json.loads(alerts.details_json.iloc[0])
    assert details["quarantine_path"].startswith("quarantine/")
    assert details["failed_checks"] and details["file"] in alerts.entity_key.iloc[0]


def check_a_second_run_and_a_redelivery_change_nothing(home, engine, faulty_world):
    tables = ["clean_pos", "clean_spend", "clean_erp", "raw_pos", "ops_ingest_log",
              "ops_rejected_rows", "ops_alerts"]

    def counts():
        return {t: int(read_frame(engine, f"SELECT COUNT(*) AS n FROM {t}").n[0]) for t in tables}

    before = counts()
    assert pending_sources(home, 0) == []  # a second run finds nothing to do
    # The same world delivered again: every file is a duplicate of one already ingested.
    shutil.copytree(faulty_world, home / "landing", dirs_exist_ok=True)
    results = [ingest(home, engine, s, settle_seconds=0) for s in pending_sources(home, 0)]
    statuses = {f.status for r in results for f in r.files}
    assert statuses == {"duplicate"}
    assert counts() == before
    assert not _left_in_landing(home)
