"""The `liftline` command: exit codes and one-line errors for user mistakes."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from liftline.cli.main import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "liftline.cli.main", *args],
                          capture_output=True, text=True)


def test_generate_prints_a_summary(tmp_path, capsys):
    assert main(["generate", "--out", str(tmp_path / "w"), "--days", "14", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "scale=small seed=42" in out and "pos" in out
    assert (tmp_path / "w" / "_truth" / "world.json").exists()


def test_user_mistakes_are_one_line_with_status_2(tmp_path):
    proc = run_cli("generate", "--out", str(tmp_path / "w"), "--start", "2019-01-01")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "must fall within" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("generate", "--out", str(tmp_path / "w"), "--start", "tomorrow")
    assert proc.returncode == 2 and "use YYYY-MM-DD" in proc.stderr


@pytest.mark.slow
def test_demo_delivers_the_world_to_landing_and_runs_the_pipeline(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LIFTLINE_", "AIRFLOW_CONN_", "AIRFLOW__", "AIRFLOW_HOME"))}
    env["LIFTLINE_HOME"] = str(tmp_path)
    # A fresh process: Airflow configures itself once per process, at import.
    proc = subprocess.run([sys.executable, "-m", "liftline.cli.main", "demo", "--days", "14"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "faults injected" in proc.stdout and "delivered " in proc.stdout
    assert re.search(r"^ingest_extracts\s+success", proc.stdout, re.M)
    assert (tmp_path / "demo_world" / "_truth" / "world.json").exists()  # truth stays out of landing
    assert not (tmp_path / "landing" / "_truth").exists()
    assert list((tmp_path / "archive" / "pos").iterdir())
    assert list((tmp_path / "quarantine").rglob("*.reason.json"))  # the faults were caught
