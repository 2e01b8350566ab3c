"""Recommendations: bounds of the spec, no overlap with planned or recommended promotions of
sibling SKUs in a store, margin arithmetic, and the units ranking without costs."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest
from promo_helpers import AS_OF, PRODUCTS, build_warehouse, measured_frame, quick_spec

from liftline.promo.candidates import (
    feature_rows,
    load_catalogue,
    next_mondays,
    with_economics,
)
from liftline.promo.model import LiftModel, train_lift_model
from liftline.promo.recommend import COLUMNS, recommend_promotions
from liftline.promo.spec import PromoSpec

CONTRACT = ["run_id", "sku", "store_id", "week_start", "discount_pct", "duration_days",
            "expected_lift_pct", "expected_incremental_margin"]
PLANNED = [
    # A sibling's promotion in S0's snacks during the second recommended week ...
    {"promo_id": "PL1", "start_date": date(2024, 4, 8), "end_date": date(2024, 4, 14),
     "discount_pct": 20.0, "sku": "A2", "category": "snacks", "store_id": "S0",
     "promo_type": "flyer", "status": "planned"},
    # ... a whole-category one in region R2 (store S1) for dairy, from the third week ...
    {"promo_id": "PL2", "start_date": date(2024, 4, 15), "end_date": date(2024, 5, 31),
     "discount_pct": 10.0, "category": "dairy", "region": "R2", "promo_type": "flyer",
     "status": "planned"},
    # ... and a cancelled one that blocks nothing.
    {"promo_id": "PL3", "start_date": date(2024, 4, 1), "end_date": date(2024, 5, 31),
     "discount_pct": 10.0, "category": "snacks", "store_id": "S1", "promo_type": "flyer",
     "status": "cancelled"},
]


@pytest.fixture(scope="module")
def model() -> LiftModel:
    return train_lift_model(measured_frame(), quick_spec(), log=lambda _: None)


def recommend(warehouse, model, spec: PromoSpec | None = None, log=lambda _: None):
    return recommend_promotions(warehouse, model, AS_OF, "run-7", spec or PromoSpec(), log)


def test_recommendations_have_the_contract_columns_and_respect_the_bounds(warehouse, model):
    build_warehouse(warehouse, PLANNED)
    recs = recommend(warehouse, model)
    assert list(recs.columns) == COLUMNS and COLUMNS[:8] == CONTRACT
    assert len(recs) and (recs["run_id"] == "run-7").all()
    assert recs["discount_pct"].between(5, 50).all() and recs["duration_days"].between(3, 28).all()
    assert set(recs["week_start"]) <= {d.date() for d in next_mondays(AS_OF, 4)}
    assert (recs["expected_incremental_margin"] > 0).all()
    assert not recs.duplicated(["sku", "store_id", "week_start"]).any()


def test_grid_values_outside_the_bounds_are_never_proposed(warehouse, model):
    build_warehouse(warehouse)
    base = PromoSpec()
    spec = replace(base, recommend={**base.section("recommend"), "discounts": [2, 20, 60],
                                    "durations": [1, 7, 40]})
    recs = recommend(warehouse, model, spec)
    assert len(recs) and set(recs["discount_pct"]) == {20.0} and set(recs["duration_days"]) == {7}


def windows(recs: pd.DataFrame) -> pd.DataFrame:
    start = pd.to_datetime(recs["week_start"])
    return recs.assign(start=start, end=start + pd.to_timedelta(recs["duration_days"] - 1, "D"))


def test_no_recommendation_overlaps_a_planned_sibling_promotion(warehouse, model):
    build_warehouse(warehouse, PLANNED)
    recs = windows(recommend(warehouse, model))
    s0_snacks = recs.query("store_id == 'S0' and category == 'snacks'")
    assert not ((s0_snacks["start"] <= "2024-04-14") & (s0_snacks["end"] >= "2024-04-08")).any()
    s1_dairy = recs.query("store_id == 'S1' and category == 'dairy'")
    assert not (s1_dairy["end"] >= "2024-04-15").any()
    # The cancelled promotion leaves S1's snacks free, and S0's dairy was never blocked.
    assert len(recs.query("store_id == 'S1' and category == 'snacks'"))
    assert len(recs.query("store_id == 'S0' and category == 'dairy'"))


def test_recommendations_never_overlap_each_other_on_sibling_skus(warehouse, model):
    build_warehouse(warehouse)
    recs = windows(recommend(warehouse, model))
    for _, lane in recs.groupby(["store_id", "category"]):
        lane = lane.sort_values("start")
        assert (lane["start"].iloc[1:].to_numpy() > lane["end"].iloc[:-1].to_numpy()).all()


def test_margin_pays_the_discount_on_every_promoted_unit():
    row = pd.DataFrame({"baseline_units_per_day": [10.0], "duration_days": [7],
                        "discount_pct": [20.0], "lift_pct": [50.0], "price": [4.0],
                        "unit_cost": [1.0]})
    out = with_economics(row).iloc[0]
    assert out["baseline_units"] == 70 and out["promoted_units"] == 105
    assert out["expected_incremental_units"] == pytest.approx(35)
    assert out["expected_incremental_revenue"] == pytest.approx(105 * 3.2 - 70 * 4)
    assert out["expected_incremental_margin"] == pytest.approx(105 * 2.2 - 70 * 3)


def test_without_unit_costs_candidates_are_ranked_by_units_and_it_is_logged(warehouse, model):
    build_warehouse(warehouse, products=PRODUCTS.assign(unit_cost=np.nan))
    messages = []
    recs = recommend(warehouse, model, log=messages.append)
    assert len(recs) and recs["expected_incremental_margin"].isna().all()
    assert (recs["expected_incremental_units"] > 0).all()
    assert any("ranking by incremental units" in m for m in messages)


def test_feature_rows_read_history_and_concurrency_as_of_the_start(warehouse):
    build_warehouse(warehouse, PLANNED)
    cat = load_catalogue(warehouse, AS_OF)
    rows = feature_rows(pd.DataFrame({
        "sku": ["A1", "B1"], "store_id": ["S0", "S0"], "start_date": [date(2024, 4, 1)] * 2,
        "duration_days": [7, 7], "discount_pct": [20.0, 20.0], "promo_type": ["flyer"] * 2}),
        cat)
    snacks, dairy = rows.iloc[0], rows.iloc[1]
    assert snacks["category"] == "snacks" and snacks["region"] == "R1"
    assert snacks["past_promos_category"] == 1 and snacks["past_lift_mean_category"] == 60.0
    assert snacks["days_since_category_promo"] == 41 - 7 + 1
    assert dairy["past_promos_category"] == 0 and np.isnan(dairy["past_lift_mean_category"])
    assert snacks["end_date"] == pd.Timestamp("2024-04-07") and snacks["month"] == 4


def test_discounts_the_model_never_trained_on_are_not_proposed(warehouse, model):
    build_warehouse(warehouse)
    base = PromoSpec()
    spec = replace(base, recommend={**base.section("recommend"), "discounts": [5, 20]})
    messages = []
    recs = recommend(warehouse, model, spec, log=messages.append)
    assert len(recs) and set(recs["discount_pct"]) == {20.0}  # trained on 10-50%
    assert any("outside those trained on" in m for m in messages)
