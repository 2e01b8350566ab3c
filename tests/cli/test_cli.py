"""The `liftline` command: exit codes and one-line errors for user mistakes."""

from __future__ import annotations

import subprocess
import sys

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


def test_demo_generates_the_world_and_prepares_the_warehouse(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LIFTLINE_HOME", str(tmp_path))
    monkeypatch.delenv("LIFTLINE_WAREHOUSE_URL", raising=False)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "schema version" in out
    assert (tmp_path / "demo_world" / "pos").is_dir() and (tmp_path / "warehouse.db").exists()
    assert main(["demo"]) == 0  # a second demo replaces the first world
