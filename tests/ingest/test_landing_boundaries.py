"""What landing/ holds that is not ingested is named, and file handling never leaves
LIFTLINE_HOME: links to files or folders outside it are refused, nothing is read through them."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from ingest_helpers import deliver, ingest, ingest_log

from liftline.cli.summary import summarize_run
from liftline.ingest import pending_sources, ready_files, skipped_files
from liftline.warehouse import read_frame

POS = "date,store_id,sku,units,revenue\n2024-03-01,ST-1,SKU-1,3,29.97\n"
SPEND = "date,campaign_id,channel,spend\n2024-03-01,CMP-1,search,120.5\n"
OUTSIDE_POS = "date,store_id,sku,units,revenue\n2024-03-01,OUTSIDE,SKU-9,7,70\n"


@pytest.fixture
def outside() -> Path:
    """A folder in /tmp outside every LIFTLINE_HOME, with valid extracts in it."""
    folder = Path("/tmp") / f"liftline-outside-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    (folder / "pos.csv").write_text(OUTSIDE_POS)
    (folder / "spend.csv").write_text(SPEND)
    old = os.path.getmtime(folder / "pos.csv") - 600
    for path in folder.iterdir():
        os.utime(path, (old, old))
    yield folder
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


def summary_text(engine, home) -> str:
    return summarize_run(engine, [], home=home).text()


def nothing_from_outside_reached_the_warehouse(engine) -> None:
    for table in ("raw_pos", "clean_pos", "raw_spend", "clean_spend", "ops_rejected_rows"):
        assert read_frame(engine, f"SELECT COUNT(*) AS n FROM {table}").n[0] == 0, table
    assert ingest_log(engine).empty


def test_files_skipped_on_purpose_are_named_in_the_log_and_the_summary(home, engine):
    deliver(home, "pos", ".DS_Store", b"\x00\x01")
    deliver(home, "pos", "upload.csv.part", POS)
    deliver(home, "pos", "pos.csv", POS)
    (home / "landing" / "pos" / "old").mkdir()
    deliver(home, "landing_typo", "x.csv", POS)  # an unknown folder: landing/landing_typo/
    (home / "landing" / "stray.csv").write_text(POS)
    logged: list[str] = []
    assert pending_sources(home, 0, log=logged.append) == ["pos"]
    expected = ["landing/pos/.DS_Store is a hidden file",
                "landing/pos/upload.csv.part has a temporary name",
                "landing/pos/old/ is a sub-folder",
                "landing/landing_typo/ is not a source folder",
                "landing/stray.csv is not in a source folder: move it to landing/<source>/"]
    for text in expected:
        assert any(line.startswith(text) for line in logged), (text, logged)
    result = ingest(home, engine, "pos")
    assert [f.file_name for f in result.files] == ["pos.csv"]
    assert len(result.notes) == 3 and all(n.startswith("pos: landing/pos/") for n in result.notes)
    summary = summary_text(engine, home)
    assert "landing    5 not ingested, left in landing/:" in summary
    for text in expected:
        assert text in summary


def test_a_link_to_a_file_outside_home_is_refused_and_not_read(home, engine, outside):
    link = home / "landing" / "pos" / "pos.csv"
    link.symlink_to(outside / "pos.csv")
    logged: list[str] = []
    assert pending_sources(home, 0, log=logged.append) == []
    assert ready_files(home, "pos", 0) == []
    result = ingest(home, engine, "pos", settle_seconds=0)
    assert result.files == []
    assert "is a symbolic link" in result.notes[0] and "outside LIFTLINE_HOME" in result.notes[0]
    assert any("landing/pos/pos.csv is a symbolic link" in line for line in logged)
    nothing_from_outside_reached_the_warehouse(engine)
    assert link.is_symlink() and (outside / "pos.csv").read_text() == OUTSIDE_POS  # untouched
    summary = summary_text(engine, home)
    assert "1 link(s) or special file(s) in landing/ refused" in summary.splitlines()[0]
    assert "landing/pos/pos.csv is a symbolic link" in summary


def test_a_source_folder_that_is_a_link_outside_home_is_refused(home, engine, outside):
    (home / "landing" / "spend").rmdir()
    (home / "landing" / "spend").symlink_to(outside, target_is_directory=True)
    (home / "landing" / "pos" / "more").symlink_to(outside, target_is_directory=True)
    assert pending_sources(home, 0, log=lambda _: None) == []
    for source in ("spend", "pos"):
        assert ingest(home, engine, source, settle_seconds=0).files == []
    nothing_from_outside_reached_the_warehouse(engine)
    refused = {s.path: s for s in skipped_files(home)}
    assert refused["landing/spend"].refused and refused["landing/pos/more"].refused
    assert sorted(p.name for p in outside.iterdir()) == ["pos.csv", "spend.csv"]


def test_a_file_replaced_by_a_link_after_listing_is_not_read(home, engine, outside, monkeypatch):
    from liftline.ingest import pipeline

    path = deliver(home, "pos", "pos.csv", POS)
    listed = ready_files(home, "pos", 0)
    path.unlink()
    path.symlink_to(outside / "pos.csv")  # swapped between listing and reading
    monkeypatch.setattr(pipeline, "ready_files", lambda *args, **kwargs: listed)
    result = ingest(home, engine, "pos")
    assert result.files == [] and "is a symbolic link" in result.notes[-1]
    nothing_from_outside_reached_the_warehouse(engine)


def test_a_named_pipe_is_refused_instead_of_blocking_the_run(home, engine):
    os.mkfifo(home / "landing" / "pos" / "pipe.csv")
    result = ingest(home, engine, "pos", settle_seconds=0)
    assert result.files == [] and "is not a regular file" in result.notes[0]


@pytest.mark.parametrize("name", ["pos..\\..\\escape.csv", "%2e%2e%2fup.csv", "pos ....csv"])
def test_names_that_look_like_paths_stay_inside_home(home, engine, name):
    deliver(home, "pos", name, POS)
    outcome = ingest(home, engine, "pos").files[0]
    assert outcome.status == "loaded"
    assert (home / "archive" / "pos" / name).is_file()
    filed = (home / outcome.filed_to).resolve()
    assert filed.parent == (home / "archive" / "pos").resolve()


def test_names_starting_with_dots_are_hidden_files_and_named(home, engine):
    for name in ("..\\..\\escape.csv", "..csv"):
        deliver(home, "pos", name, POS)
    result = ingest(home, engine, "pos")
    assert result.files == [] and len(result.notes) == 2
    assert all("is a hidden file" in note for note in result.notes)
    assert ingest_log(engine).empty
