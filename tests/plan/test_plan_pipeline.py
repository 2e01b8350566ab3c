"""plan_quarter on stand-ins of the fitted responses and business as usual: the rows it writes,
its summary and alert, and rerunning it."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from plan_helpers import FittedStandIn, ToyResponses, request
from sqlalchemy import select

from liftline.alerts import alert_summary
from liftline.plan.optimize import evaluate_plan
from liftline.plan.pipeline import plan_id_for, plan_next_quarter, plan_quarter, stored_plan
from liftline.warehouse import read_frame, table


def _rows(engine, name: str) -> pd.DataFrame:
    frame = read_frame(engine, select(table(name)))
    return frame.drop(columns="created_at").sort_values(list(frame.columns[:2])) \
        .reset_index(drop=True)


def test_a_plan_is_written_with_lines_weeks_and_a_summary(warehouse, stand_ins):
    result = plan_quarter(warehouse, request(), "run-1", log=lambda _m: None)
    assert result.plan_id == plan_id_for(request(), "run-1")
    lines = _rows(warehouse, "ml_plan")
    media = lines[lines["kind"] == "media"]
    assert len(media) == 4 * 4  # two countries x two channels x four weeks
    assert media["planned_value"].sum() == pytest.approx(3800.0)
    promos = lines[lines["kind"] == "promotion"]
    assert ("d1", "A2", "planned") in set(zip(promos["sku"], promos["store_id"],
                                              promos["origin"], strict=True))
    lo, hi = (promos["expected_incremental_revenue_lower"],
              promos["expected_incremental_revenue_upper"])
    assert (lo <= promos["expected_incremental_revenue"]).all()
    assert (promos["expected_incremental_revenue"] <= hi).all()
    weekly = _rows(warehouse, "ml_plan_weekly")
    assert len(weekly) == 3 * 4 and weekly["bau_revenue"].notna().all()
    assert (weekly["revenue_lower"] < weekly["revenue"]).all()
    summary = _rows(warehouse, "ml_plan_summary").iloc[0]
    assert summary["incremental_margin"] == pytest.approx(summary["margin"]
                                                          - summary["bau_margin"])
    assert summary["incremental_margin"] > 0
    assert (summary["incremental_margin_lower"] <= summary["incremental_margin"]
            <= summary["incremental_margin_upper"])
    # The media lines' margins and the promotions' add up to about the plan's gain over no
    # media and no promotions; here: the lines' revenue is positive where spend is.
    assert (media.loc[media["planned_value"] > 0, "expected_incremental_revenue"] > 0).all()


def test_rerunning_a_plan_replaces_its_rows_and_alerts_once(warehouse, stand_ins):
    plan_quarter(warehouse, request(), "run-1", log=lambda _m: None)
    first = {name: _rows(warehouse, name) for name in ("ml_plan", "ml_plan_weekly",
                                                        "ml_plan_summary")}
    plan_quarter(warehouse, request(), "run-1", log=lambda _m: None)
    for name, rows in first.items():
        pd.testing.assert_frame_equal(_rows(warehouse, name), rows)
    alerts = read_frame(warehouse, select(table("ops_alerts")))
    assert list(alerts["kind"]) == ["plan_summary"]
    details = json.loads(alerts["details_json"].iloc[0])
    assert {item["channel"] for item in details["items"]} == {"tv", "search"}
    text = alert_summary(alerts.iloc[0].to_dict())
    assert re.search(r"Incremental margin: [\d,]+, Incremental margin lower: [\d,]+", text)
    assert re.search(r"search \(Spend [\d,]+ · Spend as usual 600 · Spend [+-][\d.]+%\)", text)
    assert "#plan" in text  # the report's Quarter plan section
    # Another budget in the same run is another plan beside it.
    plan_quarter(warehouse, request(media_budget=4000.0), "run-1", log=lambda _m: None)
    assert _rows(warehouse, "ml_plan_summary")["plan_id"].nunique() == 2


def test_a_missing_model_is_named_and_the_plan_made_all_the_same(warehouse, stand_ins,
                                                                 monkeypatch):
    monkeypatch.setattr(FittedStandIn, "missing", ["mmm"])
    said: list[str] = []
    plan_quarter(warehouse, request(), "run-2", log=said.append)
    assert any("no mmm" in line for line in said)
    summary = _rows(warehouse, "ml_plan_summary").iloc[0]
    assert json.loads(summary["missing_models"]) == ["mmm"]


def test_a_stored_plan_reads_back_to_the_same_outcome(warehouse, stand_ins):
    result = plan_quarter(warehouse, request(), "run-1", log=lambda _m: None)
    req, plan = stored_plan(warehouse, result.plan_id)
    assert req == request()
    again = evaluate_plan(ToyResponses(), req, plan)
    assert again.margin == pytest.approx(result.outcome.margin)
    assert stored_plan(warehouse, "plan-none") is None


def test_the_dags_plan_starts_the_monday_after_as_of(warehouse, stand_ins):
    said: list[str] = []
    summary = plan_next_quarter(warehouse, "dag-run", as_of="2025-01-05", weeks=4, log=said.append)
    assert summary["status"] == "ok" and str(summary["start_date"]) == "2025-01-06"
    assert summary["plan_id"] == plan_id_for(request(), "dag-run")
    assert any(line.startswith(f"plan {summary['plan_id']}: margin") for line in said)
    skipped = plan_next_quarter(warehouse, "dag-run", log=said.append)
    assert skipped == {"status": "skipped", "reason": "no sales features"}
