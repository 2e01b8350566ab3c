"""The optimiser's numpy media uplift: the same numbers as the frame formula of
`MediaResponse.contributions`, and a gradient that matches finite differences; the optimiser
gains as much with it as by differencing the uplift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from liftline.plan.fitted_media import ALL, MediaResponse, MixModel
from liftline.plan.optimize import PlanProblem
from liftline.plan.types import Plan, PlanRequest

REQUEST = PlanRequest(start=pd.Timestamp("2025-01-06").date(), weeks=6)
COUNTRIES = ["DE", "FR", "IT"]
# DE has a model of its own (Weibull adstock); FR and IT share the whole-business one, which
# also sees DE's spend (geometric adstock). IT spends nothing before the plan.
PAIRS = [("DE", "search"), ("DE", "tv"), ("FR", "search"), ("FR", "tv"), ("IT", "tv")]


def _model(name: str, adstock: str, params: dict[str, list[float]]) -> MixModel:
    return MixModel(name=name, version="1", status="champion", channels=("search", "tv"),
                    adstock=adstock, adstock_params={k: np.array(v) for k, v in params.items()},
                    alpha=np.array([0.8, 2.2]), inflexion=np.array([900.0, 3000.0]),
                    beta=np.array([400.0, 1500.0]), target="revenue", l_max=8)


def _response() -> MediaResponse:
    rng = np.random.default_rng(3)
    before_weeks = pd.date_range(pd.Timestamp(REQUEST.start) - pd.Timedelta(weeks=52),
                                 periods=52, freq="7D")
    before = pd.DataFrame([(c, ch, w, float(rng.uniform(200, 2500)))
                           for c in ("DE", "FR") for ch in ("search", "tv")
                           for w in before_weeks], columns=["country", "channel", "week_start",
                                                            "spend"])
    return MediaResponse(
        models={"DE": _model("mmm/DE/all", "weibull", {"shape": [1.4, 0.7],
                                                      "scale": [0.2, 0.4]}),
                ALL: _model("mmm/ALL/all", "geometric", {"theta": [0.3, 0.6]})},
        answered_by={"DE": "DE", "FR": ALL, "IT": ALL},
        store_share={"DE": 0.4, "FR": 0.7, "IT": 1.0}, before=before,
        weeks=REQUEST.week_starts)


def _revenue() -> np.ndarray:
    revenue = np.linspace(40_000, 60_000, len(COUNTRIES) * REQUEST.weeks)
    revenue = revenue.reshape(len(COUNTRIES), REQUEST.weeks)
    revenue[2, 0] = 0.0  # no base: no uplift
    return revenue


def _spend(seed: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 3000, (len(PAIRS), REQUEST.weeks))


def _frame_uplift(response: MediaResponse, spend: np.ndarray) -> np.ndarray:
    """The frame formula: contributions over revenue, cell by cell."""
    weeks = REQUEST.week_starts
    media = pd.DataFrame([(c, ch, w, spend[p, t]) for p, (c, ch) in enumerate(PAIRS)
                          for t, w in enumerate(weeks)],
                         columns=["country", "channel", "week_start", "spend"])
    found = response.contributions(media).set_index(["country", "week_start"])["contribution"]
    revenue = _revenue()
    out = np.zeros_like(revenue)
    for i, country in enumerate(COUNTRIES):
        for t, week in enumerate(weeks):
            if revenue[i, t] > 0:
                out[i, t] = found.get((country, week), 0.0) / revenue[i, t]
    return out


@pytest.mark.parametrize("seed", [5, 6])
def test_the_vectorised_uplift_is_the_frame_formula(seed):
    response = _response()
    spend = _spend(seed)
    spend[1, :2] = 0.0  # weeks without spend still carry the adstock of earlier weeks
    fast = response.evaluator(PAIRS, COUNTRIES, _revenue()).uplift(spend)
    np.testing.assert_allclose(fast, _frame_uplift(response, spend), rtol=1e-10, atol=1e-14)
    assert (fast[:, 1:] > 0).all() and fast[2, 0] == 0.0
    # A spend cell of DE moves FR's uplift (the shared model), not the other way round for DE.
    moved = spend.copy()
    moved[PAIRS.index(("DE", "tv")), 2] += 500.0
    change = response.evaluator(PAIRS, COUNTRIES, _revenue()).uplift(moved) - fast
    assert change[0, 2] > 0 and change[1, 2] != 0


def test_the_gradient_matches_finite_differences():
    evaluator = _response().evaluator(PAIRS, COUNTRIES, _revenue())
    spend = _spend()
    weights = np.random.default_rng(9).uniform(5_000, 20_000, (len(COUNTRIES), REQUEST.weeks))

    def value(x: np.ndarray) -> float:
        return float((weights * evaluator.uplift(x)).sum())

    step = 1e-3
    numeric = np.zeros_like(spend)
    for p in range(spend.shape[0]):
        for t in range(spend.shape[1]):
            up, down = spend.copy(), spend.copy()
            up[p, t] += step
            down[p, t] -= step
            numeric[p, t] = (value(up) - value(down)) / (2 * step)
    analytic = evaluator.gradient(spend, weights)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-9)
    assert np.abs(analytic).min() > 0  # every cell moves the margin


class _Responses:
    """Responses of the small case: the frame formula, with or without the evaluator."""

    def __init__(self, response: MediaResponse, fast: bool):
        self.response = response
        self.evaluator = response.evaluator(PAIRS, COUNTRIES, _revenue())
        if fast:
            self.media_evaluator = lambda pairs, countries: response.evaluator(
                pairs, countries, self._revenue(countries))

    def _revenue(self, countries: list[str]) -> np.ndarray:
        assert countries == COUNTRIES
        return _revenue()

    def base(self, request: PlanRequest) -> pd.DataFrame:
        revenue = _revenue()
        return pd.DataFrame([(f"{c}1", c, w, revenue[i, t] / 10, revenue[i, t],
                              revenue[i, t] * 0.3)
                             for i, c in enumerate(COUNTRIES)
                             for t, w in enumerate(request.week_starts)],
                            columns=["store_id", "country", "week_start", "units", "revenue",
                                     "gross_margin"])

    def media_uplift(self, media: pd.DataFrame) -> pd.DataFrame:
        spend = (media.pivot_table(index=["country", "channel"], columns="week_start",
                                   values="spend", aggfunc="sum")
                 .reindex(index=pd.MultiIndex.from_tuples(PAIRS), columns=REQUEST.week_starts)
                 .fillna(0.0).to_numpy())
        # The optimiser's black-box path: frames in and out, differenced cell by cell.
        uplift = self.evaluator.uplift(spend)
        return pd.DataFrame([(c, w, uplift[i, t]) for i, c in enumerate(COUNTRIES)
                             for t, w in enumerate(REQUEST.week_starts)],
                            columns=["country", "week_start", "uplift"])

    def promotion_increments(self, promotions: pd.DataFrame) -> pd.DataFrame:
        raise AssertionError("no promotions in this case")


def _usual_plan(spend: np.ndarray) -> Plan:
    """Business as usual: the (pair, week) spend, no promotions."""
    media = pd.DataFrame([(c, ch, w, spend[p, t]) for p, (c, ch) in enumerate(PAIRS)
                          for t, w in enumerate(REQUEST.week_starts)],
                         columns=["country", "channel", "week_start", "spend"])
    promotions = pd.DataFrame(columns=["sku", "store_id", "week_start", "discount_pct",
                                       "duration_days", "promo_type", "origin", "category"])
    return Plan(media=media, promotions=promotions)


def test_the_optimiser_finds_the_same_media_with_the_exact_gradient():
    spend = _spend(7)
    bau = _usual_plan(spend)
    promotions = bau.promotions
    gained = {}
    for fast in (False, True):
        problem = PlanProblem(_Responses(_response(), fast), REQUEST, bau, promotions)
        found = problem.optimise_media(np.zeros_like(problem.base_weights), problem.reference)
        assert abs(found.sum() - spend.sum()) < 1e-6 * spend.sum()  # the budget holds
        no_promotions = promotions.assign(cost=[])
        gained[fast] = (problem.margin(found, no_promotions)
                        - problem.margin(problem.reference, no_promotions))
    assert gained[False] > 0
    # The same optimum (the surface is flat near it: the spend may differ a little).
    assert gained[True] == pytest.approx(gained[False], rel=1e-3)


def test_countries_sharing_the_whole_business_model_keep_their_usual_split():
    """FR and IT share the whole-business model, which sees their spend summed: the plan moves
    tv's money between weeks, never between them; DE, with a model of its own, moves freely."""
    response = _response()
    assert response.countries_sharing_a_model() == [["FR", "IT"]]
    spend = _spend(7)
    bau = _usual_plan(spend)
    promotions = bau.promotions
    responses = _Responses(response, fast=True)
    responses.countries_sharing_a_model = response.countries_sharing_a_model
    problem = PlanProblem(responses, REQUEST, bau, promotions)
    found = problem.optimise_media(np.zeros_like(problem.base_weights), problem.reference)
    fr, it = PAIRS.index(("FR", "tv")), PAIRS.index(("IT", "tv"))
    usual = spend[fr].sum() / (spend[fr].sum() + spend[it].sum())
    np.testing.assert_allclose(found[fr] / (found[fr] + found[it]), usual, rtol=1e-9)
    assert np.ptp(found[fr]) > 100.0  # flighting over the weeks is still free
    totals = found.sum(axis=1)
    assert found.sum() == pytest.approx(spend.sum(), rel=1e-6)
    assert (totals >= problem.pair_lower - 1e-6).all() and (totals <= problem.pair_upper + 1e-6
                                                             ).all()
    assert (found <= problem.week_cap[:, None] + 1e-6).all()
    no_promotions = promotions.assign(cost=[])
    assert problem.margin(found, no_promotions) > problem.margin(problem.reference, no_promotions)
    assert any("keep their business-as-usual share" in note for note in problem.notes)
