"""A plan under the synthetic world's true response: the closed form (TrueResponses) against
the synth's own demand code re-run with the plan (simulate_plan)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from liftline.plan.types import (
    BASE_COLUMNS,
    INCREMENT_COLUMNS,
    UPLIFT_COLUMNS,
    Plan,
    PlanRequest,
)
from liftline.synth import (
    PlanTruthError,
    TrueResponses,
    random_plan,
    simulate_plan,
    world_plan,
)
from liftline.synth.plan_truth import world_for, world_truth

REQUEST = PlanRequest(start=date(2025, 1, 6), weeks=13)  # the quarter after the small history
MEASURES = ["units", "revenue", "gross_margin"]


@pytest.fixture(scope="module")
def truth() -> TrueResponses:
    return TrueResponses("small", 42)


@pytest.fixture(scope="module")
def own() -> Plan:
    return world_plan(REQUEST, "small", 42)


def combine(responses: TrueResponses, request: PlanRequest, plan: Plan) -> pd.Series:
    """Totals as the planner combines the parts, (base + increments) x (1 + uplift) per store
    and week: a stand-in for plan.evaluate_plan."""
    base = responses.base(request)
    uplift = responses.media_uplift(plan.media)
    inc = responses.promotion_increments(plan.promotions)
    parts = {m: f"incremental_{m}" for m in MEASURES}
    per_week = inc.groupby(["store_id", "week_start"])[list(parts.values())].sum().reset_index()
    per_week["week_start"] = pd.to_datetime(per_week.week_start)
    d = base.merge(per_week, on=["store_id", "week_start"], how="left").fillna(0.0)
    d = d.merge(uplift, on=["country", "week_start"], how="left")
    return pd.Series({m: ((d[m] + d[p]) * (1 + d.uplift)).sum() for m, p in parts.items()})


def simulated(plan: Plan) -> pd.Series:
    return simulate_plan(plan, REQUEST, "small", 42, earlier_promotions=False)[MEASURES].sum()


def relative_error(plan: Plan, truth: TrueResponses) -> pd.Series:
    reference = simulated(plan)
    return (combine(truth, REQUEST, plan) - reference) / reference


def test_frames_have_the_shared_columns_and_the_extracts_ids(truth, own):
    base = truth.base(REQUEST)
    assert list(base.columns) == list(BASE_COLUMNS)
    assert len(base) == 13 * 10 and base.store_id.str.fullmatch(r"ST-\d{4}").all()
    assert set(base.country) == {"DE", "FR"}
    assert (base[MEASURES] >= 0).all().all() and (base.gross_margin < base.revenue).all()
    uplift = truth.media_uplift(own.media)
    assert list(uplift.columns) == list(UPLIFT_COLUMNS) and len(uplift) == 2 * 13
    assert set(own.media.channel) == {"tv", "ooh", "online_video", "social", "display",
                                      "search"}
    inc = truth.promotion_increments(own.promotions)
    assert list(inc.columns[: len(INCREMENT_COLUMNS)]) == list(INCREMENT_COLUMNS)
    assert len(inc) == len(own.promotions) and inc.sku.str.fullmatch(r"SKU-\d+").all()


def test_a_closed_store_sells_nothing(truth):
    closures = world_for("small", 42).dims.closures
    monday = pd.to_datetime(closures.start) + pd.to_timedelta(
        (7 - pd.to_datetime(closures.start).dt.weekday) % 7, unit="D")
    whole_week = closures[monday + pd.Timedelta(days=6) <= pd.to_datetime(closures.end)]
    assert not whole_week.empty, "the small world has a store closed for a whole week"
    store_id, week = whole_week.store_id.iloc[0], monday[whole_week.index[0]]
    base = truth.base(PlanRequest(start=week.date(), weeks=2)).set_index(
        ["store_id", "week_start"])
    assert base.loc[(store_id, week), MEASURES].eq(0).all()
    assert (base.xs(week, level=1).drop(store_id).units > 0).all()
    assert base.loc[(store_id, week + pd.Timedelta(days=7)), "units"] > 0 or (
        week + pd.Timedelta(days=13) <= pd.to_datetime(whole_week.end.iloc[0]))


def test_zero_spend_gives_zero_uplift_and_only_carry_over_after_history(truth, own):
    first_weeks = world_plan(PlanRequest(start=date(2023, 1, 2), weeks=4), "small", 42).media
    assert (truth.media_uplift(first_weeks.assign(spend=0.0)).uplift == 0).all()
    dark = truth.media_uplift(own.media.assign(spend=0.0))
    for _, weeks in dark.groupby("country"):
        lift = weeks.sort_values("week_start").uplift.to_numpy()
        assert lift[0] > 0 and (np.diff(lift) <= 0).all()  # the world's adstock fades
        assert lift[-1] < 0.01 * lift[0]


def test_more_spend_more_uplift_with_diminishing_returns(truth, own):
    factors = [0.5, 1, 2, 4, 8]
    uplift = [truth.media_uplift(own.media.assign(spend=own.media.spend * f)).uplift.mean()
              for f in factors]
    assert (np.diff(uplift) > 0).all()
    per_unit = np.diff(uplift) / np.diff(factors)
    assert (np.diff(per_unit) < 0).all()


def test_deep_discount_on_a_sensitive_category_sells_more_and_its_siblings_lose(truth):
    def promotion(sku, discount, ptype="price_discount"):
        return {"sku": sku, "store_id": "ST-0001", "week_start": pd.Timestamp("2025-01-13"),
                "discount_pct": discount, "duration_days": 7, "promo_type": ptype,
                "origin": "recommended"}
    # snacks (SKU-2xxx) are the most promotion-sensitive of the small world's categories
    inc = truth.promotion_increments(pd.DataFrame(
        [promotion("SKU-2001", 40.0), promotion("SKU-2001", 10.0),
         promotion("SKU-3001", 40.0)])).set_index(["sku", "discount_pct"])
    deep = inc.loc[("SKU-2001", 40.0)]
    assert deep.incremental_units > 0 and deep.lift_units > inc.loc[("SKU-2001", 10.0)].lift_units
    assert deep.cannibalised_units > 0 and deep.dip_units > 0
    assert deep.incremental_units == pytest.approx(
        deep.lift_units - deep.dip_units - deep.cannibalised_units)
    assert deep.cost == 435.0  # a promotion of its own: the type's fixed cost + one store's
    # a line of a wider promotion carries its share of that promotion's cost, as given
    shared = truth.promotion_increments(pd.DataFrame([promotion("SKU-2001", 40.0)])
                                        .assign(cost=12.5))
    assert shared.cost.tolist() == [12.5]
    # the siblings' loss is real in the synth's own code: the same promotion, simulated
    media = world_plan(REQUEST, "small", 42).media.assign(spend=0.0)
    alone = pd.DataFrame([promotion("SKU-2001", 40.0)])
    with_promo = simulate_plan(Plan(media, alone), REQUEST, earlier_promotions=False)
    without = simulate_plan(Plan(media, alone.iloc[:0]), REQUEST, earlier_promotions=False)
    gained = (with_promo.units - without.units).sum()
    # The world's spend before the plan still lifts sales a little: the window and siblings
    # by the promotion's week's uplift, the dip (the week after) by that week's. The planner
    # books the whole increment in the start week (1% more dip here).
    uplift = truth.media_uplift(media).set_index(["country", "week_start"]).uplift["DE"]
    week, after = uplift[pd.Timestamp("2025-01-13")], uplift[pd.Timestamp("2025-01-20")]
    expected = ((deep.lift_units - deep.cannibalised_units) * (1 + week)
                - deep.dip_units * (1 + after))
    assert gained == pytest.approx(expected, rel=1e-3)
    assert gained == pytest.approx(deep.incremental_units * (1 + week), rel=0.02)
    assert gained < deep.lift_units - deep.dip_units


def test_media_alone_is_exactly_the_synths(truth, own):
    plan = Plan(own.media.assign(spend=own.media.spend * 1.3), own.promotions.iloc[:0])
    assert relative_error(plan, truth).abs().max() < 1e-9


def test_parts_agree_with_simulate_plan_on_random_plans(truth):
    # SKU x store promotions that keep out of each other's windows: the planner's plans
    for draw in range(3):
        plan = random_plan(REQUEST, "small", 42, draw=draw, promotions=40)
        assert len(plan.promotions) == 40
        assert relative_error(plan, truth).abs().max() < 0.005, draw


def test_parts_agree_with_simulate_plan_on_the_worlds_own_plan(truth, own):
    # The world promotes whole categories at once; each row on its own then counts the
    # cannibalisation of SKUs that are promoted too, which the world does not (2.6% here).
    assert relative_error(own, truth).abs().max() < 0.03


def test_the_world_plan_media_is_the_worlds_spend(own):
    weekly = world_for("small", 42).media.weekly
    week = pd.to_datetime(weekly.week_start)
    inside = (week >= REQUEST.week_starts[0]) & (week <= REQUEST.week_starts[-1])
    assert own.media.spend.sum() == pytest.approx(weekly.spend[inside].sum())
    assert (own.promotions.origin == "planned").all()
    assert own.promotions.start_date.min() >= pd.Timestamp(REQUEST.start)


def test_same_world_same_answers():
    first = TrueResponses("small", 42)
    plan = random_plan(REQUEST, "small", 42, draw=5)
    answers = (first.base(REQUEST), first.media_uplift(plan.media),
               first.promotion_increments(plan.promotions), simulate_plan(plan, REQUEST))
    world_truth.cache_clear()
    world_for.cache_clear()
    again = TrueResponses("small", 42)
    plan_again = random_plan(REQUEST, "small", 42, draw=5)
    pd.testing.assert_frame_equal(plan.promotions, plan_again.promotions)
    for before, after in zip(answers, (again.base(REQUEST), again.media_uplift(plan.media),
                                       again.promotion_increments(plan.promotions),
                                       simulate_plan(plan, REQUEST)), strict=True):
        pd.testing.assert_frame_equal(before, after)


@pytest.mark.parametrize(("change", "message"), [
    ({"start": date(2025, 1, 7)}, "not a Monday"),
    ({"start": date(2026, 12, 28)}, "outside the small world"),
])
def test_a_request_the_world_cannot_simulate_says_why(truth, change, message):
    request = PlanRequest(**{"start": REQUEST.start, "weeks": 13, **change})
    with pytest.raises(PlanTruthError, match=message):
        truth.base(request)


def test_unknown_ids_are_named(truth, own):
    with pytest.raises(PlanTruthError, match="SKU-9999"):
        truth.promotion_increments(own.promotions.head(1).assign(sku="SKU-9999"))
    with pytest.raises(PlanTruthError, match="radio"):
        truth.media_uplift(own.media.head(1).assign(channel="radio"))
