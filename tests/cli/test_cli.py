"""The `liftline` command: exit codes and one-line errors for user mistakes."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys

import pytest

from liftline.cli.main import build_parser, command_name, main

UNREACHABLE = "postgresql://u:s3cret@127.0.0.1:1/wh"


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LIFTLINE_")}
    return subprocess.run([sys.executable, "-m", "liftline.cli.main", *args],
                          capture_output=True, text=True, timeout=120, env={**clean, **env})


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


def test_demo_checks_the_warehouse_before_generating_anything(tmp_path):
    proc = run_cli("demo", "--history-days", "14", LIFTLINE_HOME=str(tmp_path),
                   LIFTLINE_WAREHOUSE_URL=UNREACHABLE)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("liftline demo: cannot connect to the warehouse "
                                  "postgresql+psycopg://u:***@127.0.0.1:1/wh (Connection refused)")
    assert list(tmp_path.iterdir()) == []  # no world, no landing/, no Airflow home


def test_promo_whatif_on_an_unreachable_warehouse_is_one_line(tmp_path):
    proc = run_cli("promo", "whatif", "--sku", "SKU-1004", "--store", "ST-0001", "--discount",
                   "20", "--days", "14", LIFTLINE_HOME=str(tmp_path),
                   LIFTLINE_WAREHOUSE_URL=UNREACHABLE)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("liftline promo whatif: cannot connect to the warehouse ")
    assert "s3cret" not in proc.stderr


def test_every_command_that_needs_the_warehouse_declares_it():
    # main() checks the connection for exactly these before they start.
    parser = build_parser()
    needs = {}
    for argv in (["run"], ["demo"], ["generate", "--out", "x"],
                 ["promo", "whatif", "--sku", "s", "--store", "s", "--discount", "1",
                  "--days", "1"], ["plan"]):
        args = parser.parse_args(argv)
        needs[command_name(args)] = getattr(args, "needs_warehouse", False)
    assert needs == {"run": True, "demo": True, "generate": False, "promo whatif": True,
                     "plan": True}


def test_demo_days_past_the_end_of_the_world_are_one_line_before_any_run(tmp_path):
    proc = run_cli("demo", "--history-days", "1100", "--days", "3", LIFTLINE_HOME=str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr == ("liftline demo: the small world ends on 2026-01-06: after this history "
                           "there is room for --days 1 at most (or use fewer --history-days)\n")
    assert not (tmp_path / "landing").exists() and not (tmp_path / "airflow").exists()
    proc = run_cli("demo", "--days", "-1", LIFTLINE_HOME=str(tmp_path))
    assert proc.returncode == 2 and "is not a whole number >= 0" in proc.stderr


@pytest.mark.slow
def test_demo_delivers_the_world_to_landing_runs_the_pipeline_then_live_days(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LIFTLINE_", "AIRFLOW_CONN_", "AIRFLOW__", "AIRFLOW_HOME"))}
    env["LIFTLINE_HOME"] = str(tmp_path)
    # A fresh process: Airflow configures itself once per process, at import.
    proc = subprocess.run([sys.executable, "-m", "liftline.cli.main", "demo", "--history-days",
                           "14", "--days", "2"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "faults injected" in proc.stdout and "delivered " in proc.stdout
    assert re.search(r"^ingest_extracts\s+success", proc.stdout, re.M)
    # The faults are named in the summary, not only in the log.
    assert re.search(r"^summary of this run: \d+ file\(s\) quarantined", proc.stdout, re.M)
    assert "not sent: no Slack connection" in proc.stdout
    # Then one line per live day, the two days after the history, each delivered and run.
    days = re.findall(r"^(2023-01-1[67]) \w{3} +(\d+) files \((\d+) new\) +([\d,]+) rows loaded",
                      proc.stdout, re.M)
    assert [d[0] for d in days] == ["2023-01-16", "2023-01-17"], proc.stdout
    assert all(int(new) > 0 and int(rows.replace(",", "")) > 0 for _, _, new, rows in days)
    assert list((tmp_path / "archive" / "pos").glob("pos_2023-01-17_2023-01-17*"))
    # Two weeks train too little for the mix and satisfaction models: they stay due and are
    # retried each day; the families trained with the history are not due again yet.
    assert len(re.findall(r"trained: mmm, satisfaction +[\d.]+ s$", proc.stdout, re.M)) == 2
    with sqlite3.connect(tmp_path / "warehouse.db") as db:
        forecasts = db.execute("SELECT count(*) FROM ml_model_registry "
                               "WHERE model_name LIKE 'sales_forecast/%'").fetchone()[0]
    assert forecasts == 8  # one version per region and measure, from the history run
    # The evaluation comes last, against the truth of everything delivered.
    assert proc.stdout.index("2023-01-17 Tue") < proc.stdout.index("the models against the demo")
    # Then the next quarter's plan, made or not with the reason, before the report.
    assert re.search(r"^plan: (the 13 weeks from 2023-01-23|not made \()", proc.stdout, re.M)
    world = json.loads((tmp_path / "demo_world" / "_truth" / "world.json").read_text())
    assert world["window"] == {"first": "2023-01-02", "last": "2023-01-17"}
    assert json.loads((tmp_path / "demo_world" / "_truth" / "faults.json").read_text())
    assert not (tmp_path / "landing" / "_truth").exists()  # truth stays out of landing
    assert list((tmp_path / "quarantine").rglob("*.reason.json"))  # the faults were caught


def test_airflow_on_a_busy_port_is_one_line_before_anything_starts(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run_cli("airflow", "--port", str(port), LIFTLINE_HOME=str(tmp_path))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"liftline airflow: port {port} is in use: stop what uses it or pass " \
                          "--port\n"
    assert list(tmp_path.iterdir()) == []  # no Airflow home made
    proc = run_cli("airflow", "--port", "8793", LIFTLINE_HOME=str(tmp_path))
    assert proc.returncode == 2 and "log server port" in proc.stderr
