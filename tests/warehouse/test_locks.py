"""Inter-process locks: the second comer waits, names the holder, and goes on once it is free."""

from __future__ import annotations

import threading
import time

import pytest

from liftline.warehouse import file_lock, warehouse_lock

HOLD_SECONDS = 0.3


def second_comer(lock, after: threading.Event, lines: list[str], got: list[float]) -> None:
    after.wait(10)
    with lock(lines.append) as waited:
        got.append(time.monotonic())
        assert waited >= HOLD_SECONDS * 0.5


def contend(lock) -> tuple[list[str], float, float]:
    """Hold `lock` while another thread asks for it; (its lines, our release, its start)."""
    lines: list[str] = []
    got: list[float] = []
    held = threading.Event()
    other = threading.Thread(target=second_comer, args=(lock, held, lines, got))
    other.start()
    with lock(None):
        held.set()
        time.sleep(HOLD_SECONDS)
        released = time.monotonic()
    other.join(10)
    assert got, "the second comer never got the lock"
    return lines, released, got[0]


def test_a_file_lock_makes_the_second_comer_wait_and_say_for_whom(tmp_path):
    path = tmp_path / "setup.lock"
    lines, released, started = contend(
        lambda log: file_lock(path, "the setup", "run A (pid 1 on here)", log))
    assert started >= released
    assert lines[0] == "waiting for the setup: run A (pid 1 on here) holds it"
    assert lines[1].startswith("got the setup after waiting ")
    assert path.read_text() == ""  # no stale holder once released


@pytest.mark.parametrize("name", ["liftline.ingest.pos"])
def test_a_warehouse_lock_makes_the_second_comer_wait_and_say_for_whom(engine, name):
    lines, released, started = contend(
        lambda log: warehouse_lock(engine, name, "the ingest of pos", "run A (pid 1)", log))
    assert started >= released
    assert lines[0] == "waiting for the ingest of pos: run A (pid 1) holds it"


def test_warehouse_locks_of_other_names_do_not_wait(engine):
    lines: list[str] = []
    with warehouse_lock(engine, "one", "one", "A", lines.append), \
            warehouse_lock(engine, "two", "two", "B", lines.append):
        pass
    assert lines == []
