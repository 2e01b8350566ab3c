"""The HTML report: every section on an empty warehouse and on one with rows in every table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from report_world import AS_OF, FAKE_PASSWORD, FAKE_SLACK_TOKEN, FAKE_URL
from sqlalchemy import Engine

from liftline.cli.main import main
from liftline.report import build_report, known_secrets, redact, render_html, safe_url, write_report
from liftline.report import formatting as fmt

SECTIONS = ["headline", "forecast", "promotions", "media", "plan", "customers", "health"]
PLOTS = ["alerts_by_kind", "forecast_by_store", "forecast_accuracy", "promo_lift",
         "promo_recommendations", "mmm_roi", "mmm_curves", "mmm_budget", "customer_segments",
         "segment_migrations", "service_risk", "ingest_status", "model_age"]


def sections_of(report) -> dict:
    return {s.key: s for s in report.sections}


def notices(section, level: str) -> str:
    return " ".join(n.text for n in section.notices if n.level == level)


def test_an_empty_warehouse_says_what_each_section_misses(warehouse: Engine):
    report = build_report(warehouse)
    found = sections_of(report)
    assert list(found) == SECTIONS
    assert report.as_of is None and report.plots == []
    for key in SECTIONS:  # nothing failed: every gap is explained, none is an error
        assert not notices(found[key], "warning"), key
    expected = {"forecast": ["ml_sales_forecast is empty", "feat_sales_store_daily is empty"],
                "promotions": ["ml_promo_lift is empty", "ml_promo_recommendations is empty"],
                "media": ["ml_mmm_channel_results is empty", "data.min_weeks"],
                "plan": ["ml_plan_summary is empty"],
                "customers": ["ml_customer_profiles is empty", "ml_satisfaction_scores is empty"],
                "health": ["ops_ingest_log is empty", "ml_model_registry is empty"]}
    for key, phrases in expected.items():
        for phrase in phrases:
            assert phrase in notices(found[key], "missing"), (key, phrase)
    assert "No decision is waiting" in " ".join(found["headline"].sentences)
    html = render_html(report)
    assert 'content="0"' in html and "ml_customer_profiles is empty" in html


def test_a_warehouse_without_the_schema_still_renders(engine: Engine):
    found = sections_of(build_report(engine))
    assert "has no table ml_mmm_channel_results" in notices(found["media"], "missing")
    assert "has no table ml_satisfaction_scores" in notices(found["customers"], "missing")


def test_every_section_reads_its_rows(full_warehouse: Engine):
    report = build_report(full_warehouse)
    found = sections_of(report)
    assert report.as_of == AS_OF
    assert [p.key for p in report.plots] == PLOTS
    for key in SECTIONS:
        assert not notices(found[key], "missing"), (key, notices(found[key], "missing"))
    text = {key: " ".join(s.sentences) for key, s in found.items()}
    # headline: last week 1,400 units vs 1,120 the week before; decisions to take
    assert "1,400 units, +25.0% revenue and +25.0% units against the week before, and +100.0% " \
        "revenue against the same week last year" in text["headline"]
    decisions = [row[0] for row in found["headline"].tables[0].rows]
    assert decisions == ["Run 1 recommended offer (1 SKU × store promotion)",
                         "Review 1 promotion that diverged from the prediction",
                         "Hold the media budget moves",
                         "Contact 2 customer interactions at high service risk",
                         "Re-deliver 1 quarantined file"]
    # forecast: 2 stores x 28 days x 90 units, against 2 x 28 days of actuals (1,400 + 3 x 1,120)
    assert "forecast to sell 5,040 units, +5.9% against the last 4 weeks' 4,760" in \
        text["forecast"]
    assert "Against each store's last 4 weeks, largest expected rise: ST-1 (+5.9%)." in \
        text["forecast"] and "fall" not in text["forecast"]
    assert "beats the naive seasonal naive in 1 of 1 region" in text["forecast"]
    assert "WAPE 0.1 against the baseline's 0.2, 50.0% lower" in text["forecast"]
    # promotions: PR-2 diverged by -25 points; PR-3 is not measured yet
    assert "Of the 2 most recent measured promotions, 1 diverged" in text["promotions"]
    assert "PR-2 was predicted at +30.0% and measured +5.0% (-25.0 pts)" in text["promotions"]
    assert "earned 200 of net incremental margin" in text["promotions"]
    assert "2 promotions recommended (SKU × store) for the weeks of 08 Jul–08 Jul 2024, " \
        "grouped into 2 offers; the 1 expected to add margin would add +500 together" in \
        text["promotions"]
    assert "The best offer: SKU-1, 20% off for 14 days from 08 Jul in 1 store" in \
        text["promotions"]
    # media: the challenger banner, ROI with its interval, the reallocation
    banner = notices(found["media"], "warning")
    assert "Do not move budget" in banner and "challenger" in banner
    assert "no better than a model that ignores media spend" in banner
    assert "search returns the most per unit spent (ROI 3.00, 90% interval 2.00–4.00)" in \
        text["media"]
    assert "(ROI below 1): TV" in text["media"]
    assert "more to search (+30%); less to TV (-30%), for +600 of credited revenue" in \
        text["media"]
    assert "Next experiment: take search dark for 4 weeks in DE-R2 (control DE-R1). Its ROI " \
        "interval is expected to narrow 40% (checked by refitting the model), from 2.00–4.00 " \
        "to 2.60–3.80; it detects 12k of lost revenue with 80% power, has 47% power" in \
        text["media"]
    assert text["media"].count("Next experiment") == 1
    # plan
    assert "Plan plan-20240701-13w-abc for the 13 weeks from 01 Jul 2024: margin 29.5k against " \
        "28k as usual, +1.5k (90% interval +1.2k to +1.8k); revenue +5k." in text["plan"]
    assert "2 promotions against 1 as usual; media 10k against 10k." in text["plan"]
    channels, promos = found["plan"].tables
    assert channels.rows == [["search", "6.5k", "5k", "+30.0%"], ["tv", "3.5k", "5k", "-30.0%"]]
    assert [row[0] for row in promos.rows] == ["SKU-2", "SKU-1"]
    # customers
    assert "400 customers in 2 segments; Champions is 25% of customers" in text["customers"]
    assert "3 customers changed segment" in text["customers"]
    assert "3 open service interactions scored: 2 at high risk" in text["customers"]
    # health
    assert "3 files received in the 30 days to the latest delivery: 1 loaded whole, 1 partly " \
        "(53 rows set aside in all), 1 quarantined" in text["health"]
    assert "Open alerts: 1 drift" in text["health"]


def test_the_mix_banner_goes_when_the_fit_is_a_sound_champion(full_warehouse: Engine):
    with full_warehouse.begin() as conn:
        for name in ("ml_mmm_channel_results", "ml_budget_allocation"):
            conn.exec_driver_sql(f"UPDATE {name} SET model_status = 'champion'")
        conn.exec_driver_sql("DELETE FROM ml_model_registry WHERE model_name = 'mmm/ALL/all'")
    found = sections_of(build_report(full_warehouse))
    assert not notices(found["media"], "warning")
    decisions = [row[0] for row in found["headline"].tables[0].rows]
    assert "Reallocate media budget across 2 channels" in decisions


def test_no_secret_reaches_the_page(full_warehouse: Engine, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LIFTLINE_WAREHOUSE_URL", FAKE_URL)
    monkeypatch.setenv("SLACK_BOT_TOKEN", FAKE_SLACK_TOKEN)
    path = write_report(full_warehouse, out=tmp_path / "r.html")
    html = path.read_text(encoding="utf-8")
    assert "pos_broken.csv" in html  # the row that carried them is shown
    assert FAKE_PASSWORD not in html and FAKE_SLACK_TOKEN not in html
    assert "could not reach postgresql+psycopg://liftline:***@db:5432/wh with token ***" in html


def test_a_url_is_shown_without_its_password():
    assert safe_url(FAKE_URL) == "postgresql+psycopg://liftline:***@db:5432/wh"
    secrets = known_secrets("sqlite:///x.db", {"AIRFLOW_CONN_SLACK_API_DEFAULT":
                                               f"slack://:{FAKE_SLACK_TOKEN}@", "HOME": "/root"})
    assert secrets[FAKE_SLACK_TOKEN] == "***" and "/root" not in secrets
    assert redact(f"a {FAKE_SLACK_TOKEN} b", secrets) == "a *** b"


def test_the_page_is_self_contained(full_warehouse: Engine):
    html = render_html(build_report(full_warehouse))
    assert not re.search(r"<(script|link)[^>]+(src|href)=", html)  # nothing fetched
    assert html.count("Plotly.newPlot") == 1  # plotly.js once, figures as data
    assert f'content="{len(PLOTS)}"' in html
    assert len(html) < 6_000_000


def test_the_command_writes_the_dated_report_and_latest(full_warehouse: Engine, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture):
    monkeypatch.setenv("LIFTLINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LIFTLINE_WAREHOUSE_URL", str(full_warehouse.url))
    assert main(["report"]) == 0
    dated = tmp_path / "home" / "reports" / f"report-{AS_OF}.html"
    assert capsys.readouterr().out.strip() == f"report: {dated}"
    assert dated.read_bytes() == (dated.parent / "latest.html").read_bytes()
    assert main(["report", "--out", str(tmp_path / "mine.html"), "--as-of", "2024-06-20"]) == 0
    assert "Data as of 2024-06-20" in (tmp_path / "mine.html").read_text(encoding="utf-8")


def test_the_report_reads_no_clean_table():
    package = Path(__file__).parents[2] / "include" / "liftline" / "report"
    for module in package.glob("*.py"):
        source = module.read_text(encoding="utf-8")
        assert not re.search(r"[\"']clean_|clean_table", source), module.name


@pytest.mark.parametrize(("value", "text"), [(1_234_567, "1.23M"), (12_345, "12.3k"),
                                             (950, "950"), (-1500, "-1.5k"), (None, "n/a"),
                                             (float("nan"), "n/a"), (250_000, "250k")])
def test_money_reads_like_people_write_it(value, text):
    assert fmt.money(value) == text


def test_percentages_and_counts():
    assert fmt.pct(12.345, signed=True) == "+12.3%"
    assert fmt.share(0.234) == "23%"
    assert fmt.count(12345.4) == "12,345"
    assert fmt.points(-7.21) == "-7.2 pts"
    assert fmt.change(110, 100) == pytest.approx(10.0) and fmt.change(1, 0) is None


def test_a_skipped_model_says_why_it_was_skipped(warehouse: Engine):
    from liftline.registry import register_skipped

    register_skipped(warehouse, "mmm/ALL/all", "run-1", "ALL/all has 52 week(s) of revenue; "
                     "the mix model needs at least 65")
    found = sections_of(build_report(warehouse))
    assert "last training was skipped: mmm/ALL/all: ALL/all has 52 week(s) of revenue" in \
        notices(found["media"], "missing")


def test_the_forecast_chart_has_a_store_menu_and_the_earlier_forecast(full_warehouse: Engine):
    report = build_report(full_warehouse)
    figure = next(p.figure for p in report.plots if p.key == "forecast_by_store")
    menu = [b["label"] for b in figure["layout"]["updatemenus"][0]["buttons"]]
    assert menu == ["All stores", "ST-1", "ST-2"]
    names = {t["name"] for t in figure["data"]}
    assert {"actual units", "forecast made before the day", "forecast", "interval"} <= names
    shown = [t for t in figure["data"] if t["visible"]]  # all stores at first
    earlier = next(t for t in shown if t["name"] == "forecast made before the day")
    assert len(earlier["x"]) == 10 and earlier["y"][0] == 190  # both stores' 95 summed


def test_data_quality_shows_the_last_month_of_deliveries(full_warehouse: Engine):
    import datetime as dt

    from report_world import NOW
    from sqlalchemy import insert

    from liftline.warehouse import table

    with full_warehouse.begin() as conn:
        conn.execute(insert(table("ops_ingest_log")).values(
            file_sha256="d" * 64, source="pos", file_name="pos_long_ago.csv", status="loaded",
            rows_in=1, rows_loaded=1, rows_rejected=0, received_at=NOW - dt.timedelta(days=45)))
    health = sections_of(build_report(full_warehouse))["health"]
    assert " ".join(health.sentences).startswith("3 files received in the 30 days")
