"""`liftline plan`: the summary, what-ifs on the stored plan, one-line errors with status 2."""

from __future__ import annotations

import pytest
from plan_helpers import ToyResponses, bau_plan, request
from sqlalchemy import select

from liftline.cli.main import main
from liftline.plan.optimize import evaluate_plan
from liftline.plan.pipeline import plan_id_for, stored_plan
from liftline.plan.types import Plan
from liftline.warehouse import read_frame, table

PLAN = ["plan", "--start", "2025-01-06", "--weeks", "4"]


@pytest.fixture
def cli(warehouse, stand_ins, monkeypatch):
    monkeypatch.setenv("LIFTLINE_WAREHOUSE_URL",
                       warehouse.url.render_as_string(hide_password=False))
    return warehouse


def test_plan_prints_plan_against_business_as_usual(cli, capsys):
    assert main(PLAN) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"plan {plan_id_for(request(), 'liftline-plan')}: 2025-01-06 .. "
                          "2025-02-02 (4 weeks)")
    for label in ("revenue", "margin", "media spend", "promotions", "incremental margin",
                  "media by channel: search"):
        assert label in out
    assert len(read_frame(cli, select(table("ml_plan_summary")))) == 1


def test_a_what_if_reevaluates_the_stored_plan_without_replanning(cli, capsys):
    assert main(PLAN) == 0
    capsys.readouterr()
    assert main([*PLAN, "--what-if", "tv@AA=+20%", "--remove-promo", "d1@A2:1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("what-ifs on the stored plan")
    # The same numbers by hand: the stored plan with the change, under the same responses.
    req, plan = stored_plan(cli, plan_id_for(request(), "liftline-plan"))
    media = plan.media.copy()
    hit = (media["country"] == "AA") & (media["channel"] == "tv")
    media.loc[hit, "spend"] *= 1.2
    promos = plan.promotions[~((plan.promotions["sku"] == "d1")
                               & (plan.promotions["store_id"] == "A2"))]
    before = evaluate_plan(ToyResponses(), req, plan).margin
    after = evaluate_plan(ToyResponses(), req, Plan(media, promos)).margin
    assert f"margin {after - before:+,.0f} ({after:,.0f})" in out
    assert "tv spend" in out


def test_an_added_promotion_that_overlaps_a_sibling_is_evaluated_and_flagged(cli, capsys):
    assert main([*PLAN, "--add-promo", "s1@A1:2:20"]) == 0
    out = capsys.readouterr().out
    assert "overlaps s2 from 2025-01-13" in out


@pytest.mark.parametrize("extra, message", [
    (["--what-if", "radio=+10%"], "the plan has no radio spend (channels: search, tv)"),
    (["--what-if", "tv=lots"], "is not CHANNEL=+N%"),
    (["--add-promo", "s1@A1:9:20"], "week 9 is not in the plan's 1..4"),
    (["--remove-promo", "s2@B1:1"], "the plan has no promotion of s2 in B1"),
])
def test_what_if_mistakes_are_one_line_with_status_2(cli, capsys, extra, message):
    assert main([*PLAN, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("liftline plan: ")


def test_a_start_that_is_not_a_monday_or_no_sales_is_one_line(cli, capsys):
    assert main(["plan", "--start", "2025-01-07"]) == 2
    assert "is a Tuesday" in capsys.readouterr().err
    assert main(["plan"]) == 2
    assert "holds no sales yet" in capsys.readouterr().err


def test_bau_of_the_helpers_is_the_stand_ins(cli):
    assert len(bau_plan().promotions) == 2  # what the CLI's business as usual counts
