"""`liftline run` without Airflow: setup errors, argument checks and the lines it prints.

Runs of the DAGs themselves are tested in tests/dags/test_ingest_run.py.
"""

from __future__ import annotations

import os
import subprocess
import sys

from liftline.cli.run import CHAIN, DagOutcome, _one_line, _task_label


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
