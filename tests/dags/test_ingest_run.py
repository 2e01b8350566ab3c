"""The ingest DAG run end to end through `liftline run` (Airflow's dag.test()) on a small world.

One LIFTLINE_HOME for the module, so Airflow's metadata DB is created once: a first run ingests
two weeks with bad deliveries (alerts go to a local fake Slack through the Airflow connection),
a second run gets the same bytes again and must change nothing.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from liftline.cli.main import deliver_world
from liftline.cli.run import CHAIN

pytestmark = pytest.mark.slow

TOKEN = "xoxb-test-0000"
CHANNEL = "#liftline-test"


def liftline(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess:
    """`liftline ARGS` in a fresh process (Airflow configures itself once per process)."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("LIFTLINE_", "AIRFLOW_CONN_", "AIRFLOW__", "AIRFLOW_HOME"))}
    return subprocess.run([sys.executable, "-m", "liftline.cli.main", *args], capture_output=True,
                          text=True, timeout=600, env={**clean, "LIFTLINE_HOME": str(home), **env})


class FakeSlack:
    """Records Slack Web API calls on 127.0.0.1 and answers ok (a chart's upload included)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = raw.decode(errors="replace")  # an uploaded chart is PNG bytes
                outer.requests.append((self.path, dict(self.headers), body))
                answer = {"ok": True, "channel": "C1", "ts": "1.0"}
                if self.path.startswith("/api/files.getUploadURLExternal"):
                    port = outer.server.server_address[1]
                    answer |= {"file_id": "F1", "upload_url": f"http://127.0.0.1:{port}/up/F1"}
                elif self.path.startswith("/api/files.completeUploadExternal"):
                    answer |= {"files": [{"id": "F1"}]}
                reply = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def connection(self) -> str:
        base = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        return json.dumps({"conn_type": "slack", "password": TOKEN, "extra": {"base_url": base}})


@dataclass
class Run:
    proc: subprocess.CompletedProcess
    events: list[tuple[str, str]]  # (asset name, uri) of every asset event so far
    counts: dict[str, int]  # rows per clean and feature table
    runs: list[str]  # states of the ingest DAG's runs so far


def observe(home: Path, proc: subprocess.CompletedProcess) -> Run:
    with sqlite3.connect(home / "airflow" / "airflow.db") as db:
        events = db.execute("SELECT a.name, a.uri FROM asset_event e "
                            "JOIN asset a ON a.id = e.asset_id ORDER BY e.id").fetchall()
        runs = [s for (s,) in db.execute(
            "SELECT state FROM dag_run WHERE dag_id = 'ingest_extracts' ORDER BY id")]
    with sqlite3.connect(home / "warehouse.db") as wh:
        tables = [t for (t,) in wh.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND (name LIKE 'clean_%' OR name LIKE 'feat_%')")]
        counts = {t: wh.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
    return Run(proc, events, counts, runs)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("liftline_home")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    from liftline.synth import generate

    out = tmp_path_factory.mktemp("world") / "w"
    generate(out, scale="small", days=14, faults=True, progress=False)
    return out


@pytest.fixture(scope="module")
def slack() -> FakeSlack:
    fake = FakeSlack()
    yield fake
    fake.server.shutdown()


@pytest.fixture(scope="module")
def first_run(home, world, slack) -> Run:
    deliver_world(world, home / "landing")
    proc = liftline("run", home=home, AIRFLOW_CONN_SLACK_API_DEFAULT=slack.connection,
                    LIFTLINE_SLACK_CHANNEL=CHANNEL)
    return observe(home, proc)


@pytest.fixture(scope="module")
def second_run(home, world, first_run) -> Run:
    deliver_world(world, home / "landing")  # the same bytes again
    return observe(home, liftline("run", "--verbose", home=home))


def test_run_prints_one_line_per_dag(first_run):
    proc = first_run.proc
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("airflow metadata DB created in ")
    assert re.fullmatch(r"ingest_extracts\s+success\s+\d+\.\ds", lines[1])
    assert re.fullmatch(r"build_features\s+success\s+\d+\.\ds", lines[2])
    # 14 days of history: training falls back (with a logged reason), it does not fail.
    assert re.fullmatch(r"train_models\s+success\s+\d+\.\ds", lines[3])
    assert re.fullmatch(r"score_models\s+success\s+\d+\.\ds", lines[4])
    assert re.fullmatch(r"monitor_models\s+success\s+\d+\.\ds", lines[5])
    assert lines[6] == "" and lines[7].startswith("summary of this run: ")
    assert not any("[info" in line or "[warning" in line for line in lines)  # in the run log
    assert first_run.runs == ["success"]


def test_the_summary_tells_what_the_run_did(home, first_run):
    """Quarantined files and alerts are named on the terminal, counted from the warehouse."""
    out = first_run.proc.stdout
    summary = out[out.index("summary of this run"):]
    with sqlite3.connect(home / "warehouse.db") as wh:
        files = dict(wh.execute("SELECT status, COUNT(*) FROM ops_ingest_log GROUP BY status"))
        kinds = dict(wh.execute("SELECT kind, COUNT(*) FROM ops_alerts GROUP BY kind"))
        quarantined = [f"{s}/{f}" for s, f in wh.execute(
            "SELECT source, file_name FROM ops_ingest_log WHERE status = 'quarantined'")]
        models = [m for (m,) in wh.execute("SELECT model_name FROM ml_model_registry")]
    assert files["quarantined"] > 0 and kinds["data_quality"] == files["quarantined"]
    assert summary.splitlines()[0].startswith(
        f"summary of this run: {files['quarantined']} file(s) quarantined")
    tally = ", ".join(f"{files[s]} {s}" for s in ("loaded", "partial", "quarantined") if s in files)
    assert f"{sum(files.values())} ingested: {tally}" in summary
    assert all(f"quarantined {name}: " in summary for name in quarantined)
    total = sum(kinds.values())
    assert f"alerts     {total} raised (" in summary and f"{total} delivered to Slack" in summary
    assert models and all(name in summary for name in models)
    assert f"warehouse  sqlite:///{home / 'warehouse.db'}" in summary
    log = re.search(r"^  log\s+(\S+)$", summary, re.M).group(1)
    assert Path(log).is_file() and Path(log).parent == home / "airflow" / "logs"


def test_clean_tables_fill_and_only_changed_tables_emit_asset_events(first_run):
    counts = first_run.counts
    assert counts["clean_pos"] > 0 and counts["clean_stores"] > 0 and counts["clean_spend"] > 0
    changed = {t for t, n in counts.items() if n > 0 and t.startswith("clean_")}
    names = [name for name, _ in first_run.events if name.startswith("clean_")]
    assert sorted(names) == sorted(changed)  # one event per changed table, none for the others
    assert counts["clean_lift_tests"] == 0 and "clean_lift_tests" not in names  # an empty file
    # Tables as liftline://warehouse/<table>; a new champion as the registry's one Asset.
    assert all(uri in (f"liftline://warehouse/{name}", "liftline://registry/champions")
               for name, uri in first_run.events)


def test_the_runner_builds_the_feature_tables_after_ingest(first_run, second_run):
    counts = first_run.counts
    for name in ("feat_sales_daily", "feat_sales_store_daily", "feat_mmm_weekly",
                 "feat_customer", "feat_service_interaction", "feat_crm_attribution"):
        assert counts[name] > 0, name
    assert counts["feat_sales_daily"] == counts["clean_pos"]
    features = [name for name, _ in first_run.events if name.startswith("feat_")]
    assert "feat_sales_daily" in features
    # Nothing new the second time: no feature table changed, so no feature events either.
    assert [n for n, _ in second_run.events if n.startswith("feat_")] == features


def test_quarantine_alerts_reach_slack_through_the_airflow_connection(home, first_run, slack):
    assert list((home / "quarantine").rglob("*.reason.json"))
    posts = [r for r in slack.requests if r[0] == "/api/chat.postMessage"]
    assert posts
    assert all(headers.get("Authorization") == f"Bearer {TOKEN}" for _, headers, _ in posts)
    assert all(CHANNEL in body for _, _, body in posts)
    with sqlite3.connect(home / "warehouse.db") as wh:
        statuses = {s for (s,) in wh.execute(
            "SELECT delivery_status FROM ops_alerts WHERE kind = 'data_quality'")}
    assert statuses == {"delivered"}


def test_the_same_bytes_again_change_nothing(first_run, second_run):
    assert second_run.proc.returncode == 0, second_run.proc.stderr
    assert second_run.counts == first_run.counts
    # No new clean or feature events (the runner scores every time, so ml_* events repeat).
    def upstream(run: Run) -> list[tuple[str, str]]:
        return [e for e in run.events if e[0].startswith(("clean_", "feat_"))]

    assert upstream(second_run) == upstream(first_run)
    assert second_run.runs == ["success", "success"]  # the first run stays in the history


def test_verbose_shows_the_tasks_output_but_not_airflow_records(second_run):
    out = second_run.proc.stdout
    assert "duplicate" in out  # the library's per-file line, printed inside a task
    assert "no Airflow connection 'slack_api_default'" in out
    assert "[info" not in out and "[warning" not in out


def test_each_dag_run_of_the_runner_is_audited_as_a_manual_run(home, first_run):
    with sqlite3.connect(home / "warehouse.db") as wh:
        events = wh.execute("SELECT action, entity_key, actor, before_json, after_json "
                            "FROM ops_audit_log ORDER BY at").fetchall()
    runs = [(entity, actor) for action, entity, actor, _, _ in events if action == "manual_run"]
    assert [entity for entity, _ in runs[:len(CHAIN)]] == list(CHAIN)  # the first run's DAGs
    assert all(actor.startswith("os:") for _, actor in runs)  # dag.test() is nobody's login
    # The runner takes files at once where the scheduled ingest waits: an override per run.
    overrides = [(e[1], json.loads(e[3]), json.loads(e[4])) for e in events
                 if e[0] == "param_override"]
    assert overrides and all(o == ("ingest_extracts", {"settle_seconds": 60},
                                   {"settle_seconds": 0}) for o in overrides)


def test_a_failing_task_alerts_once_through_slack_and_its_recovery_follows(
        home, world, first_run, second_run, slack, tmp_path):
    stores = sorted((world / "stores").iterdir())[0]
    lines = stores.read_text().splitlines()
    (home / "landing" / "stores").mkdir(parents=True, exist_ok=True)
    (home / "landing" / "stores" / "more.csv").write_text("\n".join(lines[:2]) + "\n")
    connection = {"AIRFLOW_CONN_SLACK_API_DEFAULT": slack.connection,
                  "LIFTLINE_SLACK_CHANNEL": CHANNEL}
    posted = len(slack.requests)

    # No validation suites: the stores ingest fails (and, in the runner, is not retried).
    broken = liftline("run", home=home, LIFTLINE_EXPECTATIONS_DIR=str(tmp_path), **connection)
    assert broken.returncode == 1 and "ingest_dimension[stores]" in broken.stderr
    alerts = _pipeline_alerts(home)
    assert [(a[0], a[1], a[2]) for a in alerts] == [
        ("ingest_extracts/ingest_dimension[stores]", "failed", "delivered")]
    details = json.loads(alerts[0][3])
    assert details["try_number"] == 1 and "no expectation suite" in details["error"]
    assert "/dags/ingest_extracts/runs/" in details["link"]
    texts = [body for path, _, body in slack.requests[posted:] if path.endswith("postMessage")]
    assert len(texts) == 1 and "ingest_dimension" in texts[0]

    # Fixed: the task succeeds, its recovery is recorded and delivered by deliver_alerts.
    fixed = liftline("run", home=home, **connection)
    assert fixed.returncode == 0, fixed.stderr
    assert [(a[0], a[1], a[2]) for a in _pipeline_alerts(home)] == [
        ("ingest_extracts/ingest_dimension[stores]", "failed", "delivered"),
        ("ingest_extracts/ingest_dimension[stores]", "recovered", "delivered")]


def _pipeline_alerts(home: Path) -> list[tuple]:
    with sqlite3.connect(home / "warehouse.db") as wh:
        return wh.execute("SELECT entity_key, state, delivery_status, details_json FROM ops_alerts "
                          "WHERE kind = 'pipeline_failure' ORDER BY created_at").fetchall()


def test_a_failed_task_is_one_line_naming_dag_and_task(home, first_run, tmp_path):
    # A delivery with no expectation suite to check it against: its ingest task fails.
    (home / "landing" / "pos").mkdir(parents=True, exist_ok=True)
    (home / "landing" / "pos" / "late.csv").write_text("date,store_id,sku,units,revenue\n")
    proc = liftline("run", home=home, LIFTLINE_EXPECTATIONS_DIR=str(tmp_path))
    (home / "landing" / "pos" / "late.csv").unlink(missing_ok=True)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    match = re.fullmatch(r"liftline run: ingest_extracts failed at task ingest_fact\[pos\]: "
                         r"SuiteError: no expectation suite .* \(see (.+\.log)\)\n",
                         proc.stderr)
    assert match, proc.stderr
    assert "Traceback" in Path(match.group(1)).read_text()  # the details are in the run log
    assert re.search(r"^ingest_extracts\s+failed", proc.stdout, re.M)
    assert not re.search(r"^build_features", proc.stdout, re.M)  # the chain stopped
    assert "summary of this run: ingest_extracts failed" in proc.stdout


def test_an_unreachable_warehouse_is_a_setup_error_before_airflow(home, first_run):
    # A directory is a valid SQLite URL that cannot be opened.
    proc = liftline("run", home=home, LIFTLINE_WAREHOUSE_URL=f"sqlite:///{home}")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"liftline run: cannot open the warehouse sqlite:///{home} ")


def test_an_empty_landing_over_earlier_data_is_a_rerun(home, second_run):
    assert not [p for p in (home / "landing").rglob("*") if p.is_file()]
    proc = liftline("run", home=home)
    assert proc.returncode == 0, proc.stderr
    assert "files      none ingested" in proc.stdout


def test_a_dags_folder_without_the_pipeline_is_a_setup_error(home, first_run, tmp_path):
    proc = liftline("run", home=home, LIFTLINE_DAGS_FOLDER=str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        f"liftline run: none of the pipeline's DAGs ({', '.join(CHAIN)}) is in ")


def test_quarantine_with_slack_unreachable_exits_0_and_says_so(world, tmp_path):
    """As a new user met it: bad files and a Slack that cannot be reached are named plainly."""
    home = tmp_path / "home"
    for source, fault in (("pos", "truncated"), ("spend", "renamed_columns")):
        [bad] = (world / source).glob(f"*_fault_{fault}.csv")
        (home / "landing" / source).mkdir(parents=True)
        (home / "landing" / source / bad.name).write_bytes(bad.read_bytes())
    unreachable = json.dumps({"conn_type": "slack", "password": TOKEN,
                              "extra": {"base_url": "http://127.0.0.1:1/api/"}})
    proc = liftline("run", home=home, AIRFLOW_CONN_SLACK_API_DEFAULT=unreachable)
    assert proc.returncode == 0, proc.stderr  # every DAG succeeded: see README, exit status
    with sqlite3.connect(home / "warehouse.db") as wh:
        quarantined = wh.execute(
            "SELECT COUNT(*) FROM ops_ingest_log WHERE status = 'quarantined'").fetchone()[0]
        undelivered = wh.execute(
            "SELECT COUNT(*) FROM ops_alerts WHERE delivery_status != 'delivered'").fetchone()[0]
    assert quarantined == 2 and undelivered == 2
    head = next(line for line in proc.stdout.splitlines() if line.startswith("summary"))
    assert f"{quarantined} file(s) quarantined" in head
    assert f"{undelivered} alert(s) not delivered" in head
    assert "failed to reach Slack (cannot reach Slack at http://127.0.0.1:1/api/" in proc.stdout


def test_the_slack_token_is_in_no_file_output_or_warehouse(home, first_run, second_run, slack):
    """Every run of this module so far (and a report) used the fake token: it must be in no
    file under LIFTLINE_HOME (run logs, Airflow's task logs and metadata DB, the warehouse,
    quarantine reasons, registry cards, reports) and in no command's output. The database
    password gets the same check on PostgreSQL in scripts/compare_backends.py."""
    report = liftline("report", home=home, AIRFLOW_CONN_SLACK_API_DEFAULT=slack.connection)
    assert report.returncode == 0, report.stderr
    # The token was live in the runs (Slack got it), so a leak had something to leak.
    assert any(headers.get("Authorization") == f"Bearer {TOKEN}" for _, headers, _ in
               slack.requests)
    # SQLite's -shm/-wal side files come and go with connections; the database file is read.
    files = [p for p in home.rglob("*") if p.is_file() and not p.name.endswith(("-shm", "-wal"))]
    assert any(p.suffix == ".log" for p in files) and any(p.suffix == ".html" for p in files)
    assert (home / "warehouse.db") in files and (home / "airflow" / "airflow.db") in files
    leaked = [str(p) for p in files if TOKEN.encode() in p.read_bytes()]
    outputs = [first_run.proc, second_run.proc, report]
    leaked += [f"output of {p.args[3:]}" for p in outputs if TOKEN in p.stdout + p.stderr]
    assert leaked == []
