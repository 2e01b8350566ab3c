"""Every alert links to the report section it refers to, from LIFTLINE_BASE_URL, or names the
report file when the base URL is not set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_slack import TOKEN, FakeSlack
from sqlalchemy import Engine

from liftline.alerts import (
    KINDS,
    REPORT_SECTIONS,
    ReportLinks,
    SlackTarget,
    alert_summary,
    deliver_pending,
    format_blocks,
)
from liftline.alerts.links import SECTION_TITLES
from liftline.report import SECTION_KEYS, build_report, render_html

BASE = "https://airflow.example.com/proxy"
LOG_LINK = "https://airflow.example.com/proxy/dags/monitor_models/runs/r1/tasks/t/logs"


def _alert(kind: str, **details) -> dict:
    return {"alert_id": "a" * 32, "kind": kind, "entity_key": "E-1", "severity": "warning",
            "title": f"{kind} on E-1", "details_json": json.dumps(details), "run_id": "r1"}


def _context(blocks: list[dict]) -> str:
    return json.dumps([b for b in blocks if b["type"] == "context"])


def test_every_kind_but_pipeline_failure_has_a_section_of_the_report(warehouse: Engine) -> None:
    assert set(REPORT_SECTIONS) == set(KINDS) - {"pipeline_failure"}
    assert set(REPORT_SECTIONS.values()) <= set(SECTION_KEYS)
    report = build_report(warehouse)
    # The anchors and titles the links use are the page's own.
    assert [s.key for s in report.sections] == list(SECTION_KEYS)
    assert {s.key: s.title for s in report.sections} == dict(SECTION_TITLES)
    html = render_html(report)
    assert all(f'<section id="{key}"' in html for key in SECTION_KEYS)


@pytest.mark.parametrize(("kind", "anchor", "title"), [
    ("lift_divergence", "promotions", "Promotions"),
    ("forecast_drop", "forecast", "Sales forecast"),
    ("drift", "health", "Data quality and model health"),
    ("stale_source", "health", "Data quality and model health"),
    ("service_risk", "customers", "Customers"),
    ("weekly_summary", "headline", "This week"),
])
def test_links_use_the_base_url_and_the_kinds_anchor(kind: str, anchor: str, title: str) -> None:
    links = ReportLinks(BASE + "/", Path("/srv/liftline/reports"))
    text, blocks = format_blocks(_alert(kind), links)

    url = f"{BASE}/liftline/latest#{anchor}"
    assert f"<{url}|Open the report: {title}>" in _context(blocks)
    assert f"report: {url}" in text


def test_without_a_base_url_the_message_names_the_report_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("LIFTLINE_BASE_URL", raising=False)
    monkeypatch.setenv("LIFTLINE_HOME", str(tmp_path))
    text, blocks = format_blocks(_alert("lift_divergence"))

    path = f"{tmp_path.resolve()}/reports/latest.html#promotions"
    assert f"Report: Promotions in `{path}`" in _context(blocks)
    assert f"report: {path}" in text
    assert "http" not in text + _context(blocks)  # no link that would open nothing


def test_pipeline_failure_keeps_its_log_link_and_gets_no_report_link() -> None:
    links = ReportLinks(BASE, Path("/srv/liftline/reports"))
    text, blocks = format_blocks(_alert("pipeline_failure", link=LOG_LINK), links)
    assert f"<{LOG_LINK}|Open the Airflow run>" in _context(blocks)
    assert "liftline/latest" not in text + _context(blocks)


def test_the_base_url_setting_is_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFTLINE_BASE_URL", f" {BASE}/ ")
    assert ReportLinks.from_settings().base_url == BASE
    assert "liftline/latest#customers" in alert_summary(_alert("service_risk"))

    monkeypatch.setenv("LIFTLINE_BASE_URL", "airflow.example.com")
    with pytest.raises(ValueError, match="LIFTLINE_BASE_URL='airflow.example.com' is not an"):
        ReportLinks.from_settings()


def test_a_malformed_base_url_costs_the_links_not_the_delivery(
    warehouse: Engine, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from liftline.alerts import record_alert

    monkeypatch.setenv("LIFTLINE_BASE_URL", "airflow.example.com")
    record_alert(warehouse, kind="drift", entity_key="sales_forecast/R1", severity="warning",
                 title="Inputs drifted", details={"psi": 0.4}, state="drifting")
    lines: list[str] = []
    target = SlackTarget(token=TOKEN, channel="#marketing-alerts", base_url=fake_slack.base_url)

    report = deliver_pending(warehouse, target, log=lines.append, sleep=lambda _: None)

    assert report.delivered == 1
    assert any("is not an http(s) URL" in line for line in lines)
    assert "latest.html#health" in fake_slack.posted()[0].body["text"]
