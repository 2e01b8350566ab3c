"""`liftline run` without Airflow: setup errors, argument checks and the lines it prints.

Runs of the DAGs themselves are tested in tests/dags/test_ingest_run.py.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from liftline.cli.run import CHAIN, AirflowPaths, DagOutcome, _one_line, _task_label
from liftline.warehouse import file_lock


def run_cli(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("LIFTLINE_", "AIRFLOW__", "AIRFLOW_HOME"))}
    return subprocess.run([sys.executable, "-m", "liftline.cli.main", "run", *args],
                          capture_output=True, text=True, timeout=120,
                          env={**clean, "LIFTLINE_HOME": str(tmp_path), **env})


def test_a_bad_warehouse_url_stops_before_airflow_starts(tmp_path):
    proc = run_cli(tmp_path, LIFTLINE_WAREHOUSE_URL="nosuchdb://somewhere")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("liftline run: unsupported warehouse URL")
    assert not (tmp_path / "airflow").exists()


def test_an_unreachable_warehouse_stops_before_airflow_starts(tmp_path):
    proc = run_cli(tmp_path, LIFTLINE_WAREHOUSE_URL="postgresql://u:s3cret@127.0.0.1:1/wh")
    assert proc.returncode == 2
    assert proc.stderr == (
        "liftline run: cannot connect to the warehouse postgresql+psycopg://u:***@127.0.0.1:1/wh "
        "(Connection refused): start the database, or set LIFTLINE_WAREHOUSE_URL to one this "
        "machine can reach\n")
    assert proc.stdout == "" and not (tmp_path / "airflow").exists()


def test_a_sqlite_warehouse_that_cannot_be_opened_is_a_setup_error(tmp_path):
    proc = run_cli(tmp_path, LIFTLINE_WAREHOUSE_URL=f"sqlite:///{tmp_path}")  # a directory
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"liftline run: cannot open the warehouse sqlite:///{tmp_path} "
                                  "(unable to open database file)")
    assert not (tmp_path / "airflow").exists()


def test_nothing_to_run_on_is_one_line_and_status_2(tmp_path):
    (tmp_path / "landing" / "pos").mkdir(parents=True)  # the folders alone are no delivery
    proc = run_cli(tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == (
        f"liftline run: nothing to run on: landing/ ({tmp_path / 'landing'}) holds no extracts "
        "and the warehouse holds no data; drop extracts into landing/<source>/ or run "
        "`liftline demo`\n")
    assert proc.stdout == "" and not (tmp_path / "airflow").exists()


def test_settle_seconds_must_be_a_non_negative_number(tmp_path):
    proc = run_cli(tmp_path, "--settle-seconds", "-5")
    assert proc.returncode == 2 and "is not a number of seconds >= 0" in proc.stderr
    proc = run_cli(tmp_path, "--as-of", "yesterday")
    assert proc.returncode == 2 and "use YYYY-MM-DD" in proc.stderr


def test_the_chain_starts_with_ingest():
    assert CHAIN[0] == "ingest_extracts" and len(set(CHAIN)) == len(CHAIN)


def test_lines_and_labels():
    assert DagOutcome("ingest_extracts", "success", 12.34).line().split() == [
        "ingest_extracts", "success", "12.3s"]
    assert DagOutcome("build_features", "skipped").line().split()[:3] == [
        "build_features", "skipped", "-"]
    assert _task_label("ingest_fact", 3, "pos") == "ingest_fact[pos]"
    assert _task_label("ingest_fact", 3, None) == "ingest_fact[3]"
    assert _task_label("prepare", -1, None) == "prepare"
    assert _one_line(ValueError("bad\nsecond line")) == "ValueError: bad"
    assert len(_one_line("x" * 1000)) == 240


@pytest.mark.slow
def test_two_runs_on_a_fresh_home_set_airflow_up_once_and_say_for_whom_they_wait(tmp_path):
    """Held by the test until both runs wait for it; then they race for the metadata DB."""
    home, dags = tmp_path / "home", tmp_path / "dags"  # no DAGs: each run stops after setup
    (home / "landing" / "pos").mkdir(parents=True)
    (home / "landing" / "pos" / "pos.csv").write_text("date,store_id,sku,units,revenue\n")
    dags.mkdir()
    lock = AirflowPaths(home / "airflow").setup_lock
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("LIFTLINE_", "AIRFLOW__", "AIRFLOW_HOME"))}
    env = {**clean, "LIFTLINE_HOME": str(home), "LIFTLINE_DAGS_FOLDER": str(dags)}
    with file_lock(lock, "the setup", "the test"):
        runs = [subprocess.Popen([sys.executable, "-m", "liftline.cli.main", "run"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
        first_lines = [run.stdout.readline() for run in runs]  # each blocks until it waits
    outputs = [(run.returncode, out, err) for run in runs for out, err in [run.communicate(120)]]
    for line in first_lines:
        assert line == "waiting for Airflow's metadata DB setup: the test holds it\n"
    for status, _, err in outputs:
        assert status == 2 and "Traceback" not in err, err
        assert err.startswith("liftline run: none of the pipeline's DAGs"), err
    # One run created the DB while the other waited for it, and each kept a log of its own.
    created = [out for _, out, _ in outputs if "airflow metadata DB created" in out]
    assert len(created) == 1
    assert len(list((home / "airflow" / "logs").glob("run-*.log"))) == 2
