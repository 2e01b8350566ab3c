"""The planner's evaluation formula and optimiser on a hand-built world (plan_helpers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from plan_helpers import (
    ToyResponses,
    bau_plan,
    candidates,
    default_increments,
    promotion,
    request,
    weeks,
)

from liftline.plan.optimize import WEEKLY_CAP_MULTIPLE, evaluate_plan, optimise_plan
from liftline.plan.types import PLANNED, Plan


def _promos(plan: Plan) -> set[tuple[str, str, int, float]]:
    index = {week: i for i, week in enumerate(weeks())}
    return {(p.sku, p.store_id, index[p.week_start], p.discount_pct)
            for p in plan.promotions.itertuples()}


def test_evaluation_combines_promotions_and_media_once():
    responses = ToyResponses()
    plan = Plan(media=bau_plan().media, promotions=pd.DataFrame([promotion("s2", "A1", 1)]))
    outcome = evaluate_plan(responses, request(), plan)
    uplift = responses.media_uplift(plan.media).set_index(["country", "week_start"])["uplift"]
    row = outcome.weekly.set_index(["store_id", "week_start"]).loc[("A1", weeks()[1])]
    lift = 1 + uplift[("AA", weeks()[1])]
    # base 1000 margin / 4000 revenue / 400 units; the promotion adds 500 / 1500 / 250.
    assert row["gross_margin"] == pytest.approx((1000 + 500) * lift)
    assert row["revenue"] == pytest.approx((4000 + 1500) * lift)
    assert row["units"] == pytest.approx((400 + 250) * lift)
    assert row["revenue_lower"] == pytest.approx((3600 + 1500) * lift)
    assert outcome.media_spend == 3800 and outcome.promo_cost == 100
    assert outcome.margin == pytest.approx(outcome.gross_margin - 3800 - 100)
    assert outcome.margin_lower < outcome.margin < outcome.margin_upper


@pytest.mark.parametrize("budget", [None, 4560.0, 3000.0])
def test_media_keeps_every_bound(budget):
    req = request(media_budget=budget)
    bau = bau_plan()
    plan = optimise_plan(ToyResponses(), req, bau, candidates(), mode="joint")
    bau_totals = bau.media.groupby(["country", "channel"])["spend"].sum()
    totals = plan.media.groupby(["country", "channel"])["spend"].sum()
    target = budget if budget is not None else bau_totals.sum()
    assert totals.sum() == pytest.approx(target, rel=1e-6)
    reference = bau_totals * target / bau_totals.sum()
    assert (totals >= 0.7 * reference - 1e-6).all() and (totals <= 1.3 * reference + 1e-6).all()
    assert (plan.media["spend"] >= 0).all()
    largest = bau.media.groupby(["country", "channel"])["spend"].max() * target / bau_totals.sum()
    weekly_max = plan.media.groupby(["country", "channel"])["spend"].max()
    assert (weekly_max <= WEEKLY_CAP_MULTIPLE * largest + 1e-6).all()
    # Flighting is used: spend moves between weeks, not only between channels.
    assert plan.media.groupby(["country", "channel"])["spend"].std().max() > 1.0


def test_promotions_keep_the_planned_and_never_overlap_siblings():
    plan = optimise_plan(ToyResponses(), request(), bau_plan(), candidates(), mode="joint")
    chosen = _promos(plan)
    assert ("d1", "A2", 0, 20.0) in chosen  # planned, though it loses margin
    assert plan.promotions.loc[plan.promotions["sku"].eq("d1") & plan.promotions["store_id"]
                               .eq("A2"), "origin"].tolist() == [PLANNED]
    # s2 is the best snack in A1 that week: neither s1 discount may run beside it.
    assert ("s2", "A1", 1, 20.0) in chosen
    assert not {("s1", "A1", 1, 20.0), ("s1", "A1", 1, 30.0)} & chosen
    assert ("d1", "A1", 1, 20.0) in chosen  # another category
    # Business as usual's repeat that loses margin is not kept.
    assert ("s1", "A2", 3, 20.0) not in chosen


def test_a_long_planned_promotion_blocks_its_category_in_later_weeks():
    bau = bau_plan()
    long_planned = promotion("s1", "A1", 0, origin=PLANNED, duration=14)
    bau.promotions = pd.concat([bau.promotions, pd.DataFrame([long_planned])])
    chosen = _promos(optimise_plan(ToyResponses(), request(), bau, candidates()))
    assert ("s1", "A1", 0, 20.0) in chosen
    assert not {key for key in chosen if key[1] == "A1" and key[0] in ("s1", "s2")
                and key[2] == 1}
    assert ("d1", "A1", 1, 20.0) in chosen


def test_the_margin_floor_leaves_out_promotions_below_it():
    chosen = _promos(optimise_plan(ToyResponses(), request(promo_margin_floor=250.0), bau_plan(),
                                   candidates()))
    assert ("s2", "A1", 1, 20.0) in chosen  # ~400 with media
    assert ("d1", "A1", 1, 20.0) not in chosen  # ~100
    assert ("d1", "A2", 0, 20.0) in chosen  # planned promotions are not judged


def test_joint_beats_each_lever_alone_when_they_interact():
    responses, req, bau = ToyResponses(), request(), bau_plan()
    margin = {mode: evaluate_plan(responses, req, optimise_plan(responses, req, bau,
                                                                candidates(), mode=mode)).margin
              for mode in ("joint", "separate", "media_only", "promotions_only")}
    bau_margin = evaluate_plan(responses, req, bau).margin
    assert margin["joint"] > margin["separate"] > bau_margin
    assert margin["joint"] >= max(margin["media_only"], margin["promotions_only"])
    assert min(margin.values()) > bau_margin
    # The promotion that only pays with media behind it: joint takes it, separate does not.
    assert ("s1", "B1", 2, 20.0) in _promos(optimise_plan(responses, req, bau, candidates()))
    assert ("s1", "B1", 2, 20.0) not in _promos(
        optimise_plan(responses, req, bau, candidates(), mode="separate"))


def test_media_follows_the_weeks_promotions_raise():
    # Only B1 week 2 is promoted (a big one): media in BB moves towards it.
    increments = {("s1", "B1", 2, 20.0): (3000.0, 10.0)}
    responses = ToyResponses(increments=increments)
    bau = bau_plan()
    bau.promotions = bau.promotions.iloc[:0]
    joint = optimise_plan(responses, request(), bau, candidates(increments), mode="joint")
    separate = optimise_plan(responses, request(), bau, candidates(increments), mode="separate")

    def week2_share(plan: Plan) -> float:
        bb = plan.media[plan.media["country"] == "BB"]
        return bb.loc[bb["week_start"] == weeks()[2], "spend"].sum() / bb["spend"].sum()

    assert week2_share(joint) > week2_share(separate) + 0.02
    assert (evaluate_plan(responses, request(), joint).margin
            > evaluate_plan(responses, request(), separate).margin)


@pytest.mark.parametrize("pattern", [{}, {("B1", 3): 5000.0}, {("A1", 0): 100.0}])
def test_joint_is_never_worse_than_business_as_usual(pattern):
    responses = ToyResponses(base_margin=pattern)
    bau = bau_plan()
    plan = optimise_plan(responses, request(), bau, candidates())
    assert (evaluate_plan(responses, request(), plan).margin
            >= evaluate_plan(responses, request(), bau).margin - 1e-6)


def test_the_same_inputs_give_the_same_plan():
    first = optimise_plan(ToyResponses(), request(), bau_plan(), candidates())
    second = optimise_plan(ToyResponses(), request(), bau_plan(), candidates())
    assert not any("differenced on its own" in note for note in first.notes)
    pd.testing.assert_frame_equal(first.media, second.media)
    pd.testing.assert_frame_equal(first.promotions, second.promotions)


def test_without_media_the_plan_still_chooses_promotions():
    bau = bau_plan()
    bau.media = bau.media.iloc[:0]
    plan = optimise_plan(ToyResponses(), request(), bau, candidates())
    assert plan.media.empty
    assert ("s2", "A1", 1, 20.0) in _promos(plan)


@pytest.mark.parametrize("change, message", [
    ({"mode": "both"}, "unknown plan mode"),
])
def test_bad_mode_is_one_line(change, message):
    with pytest.raises(ValueError, match=message):
        optimise_plan(ToyResponses(), request(), bau_plan(), candidates(), **change)


def test_bad_bounds_and_budget_are_one_line():
    with pytest.raises(ValueError, match="media bounds"):
        optimise_plan(ToyResponses(), request(media_bounds=(0.1, 0.3)), bau_plan(), candidates())
    with pytest.raises(ValueError, match="negative"):
        optimise_plan(ToyResponses(), request(media_budget=-1.0), bau_plan(), candidates())


def test_default_increments_are_what_the_tests_assume():
    # Guards the hand-made numbers above: s1@B1 loses 10 without media.
    margin, cost = default_increments()[("s1", "B1", 2, 20.0)]
    assert margin - cost == -10.0 and np.isclose(margin * 1.2 - cost, 10.0)


def test_a_solver_answer_slightly_off_its_bounds_is_repaired_onto_them():
    from liftline.plan.optimize import PlanProblem

    problem = PlanProblem(ToyResponses(), request(), bau_plan(), candidates())
    off = problem.reference.copy()
    off[0] *= 0.69  # below its pair's -30%
    off[1, 0] += 37.0  # and the budget no longer met
    fixed = problem._feasible(off, problem.week_cap, problem.pair_lower, problem.pair_upper)
    totals = fixed.sum(axis=1)
    assert fixed.sum() == pytest.approx(problem.budget, rel=1e-9)
    assert (totals >= problem.pair_lower - 1e-6).all()
    assert (totals <= problem.pair_upper + 1e-6).all()
    assert (fixed >= 0).all() and (fixed <= problem.week_cap[:, None] + 1e-6).all()


def test_planned_promotions_that_overlap_each_other_are_kept_and_noted():
    bau = bau_plan()
    clash = promotion("d1", "A2", 0, discount=30.0, origin=PLANNED)
    bau.promotions = pd.concat([bau.promotions, pd.DataFrame([clash])])
    plan = optimise_plan(ToyResponses(), request(), bau, candidates())
    assert {("d1", "A2", 0, 20.0), ("d1", "A2", 0, 30.0)} <= _promos(plan)
    assert any("1 planned promotion(s) overlap" in note for note in plan.notes)


class SharedResponses(ToyResponses):
    """One response for all countries: each country's uplift from the total spend."""

    def media_uplift(self, media):
        pooled = media.assign(country="AA").groupby(["country", "channel", "week_start"],
                                                      as_index=False)["spend"].sum()
        uplift = super().media_uplift(pooled)[["week_start", "uplift"]]
        return pd.concat([uplift.assign(country=c) for c in ("AA", "BB")], ignore_index=True)


def test_countries_sharing_a_response_still_get_a_plan_within_bounds():
    bau = bau_plan()
    plan = optimise_plan(SharedResponses(), request(), bau, candidates(), mode="media_only")
    assert any("differenced on its own" in note for note in plan.notes)
    assert plan.media["spend"].sum() == pytest.approx(bau.media["spend"].sum())
    assert (evaluate_plan(SharedResponses(), request(), plan).margin
            > evaluate_plan(SharedResponses(), request(), bau).margin)


@pytest.mark.parametrize("pattern", [{}, {("B1", 3): 5000.0}, {("A1", 0): 100.0, ("B1", 1): 3000.0}])
def test_joint_is_never_worse_than_the_separate_plan(pattern):
    responses, req, bau = ToyResponses(base_margin=pattern), request(), bau_plan()
    joint = optimise_plan(responses, req, bau, candidates())
    separate = optimise_plan(responses, req, bau, candidates(), mode="separate")
    assert (evaluate_plan(responses, req, joint).margin
            >= evaluate_plan(responses, req, separate).margin - 1e-6)
    assert sum(note.startswith("joint from ") for note in joint.notes) == 2
