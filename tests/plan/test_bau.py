"""Business as usual: last year's weekly spend, the planned calendar (origin planned, SKU x store
cells) and last year's promotions repeated where they do not clash with it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from plan_world import START, WEEKS, build, weekly_spend_truth

from liftline.plan.bau import PROMOTION_FRAME, business_as_usual
from liftline.plan.types import BUSINESS_AS_USUAL, MEDIA_COLUMNS, PLANNED, PlanRequest

REQUEST = PlanRequest(start=START, weeks=WEEKS)


def bau(engine, request: PlanRequest = REQUEST):
    return business_as_usual(engine, request, log=lambda _: None)


def test_media_is_last_years_weekly_spend(warehouse):
    build(warehouse)
    media = bau(warehouse).media
    assert list(media.columns) == list(MEDIA_COLUMNS)
    assert len(media) == 2 * 2 * WEEKS  # countries x channels x weeks
    truth = weekly_spend_truth()
    truth["week_start"] = truth["week_start"] + pd.Timedelta(weeks=52)
    both = media.merge(truth, on=["country", "channel", "week_start"], suffixes=("", "_ly"))
    assert len(both) == len(media)
    np.testing.assert_allclose(both["spend"], both["spend_ly"])
    assert both["spend"].nunique() > 2  # the weekly pattern, not an average


def test_less_than_a_year_of_spend_repeats_the_last_13_weeks(warehouse):
    build(warehouse, spend_from=dt.date(2023, 10, 2))
    plan = bau(warehouse)
    assert any("repeats the last 13 weeks" in note for note in plan.notes)
    truth = weekly_spend_truth()
    last = truth.loc[truth["week_start"] >= pd.Timestamp(START) - pd.Timedelta(weeks=13)]
    de_tv = plan.media.loc[(plan.media["country"] == "DE") & (plan.media["channel"] == "tv")]
    expected = last.loc[(last["country"] == "DE") & (last["channel"] == "tv"), "spend"]
    np.testing.assert_allclose(de_tv["spend"].to_numpy(), expected.to_numpy()[:WEEKS])


def test_planned_promotions_are_kept_as_cells_and_last_year_repeats_around_them(warehouse):
    build(warehouse)
    promos = bau(warehouse).promotions
    assert list(promos.columns) == PROMOTION_FRAME
    planned = promos.loc[promos["origin"] == PLANNED]
    # PL1 (dairy, region R1 = S0) and PL2 (A1 in both stores), SKU x store cells.
    cells = set(zip(planned["promo_id"], planned["store_id"], planned["sku"], strict=True))
    assert cells == {("PL1", "S0", "B1"), ("PL1", "S0", "B2"), ("PL2", "S0", "A1"),
                     ("PL2", "S1", "A1")}
    assert planned["cost"].sum() == 200.0 + 150.0
    repeated = promos.loc[promos["origin"] == BUSINESS_AS_USUAL]
    # LY1 (all snacks in both stores) a year on; LY2 would overlap PL1 in S0's dairy.
    assert set(repeated["promo_id"]) == {"LY1"} and len(repeated) == 6
    assert (repeated["week_start"] == pd.Timestamp("2024-04-08")).all()
    assert (repeated["duration_days"] == 7).all()


def test_business_as_usual_is_deterministic(warehouse):
    build(warehouse)
    first, second = bau(warehouse), bau(warehouse)
    pd.testing.assert_frame_equal(first.media, second.media)
    pd.testing.assert_frame_equal(first.promotions, second.promotions)


def test_a_plan_starts_on_a_monday(warehouse):
    build(warehouse)
    with pytest.raises(ValueError, match="is a Tuesday: plans start on a Monday"):
        bau(warehouse, PlanRequest(start=dt.date(2024, 4, 2), weeks=4))
