"""Two ingests of one source at once, on one home and warehouse (two schedulers, or a manual
rerun during a scheduled run): every file is loaded once and filed once, and the second run
says for whom it waited.

The second run starts in the window that used to go wrong: the first has committed a file but
not yet moved it out of landing/ (its move is slowed down here), so without the source claim
the second would file that file as a duplicate of itself and the first would lose its move.
"""

from __future__ import annotations

import threading
import time

import pytest
from ingest_helpers import assert_reconciles, deliver, ingest_log

import liftline.ingest.pipeline as pipeline
from liftline.ingest import ingest_source
from liftline.warehouse import read_frame

POS_HEADER = "date,store_id,sku,units,revenue\n"
DAYS = 5
ROWS_PER_DAY = 30
MOVE_SECONDS = 0.15


def pos_day(day: int, bad_row: bool = False) -> str:
    rows = "".join(f"2024-03-0{day},ST-1,SKU-{i},1,2.5\n" for i in range(ROWS_PER_DAY))
    return POS_HEADER + rows + ("2024-03-01,ST-1,SKU-X,n/a,1\n" if bad_row else "")


@pytest.fixture
def deliveries(home):
    """Five days of pos; day 3 has a row that fails its checks (a partial file)."""
    names = []
    for day in range(1, DAYS + 1):
        name = f"pos_2024030{day}.csv"
        deliver(home, "pos", name, pos_day(day, bad_row=day == 3), age=600 - day)
        names.append(name)
    return names


def two_runs_at_once(home, engine, monkeypatch) -> tuple[dict, dict]:
    """Ingest pos as run "first"; start run "second" once "first" committed a file."""
    committed = threading.Event()
    move = pipeline.file_away

    def slow_move(*args, **kwargs):
        committed.set()
        time.sleep(MOVE_SECONDS)  # committed, not yet moved: where a second run used to step in
        return move(*args, **kwargs)

    monkeypatch.setattr(pipeline, "file_away", slow_move)
    results, logs, errors = {}, {"first": [], "second": []}, []

    def run(name: str) -> None:
        try:
            results[name] = ingest_source("pos", home=home, engine=engine, run_id=name,
                                          settle_seconds=60, log=logs[name].append)
        except BaseException as exc:  # re-raised in the test's thread below
            errors.append(exc)

    first = threading.Thread(target=run, args=("first",))
    first.start()
    assert committed.wait(60), "the first run never committed a file"
    second = threading.Thread(target=run, args=("second",))
    second.start()
    first.join(120)
    second.join(120)
    if errors:
        raise errors[0]
    return results, logs


def test_two_runs_at_once_load_and_file_every_delivery_once(home, engine, deliveries,
                                                            monkeypatch):
    results, logs = two_runs_at_once(home, engine, monkeypatch)

    # The first run did it all; the second waited for it, said so, and found nothing left.
    assert [f.file_name for f in results["first"].files] == deliveries
    assert results["second"].files == []
    assert any(line.startswith("waiting for the ingest of pos: run first (pid ")
               for line in logs["second"]), logs["second"]
    assert any(line.startswith("got the ingest of pos after waiting ") for line in logs["second"])
    assert "waited" in results["second"].notes[0]

    # Each file once in the log, filed exactly once where its archived path says.
    log = ingest_log(engine)
    assert sorted(log.file_name) == deliveries
    assert sorted(log.status) == ["loaded"] * (DAYS - 1) + ["partial"]
    assert sorted(p.name for p in (home / "archive" / "pos").iterdir()) == deliveries
    assert sorted(log.archived_path) == [f"archive/pos/{name}" for name in deliveries]
    assert not any((home / "landing" / "pos").iterdir())

    # The partial file keeps its rejected rows and its reason beside them.
    assert sorted(p.name for p in (home / "quarantine" / "pos").iterdir()) == [
        "pos_20240303.csv.reason.json", "pos_20240303.csv.rejected.csv"]

    # The warehouse holds what one run would have written.
    raw = read_frame(engine, "SELECT COUNT(*) AS n FROM raw_pos").n.iloc[0]
    clean = read_frame(engine, "SELECT COUNT(*) AS n FROM clean_pos").n.iloc[0]
    assert (raw, clean) == (DAYS * ROWS_PER_DAY + 1, DAYS * ROWS_PER_DAY)
    assert_reconciles(engine)


def test_a_run_alone_does_not_wait(home, engine, deliveries):
    lines = []
    result = ingest_source("pos", home=home, engine=engine, settle_seconds=60, log=lines.append)
    assert len(result.files) == DAYS and result.notes == []
    assert not any("waiting" in line for line in lines)
