"""The planner's responses from the fitted models: the base holds neither media nor the planned
promotions (adding them back gives the forecast), a missing model is named and planned around,
media and promotion responses move the right way, and the same warehouse gives the same rows."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from plan_world import AS_OF, START, WEEKS, build
from sqlalchemy import Engine

from liftline import registry
from liftline.plan.fitted import FittedResponses, promotion_candidates
from liftline.plan.fitted_base import expected_sales
from liftline.plan.types import (
    BASE_COLUMNS,
    INCREMENT_COLUMNS,
    PLANNED,
    PROMOTION_COLUMNS,
    UPLIFT_COLUMNS,
    PlanRequest,
)
from liftline.promo import load_spec as load_promo_spec
from liftline.warehouse import create_schema, dispose_engines, get_engine, table

REQUEST = PlanRequest(start=START, weeks=WEEKS)
QUIET = {"log": lambda _: None}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The default world, built once for the tests that only read it (SQLite)."""
    folder = tmp_path_factory.mktemp("plan_world")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LIFTLINE_REGISTRY_URL", str(folder / "registry"))
        engine = get_engine(f"sqlite:///{folder / 'warehouse.db'}")
        create_schema(engine)
        build(engine)
        yield engine
    dispose_engines()


@pytest.fixture(scope="module")
def fitted(world: Engine) -> FittedResponses:
    return responses(world)


def responses(engine) -> FittedResponses:
    return FittedResponses.from_warehouse(engine, REQUEST, **QUIET)


def expected(engine) -> pd.DataFrame:
    stores = pd.DataFrame({"store_id": ["S0", "S1"]})
    return expected_sales(engine, REQUEST, stores, AS_OF, [], [])


def rebuilt(r: FittedResponses) -> pd.DataFrame:
    """(base + planned increments at their start week) x (1 + business-as-usual uplift)."""
    planned = r.bau.promotions.loc[r.bau.promotions["origin"] == PLANNED]
    found = r.promotion_increments(planned).groupby(["store_id", "week_start"])[
        ["incremental_units", "incremental_revenue"]].sum()
    base = r.base(REQUEST).merge(r.media_uplift(r.bau.media), on=["country", "week_start"])
    base = base.join(found, on=["store_id", "week_start"]).fillna(
        {"incremental_units": 0.0, "incremental_revenue": 0.0})
    scale = 1 + base["uplift"]
    return base.assign(units=(base["units"] + base["incremental_units"]) * scale,
                       revenue=(base["revenue"] + base["incremental_revenue"]) * scale)


def test_base_excludes_media_and_planned_promotions(world, fitted):
    r = fitted
    assert r.missing == []
    base = r.base(REQUEST)
    assert list(base.columns[:6]) == list(BASE_COLUMNS)
    assert len(base) == 2 * WEEKS and not base[list(BASE_COLUMNS[3:])].isna().any().any()
    uplift = r.media_uplift(r.bau.media)
    assert list(uplift.columns) == list(UPLIFT_COLUMNS)
    assert (uplift["uplift"] > 0.01).all()
    np.testing.assert_allclose(uplift["uplift"], r.bau_uplift["uplift"])
    # Adding business-as-usual media and the planned promotions back gives the forecast.
    forecast = expected(world)
    both = rebuilt(r).merge(forecast, on=["store_id", "week_start"], suffixes=("", "_fc"))
    in_forecast = both["source"] == "forecast"
    assert in_forecast.sum() == 2 * 8
    for measure in ("units", "revenue"):
        np.testing.assert_allclose(both.loc[in_forecast, measure],
                                   both.loc[in_forecast, f"{measure}_fc"], rtol=1e-9)
    # ... and the base itself is below it: media and promotions removed.
    assert (base["revenue"].to_numpy() < forecast["revenue"].to_numpy()).all()
    planned_week = base.loc[(base["store_id"] == "S0")
                            & (base["week_start"] == pd.Timestamp("2024-04-15"))]
    quiet_week = base.loc[(base["store_id"] == "S0")
                          & (base["week_start"] == pd.Timestamp("2024-04-08"))]
    assert planned_week["units"].iloc[0] < quiet_week["units"].iloc[0]


def test_weeks_after_the_forecast_continue_from_last_year_at_the_forecast_level(world, fitted):
    forecast = expected(world)
    later = forecast.loc[forecast["source"] == "last_year"]
    assert sorted(later["week_start"].unique()) == list(REQUEST.week_starts[8:])
    # Every day last year sold 50 units, the forecast says 60: the later weeks sell 7 x 60.
    np.testing.assert_allclose(later["units"], 7 * 60.0)
    np.testing.assert_allclose(later["units_upper"] / later["units"], 1.2)


def test_gross_margin_is_revenue_less_units_at_the_stores_unit_cost(world, fitted):
    base = fitted.base(REQUEST)
    unit_cost = (3 * 1.0 + 2 * 0.5) / 5  # every SKU sells the same units
    np.testing.assert_allclose(base["gross_margin"], base["revenue"] - base["units"] * unit_cost)


def test_a_missing_mix_model_is_named_and_media_has_no_effect(warehouse):
    build(warehouse, mmm=False)
    r = responses(warehouse)
    assert r.missing == ["mmm/ALL/all"] and not r.has_media_model
    assert any("no mix model answers DE, FR" in note for note in r.notes)
    assert (r.media_uplift(r.bau.media)["uplift"] == 0).all()
    assert (r.media_uplift(r.bau.media.assign(spend=1e6))["uplift"] == 0).all()
    forecast = expected(warehouse)
    both = rebuilt(r).merge(forecast, on=["store_id", "week_start"], suffixes=("", "_fc"))
    quiet = (both["source"] == "forecast") & ~both["week_start"].isin(
        pd.to_datetime(["2024-04-15", "2024-05-06"]))
    np.testing.assert_allclose(both.loc[quiet, "revenue"], both.loc[quiet, "revenue_fc"])


def test_a_challenger_mix_model_answers_only_when_asked(warehouse):
    build(warehouse)  # its mix model is the first version, champion: make it a challenger
    with warehouse.begin() as conn:
        registry_table = table("ml_model_registry")
        conn.execute(registry_table.update().where(registry_table.c.model_name == "mmm/ALL/all")
                     .values(status=registry.CHALLENGER))
    assert responses(warehouse).missing == ["mmm/ALL/all"]
    r = FittedResponses.from_warehouse(warehouse, REQUEST, challengers=True, **QUIET)
    assert r.missing == [] and any("latest challenger" in note for note in r.notes)


def test_a_missing_forecast_plans_from_last_year(warehouse):
    build(warehouse, forecast=False)
    r = responses(warehouse)
    assert r.missing == ["sales_forecast"]
    forecast = expected(warehouse)
    assert (forecast["source"] == "last_year").all()
    np.testing.assert_allclose(forecast["units"], 7 * 50.0)  # the level did not move
    assert forecast["units_lower"].isna().all()  # no forecast, no interval invented
    assert (r.base(REQUEST)["units"] < 7 * 50.0).all()  # media (and promotions) taken out


def test_a_missing_lift_model_adds_nothing_and_proposes_nothing(warehouse):
    build(warehouse, lift=False)
    r = responses(warehouse)
    assert r.missing == ["promo_lift"] and not r.has_lift_model
    assert r.base(REQUEST)["revenue"].dtype == float
    assert r.media_uplift(r.bau.media)["uplift"].gt(0).all()
    found = r.promotion_increments(r.bau.promotions)
    assert (found["incremental_units"] == 0).all()
    assert found["cost"].sum() == pytest.approx(300.0 + 200.0 + 150.0)  # LY1, PL1, PL2
    assert promotion_candidates(warehouse, REQUEST, **QUIET).empty


def test_media_uplift_follows_spend_and_carries_over(world, fitted):
    r = fitted
    bau = r.bau.media
    more = r.media_uplift(bau.assign(spend=bau["spend"] * 2))["uplift"]
    usual = r.media_uplift(bau)["uplift"]
    none = r.media_uplift(bau.assign(spend=0.0))
    assert (more.to_numpy() > usual.to_numpy()).all()
    first, last = none["week_start"].min(), none["week_start"].max()
    assert (none.loc[none["week_start"] == first, "uplift"] > 0.005).all()  # adstock
    assert (none.loc[none["week_start"] == last, "uplift"] < 1e-4).all()
    # The whole-business model splits a channel by where it is bought: FR spends nothing.
    only_de = r.media_uplift(bau.assign(spend=np.where(bau["country"] == "DE",
                                                       bau["spend"], 0.0)))
    fr = only_de.loc[only_de["country"] == "FR"]
    assert fr.loc[fr["week_start"] == last, "uplift"].iloc[0] < 1e-4
    with pytest.raises(ValueError, match="outside the plan's weeks"):
        r.media_uplift(bau.assign(week_start=pd.Timestamp("2030-01-07")))


def test_promotion_increments_are_netted_and_come_back_as_removed(world, fitted):
    r = fitted
    promos = r.bau.promotions
    found = r.promotion_increments(promos)
    assert list(found.columns) == list(INCREMENT_COLUMNS) and len(found) == len(promos)
    assert (found["incremental_units"] > 0).all()
    # The planned promotions' own costs, split over their cells.
    planned = found.loc[(promos["origin"] == PLANNED).to_numpy()]
    assert planned["cost"].sum() == pytest.approx(200.0 + 150.0)
    # Snacks give back 30% of their extra units (dip and cannibalisation measured).
    snack = promos.loc[promos["category"] == "snacks"].head(1)
    own = r._promotions
    gross = own.increments(snack.assign(category="unused"))
    ratio = own.net_share["snacks"]
    assert ratio == pytest.approx(-0.3)
    deeper = r.promotion_increments(snack.assign(discount_pct=40.0, origin="recommended"))
    shallower = r.promotion_increments(snack.assign(discount_pct=10.0, origin="recommended"))
    assert deeper["incremental_units"].iloc[0] >= shallower["incremental_units"].iloc[0]
    assert gross["incremental_units"].iloc[0] > 0


def test_candidates_keep_to_the_grid_and_off_the_planned_calendar(world, fitted):
    found = promotion_candidates(world, REQUEST, **QUIET)
    assert list(found.columns) == [*PROMOTION_COLUMNS, "category"]
    rec = load_promo_spec().section("recommend")
    assert set(found["duration_days"]) == {d for d in rec["durations"] if d <= 7}
    assert set(found["discount_pct"]) <= {float(d) for d in rec["discounts"]}
    assert found["discount_pct"].min() >= 5.0  # the lift model was trained from 5%
    assert set(found["week_start"]) == set(REQUEST.week_starts)
    assert (found["origin"] == "recommended").all()
    # PL1 holds S0's dairy in the week of 2024-04-15 (and a 7-day start the Monday before
    # would run into it), PL2 every store's snacks from 2024-05-06.
    clash = found.loc[(found["store_id"] == "S0") & (found["category"] == "dairy")
                      & (found["week_start"] == pd.Timestamp("2024-04-15"))]
    assert clash.empty
    snacks = found.loc[(found["category"] == "snacks")
                       & (found["week_start"] == pd.Timestamp("2024-05-06"))]
    assert snacks.empty
    assert len(found.loc[(found["store_id"] == "S1") & (found["category"] == "dairy")
                         & (found["week_start"] == pd.Timestamp("2024-04-15"))])


def test_the_same_warehouse_gives_the_same_rows(warehouse):
    build(warehouse)
    first, second = responses(warehouse), responses(warehouse)
    pd.testing.assert_frame_equal(first.base(REQUEST), second.base(REQUEST))
    pd.testing.assert_frame_equal(first.media_uplift(first.bau.media),
                                  second.media_uplift(second.bau.media))
    candidates = promotion_candidates(warehouse, REQUEST, **QUIET)
    pd.testing.assert_frame_equal(first.promotion_increments(candidates),
                                  second.promotion_increments(candidates))
    assert first.notes == second.notes


def test_another_request_is_refused(world, fitted):
    r = fitted
    with pytest.raises(ValueError, match="load them again"):
        r.base(PlanRequest(start=START, weeks=4))
