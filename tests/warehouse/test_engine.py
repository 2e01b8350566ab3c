"""Engine construction: URL handling, caching, and SQLite settings for parallel tasks."""

from __future__ import annotations

import os
import sqlite3
import threading
import time

import pytest

from liftline.warehouse import dispose_engines, get_engine, write_transaction


@pytest.fixture(autouse=True)
def _fresh_engine_cache():
    dispose_engines()
    yield
    dispose_engines()


def test_sqlite_engine_creates_directory_and_enables_wal_busy_timeout_foreign_keys(tmp_path):
    path = tmp_path / "nested" / "dir" / "warehouse.db"
    engine = get_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    # WAL is a property of the file: any other process opening it gets it too.
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


def test_sqlite_writers_wait_for_the_lock_and_readers_are_not_blocked(tmp_path):
    engine = get_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    finished: list[float] = []

    def second_writer() -> None:
        # Reads before writing, like create_schema: in a deferred transaction the read's
        # snapshot goes stale when the first writer commits, and the INSERT fails at once.
        with write_transaction(engine) as conn:
            seen = conn.exec_driver_sql("SELECT count(*) FROM t").scalar()
            conn.exec_driver_sql(f"INSERT INTO t VALUES ({seen + 1})")
        finished.append(time.monotonic())

    with write_transaction(engine) as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        thread = threading.Thread(target=second_writer)
        thread.start()
        time.sleep(0.3)
        assert not finished, "the second writer should wait for the first one's lock"
        with engine.connect() as reader:  # WAL: reading does not wait for the writer
            assert reader.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
        released = time.monotonic()
    thread.join(timeout=10)
    assert finished and finished[0] >= released, "the second writer failed instead of waiting"
    with engine.connect() as conn:
        assert [row[0] for row in conn.exec_driver_sql("SELECT x FROM t ORDER BY x")] == [1, 2]


def test_engines_are_cached_per_url_until_disposed(tmp_path):
    first = get_engine(f"sqlite:///{tmp_path / 'a.db'}")
    assert get_engine(f"sqlite:///{tmp_path / 'a.db'}") is first
    assert get_engine(f"sqlite:///{tmp_path / 'b.db'}") is not first
    dispose_engines()
    assert get_engine(f"sqlite:///{tmp_path / 'a.db'}") is not first


def test_default_url_is_the_sqlite_file_under_liftline_home(tmp_path, monkeypatch):
    monkeypatch.delenv("LIFTLINE_WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("LIFTLINE_HOME", str(tmp_path / "home"))
    engine = get_engine()
    assert engine.url.get_backend_name() == "sqlite"
    assert engine.url.database == str(tmp_path / "home" / "warehouse.db")
    assert (tmp_path / "home").is_dir()


@pytest.mark.parametrize(
    "url",
    [
        "postgres://user:secret@db.example:5432/liftline",
        "postgresql://user@db.example/liftline",
        "postgresql+psycopg://user@db.example/liftline",
    ],
)
def test_postgres_urls_use_psycopg3(url):
    engine = get_engine(url)  # creating an engine does not connect
    assert engine.url.drivername == "postgresql+psycopg"
    assert engine.url.host == "db.example"


@pytest.mark.parametrize(
    "url, says",
    [
        ("   ", "empty"),
        ("not a url", "cannot parse"),
        ("nosuchdb://user:secret@host/db", "no SQLAlchemy dialect"),
    ],
)
def test_bad_urls_raise_one_line_value_errors(url, says):
    with pytest.raises(ValueError) as caught:
        get_engine(url)
    message = str(caught.value)
    assert says in message
    assert "LIFTLINE_WAREHOUSE_URL" in message
    assert "\n" not in message
    assert "secret" not in message


def test_a_forked_child_does_not_reuse_the_parents_connections(tmp_path):
    engine = get_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    assert engine.pool.checkedin() == 1
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report how many pooled connections it inherited, then leave
        os.write(write_end, str(get_engine(engine.url).pool.checkedin()).encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    assert os.read(read_end, 16) == b"0"
    os.close(read_end)
    assert engine.pool.checkedin() == 1  # the parent's connection is still there
