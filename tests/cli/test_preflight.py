"""Preflight checks: a warehouse that answers, and something for `liftline run` to run on."""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy.exc import OperationalError

from liftline.cli.preflight import (
    SetupError,
    connect_warehouse,
    driver_reason,
    require_something_to_run,
    warehouse_has_data,
)
from liftline.warehouse import clean_table, dispose_engines

UNREACHABLE_POSTGRES = "postgresql://liftline:s3cret@127.0.0.1:1/warehouse"


@pytest.fixture(autouse=True)
def _fresh_engines():
    yield
    dispose_engines()


def test_an_unreachable_postgres_is_one_line_without_the_password(monkeypatch):
    monkeypatch.setenv("LIFTLINE_WAREHOUSE_URL", UNREACHABLE_POSTGRES)
    with pytest.raises(SetupError) as caught:
        connect_warehouse()
    message = str(caught.value)
    assert message == (
        "cannot connect to the warehouse postgresql+psycopg://liftline:***@127.0.0.1:1/warehouse "
        "(Connection refused): start the database, or set LIFTLINE_WAREHOUSE_URL to one this "
        "machine can reach")
    assert "s3cret" not in message and "\n" not in message


def test_a_sqlite_file_that_cannot_be_opened_is_a_setup_error(monkeypatch, tmp_path):
    monkeypatch.setenv("LIFTLINE_WAREHOUSE_URL", f"sqlite:///{tmp_path}")  # a directory
    with pytest.raises(SetupError, match=r"^cannot open the warehouse sqlite:///.* \(unable to "
                                         r"open database file\): set LIFTLINE_HOME"):
        connect_warehouse()


def test_a_sqlite_folder_that_cannot_be_created_is_a_setup_error(monkeypatch, tmp_path):
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("LIFTLINE_WAREHOUSE_URL", f"sqlite:///{tmp_path}/a_file/sub/w.db")
    with pytest.raises(SetupError, match="cannot create the warehouse directory .*Not a directory"):
        connect_warehouse()


def test_a_reachable_warehouse_is_returned(monkeypatch, tmp_path):
    monkeypatch.setenv("LIFTLINE_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    engine = connect_warehouse()
    assert engine.url.database == str(tmp_path / "w.db")


def test_driver_reason_keeps_the_drivers_own_words():
    refused = OperationalError("SELECT 1", {}, Exception(
        'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection '
        "refused\n\tIs the server running on that host and accepting TCP/IP connections?"))
    assert driver_reason(refused) == "Connection refused"
    missing = OperationalError("SELECT 1", {}, Exception(
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
        'database "nosuchdb" does not exist'))
    assert driver_reason(missing) == 'database "nosuchdb" does not exist'
    assert driver_reason(OSError("disk on fire")) == "disk on fire"


def drop(home, relative: str, age_seconds: float = 3600) -> None:
    path = home / "landing" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("store_id\nST-1\n")
    then = time.time() - age_seconds
    os.utime(path, (then, then))


def test_nothing_in_landing_and_no_data_is_one_line_saying_what_to_do(engine, tmp_path):
    with pytest.raises(SetupError) as caught:
        require_something_to_run(engine, tmp_path, settle_seconds=0)
    assert str(caught.value) == (
        f"nothing to run on: landing/ ({tmp_path / 'landing'}) holds no extracts and the "
        "warehouse holds no data; drop extracts into landing/<source>/ or run `liftline demo`")


def test_a_ready_file_in_landing_is_something_to_run_on(engine, tmp_path):
    drop(tmp_path, "stores/stores.csv")
    require_something_to_run(engine, tmp_path, settle_seconds=60)


def test_files_still_settling_say_how_to_take_them_now(engine, tmp_path):
    drop(tmp_path, "stores/stores.csv", age_seconds=0)
    drop(tmp_path, "stores/stores.csv.part")  # never taken: not counted
    with pytest.raises(SetupError, match=r"^nothing to run on yet: the 1 file\(s\) in landing/ "
                                         r".* changed less than 60s ago .* --settle-seconds 0$"):
        require_something_to_run(engine, tmp_path, settle_seconds=60)


def test_a_file_outside_any_source_folder_is_named(engine, tmp_path):
    drop(tmp_path, "stores.csv")
    with pytest.raises(SetupError, match=r"holds no extracts \(landing/stores.csv is not in a "
                                         r"source folder: move it to landing/<source>/\)"):
        require_something_to_run(engine, tmp_path, settle_seconds=0)


def test_earlier_data_makes_an_empty_landing_a_legitimate_rerun(warehouse, tmp_path):
    assert not warehouse_has_data(warehouse)  # the schema alone is no data
    with pytest.raises(SetupError):
        require_something_to_run(warehouse, tmp_path, settle_seconds=0)
    with warehouse.begin() as conn:
        conn.execute(clean_table("stores").insert(), [{"store_id": "ST-1"}])
    assert warehouse_has_data(warehouse)
    require_something_to_run(warehouse, tmp_path, settle_seconds=0)
