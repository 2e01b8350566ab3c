"""Evaluating a plan by the one formula of types.py, and finding a good one.

    sales(store, week) = (base + increments of the plan's promotions) x (1 + uplift of its country)
    margin = gross margin - media spend - promotion costs

Summed over a country's stores, gross margin is linear in the uplift, so the whole plan's margin
is sum over country x week of W x (1 + U) - spend - promotion costs, where W is the country's
gross margin of base plus chosen increments and U its media uplift. The optimiser works on that
sum; `evaluate_plan` computes the store x week detail.

Media: weekly spend per country x channel, optimised with SLSQP (scipy) on the weekly vector.
Responses with a `media_evaluator` (the fitted ones) give the uplift in numpy and its exact
gradient; otherwise the uplift is a black box and its gradient a forward difference, one
difference moving one channel-week in every country at once when a country's uplift depends
only on its own spend (one mix model per country). Constraints: the total equals the
budget (the request's, else business as usual's); each country x channel's quarter total stays
within `media_bounds` of its business-as-usual total (scaled to the budget when one is given);
spend >= 0; a week's spend at most WEEKLY_CAP_MULTIPLE x the pair's largest business-as-usual
week (flighting is free below that). Countries answered together by one whole-business mix model
keep business as usual's split of each channel's quarter between them (`_setup_ties`): that
model sees their spend summed, so it can time a channel's money but not place it by country.

Promotions: the increments of every candidate are measured once; a promotion's value in a plan
is its incremental gross margin x (1 + the uplift of its country and week) - its cost. Planned
promotions are always kept; then candidates are taken greedily, best value first, when they add
margin (above the request's floor) and overlap no promotion of the same category in the same
store (which includes the same SKU). Increments do not depend on each other once siblings cannot
overlap, so given the media the greedy choice is the best per store x category x week.

Modes: `joint` alternates the two (promotions given media, media given promotions: media is worth
more where promotions raise the base) until the margin stops improving, from business as usual
and from the separate plan, and keeps the better: it never returns a plan worse than either;
`media_only` keeps business as usual's promotions; `promotions_only` keeps its media; `separate`
optimises media ignoring promotions and promotions ignoring media (each tool run on its own) and
combines them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from .types import (
    BASE_COLUMNS,
    BUSINESS_AS_USUAL,
    MEDIA_COLUMNS,
    PLANNED,
    PROMOTION_COLUMNS,
    Plan,
    PlanRequest,
    Responses,
)

MODES = ("joint", "media_only", "promotions_only", "separate")
# A week's spend may reach this multiple of the pair's largest business-as-usual week.
WEEKLY_CAP_MULTIPLE = 3.0
# Coordinate-ascent rounds of the joint mode, and the relative margin gain that is "no gain".
JOINT_ROUNDS = 4
JOINT_TOLERANCE = 1e-6
# Forward-difference step of the media gradient, in units of the pair's scale (its largest week).
GRADIENT_STEP = 1e-4
# ftol is on the media margin divided by the budget: 1e-5 stops when an iteration gains less
# than a hundred-thousandth of the budget (each iteration costs channels x weeks evaluations).
SLSQP_OPTIONS = {"maxiter": 100, "ftol": 1e-5}
INTERVAL_SUFFIXES = ("_lower", "_upper")
PROMOTION_KEY = ["sku", "store_id", "week_start", "discount_pct", "duration_days", "promo_type"]
_ORIGIN_ORDER = {PLANNED: 0, BUSINESS_AS_USUAL: 1}  # candidates ("recommended") after these


@dataclass
class PlanOutcome:
    """What a plan yields under some responses: store x week detail and the quarter's totals.

    `weekly`: store_id, country, week_start, units, revenue, gross_margin (+ their _lower/_upper
    when the base has an interval), base_units, base_revenue (+ _lower/_upper), base_gross_margin, promo_units,
    promo_revenue, promo_gross_margin, promotions (count starting that week), uplift.
    `promotion_lines`: the promotions inside the plan's store x weeks with their increments and
    expected_incremental_revenue / expected_incremental_margin (after media and their cost).
    `margin_lower`/`margin_upper` (and revenue's): the totals with the base at the ends of its
    interval (None without one).
    """

    weekly: pd.DataFrame
    revenue: float
    gross_margin: float
    media_spend: float
    promo_cost: float
    margin: float
    revenue_lower: float | None = None
    revenue_upper: float | None = None
    margin_lower: float | None = None
    margin_upper: float | None = None
    promotion_lines: pd.DataFrame = field(default_factory=pd.DataFrame)


# --- evaluation -----------------------------------------------------------------------------

def evaluate_plan(responses: Responses, request: PlanRequest, plan: Plan,
                  base: pd.DataFrame | None = None) -> PlanOutcome:
    """The plan's sales and margin under `responses`, by the formula in types.py.

    `base`: responses.base(request) when already at hand (comparing plans needs it once).
    """
    base = normalise_base(responses.base(request) if base is None else base, request)
    promotions = plan_promotions(plan.promotions, request)
    increments = measured_increments(responses, promotions)
    uplift = uplift_frame(responses, plan_media(plan.media, request))
    return outcome_from_parts(base, increments, uplift, float(plan_media(plan.media, request)
                                                              ["spend"].sum()))


def outcome_from_parts(base: pd.DataFrame, increments: pd.DataFrame, uplift: pd.DataFrame,
                       media_spend: float) -> PlanOutcome:
    """Combine base, promotion increments (one row per promotion) and uplift once."""
    weekly = base.copy()
    per_week = (increments.groupby(["store_id", "week_start"], as_index=False)
                .agg(promo_units=("incremental_units", "sum"),
                     promo_revenue=("incremental_revenue", "sum"),
                     promo_gross_margin=("incremental_gross_margin", "sum"),
                     promotions=("sku", "size")))
    weekly = weekly.merge(per_week, on=["store_id", "week_start"], how="left")
    weekly = weekly.merge(uplift, on=["country", "week_start"], how="left")
    for name in ("promo_units", "promo_revenue", "promo_gross_margin", "promotions", "uplift"):
        weekly[name] = weekly[name].fillna(0.0)
    weekly["promotions"] = weekly["promotions"].astype(int)
    lift = 1.0 + weekly["uplift"]
    weekly["base_units"] = weekly["units"]
    weekly["base_revenue"] = weekly["revenue"]
    weekly["base_gross_margin"] = weekly["gross_margin"]
    for suffix in INTERVAL_SUFFIXES:
        if f"revenue{suffix}" in weekly:
            weekly[f"base_revenue{suffix}"] = weekly[f"revenue{suffix}"]
    for measure in ("units", "revenue", "gross_margin"):
        added = weekly[f"promo_{measure}"]
        for suffix in ("", *INTERVAL_SUFFIXES):
            if f"{measure}{suffix}" in weekly:
                weekly[f"{measure}{suffix}"] = (weekly[f"{measure}{suffix}"] + added) * lift
    # Promotions outside the base's store x weeks are not part of the plan's quarter.
    inside = increments.merge(base[["store_id", "country", "week_start"]],
                              on=["store_id", "week_start"])
    inside = inside.merge(uplift, on=["country", "week_start"], how="left")
    inside["uplift"] = inside["uplift"].fillna(0.0)
    inside["expected_incremental_revenue"] = inside["incremental_revenue"] * (1 + inside["uplift"])
    inside["expected_incremental_margin"] = (inside["incremental_gross_margin"]
                                             * (1 + inside["uplift"]) - inside["cost"])
    promo_cost = float(inside["cost"].sum())
    gross_margin = float(weekly["gross_margin"].sum())
    outcome = PlanOutcome(
        weekly=weekly.sort_values(["store_id", "week_start"]).reset_index(drop=True),
        revenue=float(weekly["revenue"].sum()), gross_margin=gross_margin,
        media_spend=media_spend, promo_cost=promo_cost,
        margin=gross_margin - media_spend - promo_cost, promotion_lines=inside)
    if "revenue_lower" in weekly:
        costs = media_spend + promo_cost
        outcome.revenue_lower = float(weekly["revenue_lower"].sum())
        outcome.revenue_upper = float(weekly["revenue_upper"].sum())
        outcome.margin_lower = float(weekly["gross_margin_lower"].sum()) - costs
        outcome.margin_upper = float(weekly["gross_margin_upper"].sum()) - costs
    return outcome


def normalise_base(base: pd.DataFrame, request: PlanRequest) -> pd.DataFrame:
    """The base of the request's weeks, week_start as Timestamps; gross margin's interval
    follows revenue's (the same margin rate at the ends of the revenue interval)."""
    missing = [c for c in BASE_COLUMNS if c not in base]
    if missing:
        raise ValueError(f"the base frame lacks {', '.join(missing)}: a Responses.base must "
                         f"return {', '.join(BASE_COLUMNS)}")
    base = base.copy()
    base["week_start"] = pd.to_datetime(base["week_start"])
    base = base[base["week_start"].isin(request.week_starts)].reset_index(drop=True)
    if {"revenue_lower", "revenue_upper"} <= set(base):
        rate = (base["gross_margin"] / base["revenue"]).where(base["revenue"] > 0, 0.0)
        for suffix in INTERVAL_SUFFIXES:
            base[f"gross_margin{suffix}"] = base[f"revenue{suffix}"] * rate
    return base


def plan_media(media: pd.DataFrame, request: PlanRequest) -> pd.DataFrame:
    """MEDIA_COLUMNS of the request's weeks, week_start as Timestamps."""
    media = _frame(media, MEDIA_COLUMNS)
    return media[media["week_start"].isin(request.week_starts)].reset_index(drop=True)


def plan_promotions(promotions: pd.DataFrame, request: PlanRequest) -> pd.DataFrame:
    """The promotions (PROMOTION_COLUMNS, + category if known) of the request's weeks."""
    promotions = _frame(promotions, PROMOTION_COLUMNS, optional=("category", "start_date"))
    return promotions[promotions["week_start"].isin(request.week_starts)].reset_index(drop=True)


def measured_increments(responses: Responses, promotions: pd.DataFrame) -> pd.DataFrame:
    """The promotions with their increments (one row per promotion, in the given order)."""
    if promotions.empty:
        return promotions.assign(incremental_units=[], incremental_revenue=[],
                                 incremental_gross_margin=[], cost=[])
    asked = [*PROMOTION_COLUMNS, *(["start_date"] if "start_date" in promotions else [])]
    measured = responses.promotion_increments(promotions[asked])
    measured = measured.copy()
    measured["week_start"] = pd.to_datetime(measured["week_start"])
    values = ["incremental_units", "incremental_revenue", "incremental_gross_margin", "cost"]
    measured = measured[PROMOTION_KEY + values].drop_duplicates(PROMOTION_KEY)
    out = promotions.merge(measured, on=PROMOTION_KEY, how="left")
    out[values] = out[values].fillna(0.0)
    return out


def uplift_frame(responses: Responses, media: pd.DataFrame) -> pd.DataFrame:
    """country, week_start, uplift of the media (none without spend)."""
    if media.empty:
        return pd.DataFrame({"country": pd.Series(dtype=object),
                             "week_start": pd.Series(dtype="datetime64[ns]"),
                             "uplift": pd.Series(dtype=float)})
    uplift = responses.media_uplift(media[list(MEDIA_COLUMNS)]).copy()
    uplift["week_start"] = pd.to_datetime(uplift["week_start"])
    return uplift.groupby(["country", "week_start"], as_index=False)["uplift"].sum()


def _frame(frame: pd.DataFrame | None, columns: tuple[str, ...],
           optional: tuple[str, ...] = ()) -> pd.DataFrame:
    if frame is None or frame.empty:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        empty["week_start"] = pd.Series(dtype="datetime64[ns]")
        return empty
    missing = [c for c in columns if c not in frame]
    if missing:
        raise ValueError(f"a plan frame lacks {', '.join(missing)}: expected {', '.join(columns)}")
    out = frame[[*columns, *(c for c in optional if c in frame)]].copy()
    out["week_start"] = pd.to_datetime(out["week_start"])
    return out


# --- the optimiser --------------------------------------------------------------------------

def optimise_plan(responses: Responses, request: PlanRequest, bau: Plan,
                  candidates: pd.DataFrame, mode: str = "joint",
                  log: Callable[[str], None] | None = None) -> Plan:
    """The plan of `mode` (see the module docstring) for the request's weeks."""
    if mode not in MODES:
        raise ValueError(f"unknown plan mode {mode!r}: use one of {', '.join(MODES)}")
    problem = PlanProblem(responses, request, bau, candidates)
    say = log or (lambda _msg: None)
    if mode == "joint":
        media, chosen, notes = problem.joint(say)
    elif mode == "media_only":
        chosen = problem.bau_promotions
        media = problem.optimise_media(problem.promotion_weights(chosen), problem.reference)
        notes = ["media optimised given business as usual's promotions"]
    elif mode == "promotions_only":
        media = problem.reference
        chosen = problem.choose_promotions(problem.uplift_matrix(media))
        notes = ["promotions chosen given business as usual's media"]
    else:
        media, chosen = problem.separate()
        notes = ["media optimised ignoring promotions; promotions chosen ignoring media"]
    notes = [f"mode {mode}", *problem.notes, *notes,
             f"{problem.uplift_calls} media uplift evaluations",
             f"weekly spend capped at {WEEKLY_CAP_MULTIPLE:g}x each channel's largest "
             "business-as-usual week"]
    return Plan(media=problem.media_frame(media), promotions=problem.promotion_frame(chosen),
                notes=notes)


class PlanProblem:
    """One request's optimisation: the base, the media variables and the promotion pool.

    Media is a matrix (pair, week) of spend, a pair being a country x channel with business-as-
    usual spend; W (country, week) is the gross margin media multiplies.
    """

    def __init__(self, responses: Responses, request: PlanRequest, bau: Plan,
                 candidates: pd.DataFrame) -> None:
        self.responses = responses
        self.request = request
        self.notes: list[str] = []
        self.uplift_calls = 0
        self.weeks = request.week_starts
        self._week_index = {week: i for i, week in enumerate(self.weeks)}
        self._independent: bool | None = None  # see _countries_independent
        self.base = normalise_base(responses.base(request), request)
        media_countries = set() if bau.media.empty else set(bau.media["country"])
        self.countries = sorted(set(self.base["country"]) | media_countries)
        self._country_index = {c: i for i, c in enumerate(self.countries)}
        self.base_weights = self._country_week_sum(self.base, "gross_margin")
        self._setup_media(plan_media(bau.media, request))
        self._setup_promotions(plan_promotions(bau.promotions, request), candidates)

    # -- media ---------------------------------------------------------------------------------

    def _setup_media(self, bau_media: pd.DataFrame) -> None:
        spend = (bau_media.groupby(["country", "channel", "week_start"])["spend"].sum()
                 .unstack("week_start").reindex(columns=self.weeks).fillna(0.0))
        spend = spend[spend.sum(axis=1) > 0].sort_index()
        self.pairs = list(spend.index)  # (country, channel)
        bau = spend.to_numpy(dtype=float)
        bau_total = float(bau.sum())
        budget = self.request.media_budget
        if budget is not None and budget < 0:
            raise ValueError(f"the media budget {budget:g} is negative: give a total >= 0")
        if budget is not None and bau_total == 0 and budget > 0:
            raise ValueError("business as usual has no media spend in these weeks to shape a "
                             "budget on: plan without --media-budget")
        low, high = self.request.media_bounds
        if not -1.0 <= low <= 0.0 <= high:
            raise ValueError(f"media bounds {low:+g}/{high:+g} must satisfy -1 <= lower <= 0 "
                             "<= upper (relative to business as usual)")
        scale = budget / bau_total if budget is not None and bau_total else 1.0
        self.budget = bau_total * scale
        self.reference = bau * scale  # business as usual's pattern at the plan's budget
        totals = self.reference.sum(axis=1)
        self.pair_lower, self.pair_upper = (1 + low) * totals, (1 + high) * totals
        largest = self.reference.max(axis=1) if len(self.pairs) else np.zeros(0)
        self.week_cap = np.maximum(WEEKLY_CAP_MULTIPLE * largest,
                                   self.pair_upper / max(len(self.weeks), 1))
        self.pair_country = np.array([self._country_index[c] for c, _ in self.pairs], dtype=int)
        # Responses that offer it answer the optimiser in numpy, with an exact gradient.
        make_evaluator = getattr(self.responses, "media_evaluator", None)
        self._evaluator = (make_evaluator(self.pairs, self.countries)
                           if make_evaluator is not None and self.pairs else None)
        self._setup_ties()
        n_weeks = len(self.weeks)
        self._media_template = pd.DataFrame({
            "country": np.repeat([c for c, _ in self.pairs], n_weeks),
            "channel": np.repeat([ch for _, ch in self.pairs], n_weeks),
            "week_start": np.tile(self.weeks.to_numpy(), len(self.pairs)),
            "spend": 0.0,
        })
        if budget is not None:
            self.notes.append(f"media budget {self.budget:,.0f} (business as usual "
                              f"{bau_total:,.0f}); channel bounds around its share of it")

    def _setup_ties(self) -> None:
        """The optimiser's media variables: one per pair and week, except that the pairs of a
        channel whose countries share one whole-business mix model are one variable per week,
        split between those countries by their business-as-usual share of the channel's
        quarter. That model sees their spend summed: it knows when a channel's money works, not
        in which country, so a plan that moved money between them would follow nothing it
        knows (on the synthetic world such moves cost more than the rest of the plan gained).
        The split keeps each pair within its bounds exactly when its channel's total is."""
        n_pairs = len(self.pairs)
        self.tie_group = np.arange(n_pairs)
        self.tie_share = np.ones(n_pairs)
        shared = getattr(self.responses, "countries_sharing_a_model", None)
        # Ties need the exact gradient; a black-box response is differenced pair by pair.
        if shared is None or self._evaluator is None or not n_pairs:
            return
        model_of = {c: i for i, group in enumerate(shared()) for c in group}
        keys: dict[tuple, int] = {}
        for p, (country, channel) in enumerate(self.pairs):
            key = ("shared", model_of[country], channel) if country in model_of else (
                "own", country, channel)
            self.tie_group[p] = keys.setdefault(key, len(keys))
        if len(keys) == n_pairs:
            return
        totals = self.reference.sum(axis=1)
        group_totals = np.bincount(self.tie_group, totals, minlength=len(keys))[self.tie_group]
        sizes = np.bincount(self.tie_group, minlength=len(keys))[self.tie_group]
        self.tie_share = np.where(group_totals > 0, totals / np.where(group_totals > 0,
                                                                      group_totals, 1.0),
                                  1.0 / sizes)
        self.notes.append("media: countries that share a whole-business mix model keep their "
                          "business-as-usual share of each channel's quarter; the plan moves "
                          "each channel's money between weeks, not between those countries")

    def media_frame(self, spend: np.ndarray) -> pd.DataFrame:
        """MEDIA_COLUMNS of a (pair, week) spend matrix."""
        if not self.pairs:
            return _frame(None, MEDIA_COLUMNS)
        frame = self._media_template.copy()  # built once: this runs thousands of times
        frame["spend"] = np.asarray(spend, dtype=float).ravel()
        return frame

    def uplift_matrix(self, spend: np.ndarray) -> np.ndarray:
        """(country, week) uplift of a (pair, week) spend matrix."""
        out = np.zeros((len(self.countries), len(self.weeks)))
        if not self.pairs:
            return out
        self.uplift_calls += 1
        if self._evaluator is not None:
            return self._evaluator.uplift(np.asarray(spend, dtype=float))
        uplift = self.responses.media_uplift(self.media_frame(spend))
        # Plain lookups: this runs thousands of times per plan, on a few dozen rows.
        rows = np.array([self._country_index.get(c, -1) for c in uplift["country"]], dtype=int)
        cols = np.array([self._week_index.get(w, -1)
                         for w in pd.to_datetime(uplift["week_start"])], dtype=int)
        keep = (rows >= 0) & (cols >= 0)
        np.add.at(out, (rows[keep], cols[keep]), uplift["uplift"].to_numpy(dtype=float)[keep])
        return out

    def optimise_media(self, promotion_weights: np.ndarray, start: np.ndarray) -> np.ndarray:
        """The spend matrix maximising sum W x (1 + U) - spend, W = base + promotion margin.

        Starts from `start` (feasible) and never returns a worse matrix than it.
        """
        if not self.pairs or self.budget <= 0:
            return start
        weights = self.base_weights + promotion_weights
        n_weeks = start.shape[1]
        group, share = self.tie_group, self.tie_share  # variables: see _setup_ties
        n_vars = int(group.max()) + 1
        cap = np.full(n_vars, np.inf)
        np.minimum.at(cap, group, self.week_cap / share)
        lower = np.bincount(group, self.pair_lower, minlength=n_vars)
        upper = np.bincount(group, self.pair_upper, minlength=n_vars)
        unit = np.maximum(cap, 1e-12)  # each variable in units of its cap
        flat_unit = np.repeat(unit, n_weeks)
        norm = max(self.budget, 1.0)

        def spend_of(x: np.ndarray) -> np.ndarray:
            """The (pair, week) spend matrix of the variables."""
            return (x.reshape(n_vars, n_weeks) * unit[:, None])[group] * share[:, None]

        def country_values(x: np.ndarray) -> np.ndarray:
            """Each country's media margin: sum over weeks W x U - its spend."""
            return self._country_media_values(spend_of(x), weights)

        def exact(x: np.ndarray) -> tuple[float, np.ndarray]:
            spend = spend_of(x)
            value = (weights * self.uplift_matrix(spend)).sum() - spend.sum()
            per_pair = (self._evaluator.gradient(spend, weights) - 1.0) * share[:, None]
            grad = np.zeros((n_vars, n_weeks))
            np.add.at(grad, group, per_pair)
            return -value / norm, -(grad * unit[:, None]).ravel() / norm

        def differenced(x: np.ndarray) -> tuple[float, np.ndarray]:
            here = country_values(x)
            grad = np.zeros_like(x)
            for idx, countries in groups:
                moved = x.copy()
                moved[idx] += GRADIENT_STEP
                change = country_values(moved) - here
                # One variable per step when countries share a response: all of it is its.
                grad[idx] = (change[countries] if independent else change.sum()) / GRADIENT_STEP
            return -here.sum() / norm, -grad / norm

        if self._evaluator is not None:
            objective = exact
        else:
            independent = self._countries_independent(start)
            groups = self._gradient_groups(n_weeks, independent)
            objective = differenced
        tied_start = np.zeros((n_vars, n_weeks))
        np.add.at(tied_start, group, start)
        x0 = np.minimum(tied_start, cap[:, None]).ravel() / flat_unit
        totals = np.kron(np.eye(n_vars), np.ones(n_weeks)) * flat_unit
        budget_row = flat_unit / self.budget
        constraints = [
            {"type": "eq", "fun": lambda x: np.array([budget_row @ x - 1.0]),
             "jac": lambda x: budget_row[None, :]},
            {"type": "ineq", "fun": lambda x: np.concatenate([
                (totals @ x - lower) / self.budget,
                (upper - totals @ x) / self.budget]),
             "jac": lambda x: np.vstack([totals, -totals]) / self.budget},
        ]
        # One BLAS thread: SLSQP's matrices are a few hundred wide, and on shared cores an
        # OpenBLAS team waiting for its threads stalled it for seconds per iteration.
        with threadpool_limits(limits=1, user_api="blas"):
            result = minimize(objective, x0, jac=True, method="SLSQP",
                              bounds=[(0.0, 1.0)] * x0.size, constraints=constraints,
                              options=SLSQP_OPTIONS)
        found = self._feasible(result.x.reshape(n_vars, n_weeks) * unit[:, None], cap,
                               lower, upper)
        if found is None:
            return start
        found = found[group] * share[:, None]
        if (self._country_media_values(found, weights).sum()
                <= self._country_media_values(start, weights).sum()):
            return start
        return found

    def _country_media_values(self, spend: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Each country's media margin of a (pair, week) spend: sum over weeks W x U - its
        spend."""
        own_spend = np.bincount(self.pair_country, spend.sum(axis=1),
                                minlength=len(self.countries))
        return (weights * self.uplift_matrix(spend)).sum(axis=1) - own_spend

    def _countries_independent(self, spend: np.ndarray) -> bool:
        """Whether a country's uplift depends only on its own spend (one mix model per
        country), checked once: more spend in one country must leave the others' unchanged."""
        if self._independent is None:
            if len(self.countries) < 2:
                self._independent = True
            else:
                first = self.pair_country == self.pair_country[0]
                moved = spend.copy()
                moved[first] = moved[first] * 1.5 + 1.0
                change = np.abs(self.uplift_matrix(moved) - self.uplift_matrix(spend))
                others = np.arange(len(self.countries)) != self.pair_country[0]
                self._independent = bool(change[others].max() <= 1e-12)
                if not self._independent:
                    self.notes.append("media: one country's spend moves another's uplift, so "
                                      "each spend cell is differenced on its own (slower)")
        return self._independent

    def _gradient_groups(self, n_weeks: int, independent: bool = True
                         ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Variables one forward difference can move together: one channel-week per country
        when countries are independent, else one variable; as (flat indices, countries)."""
        if not independent:
            return [(np.array([i]), self.pair_country[[i // n_weeks]])
                    for i in range(len(self.pairs) * n_weeks)]
        position = np.zeros(len(self.pairs), dtype=int)
        seen: dict[int, int] = {}
        for p, country in enumerate(self.pair_country):
            position[p] = seen.get(int(country), 0)
            seen[int(country)] = position[p] + 1
        groups = []
        for slot in range(int(position.max()) + 1):
            pairs = np.flatnonzero(position == slot)
            for week in range(n_weeks):
                groups.append((pairs * n_weeks + week, self.pair_country[pairs]))
        return groups

    def promotion_weights(self, chosen: pd.DataFrame) -> np.ndarray:
        """(country, week) incremental gross margin of chosen promotions."""
        return self._country_week_sum(chosen, "incremental_gross_margin")

    # -- promotions ----------------------------------------------------------------------------

    def _setup_promotions(self, bau_promotions: pd.DataFrame, candidates: pd.DataFrame) -> None:
        candidates = plan_promotions(candidates, self.request)
        pool = pd.concat([bau_promotions, candidates], ignore_index=True)
        if "category" not in pool:  # no promotion of known category (or none at all)
            pool["category"] = pd.Series(dtype=object)
        categories = pool.dropna(subset=["category"])
        category_of = dict(zip(categories["sku"], categories["category"], strict=False))
        pool["category"] = pool["sku"].map(category_of)
        pool["category"] = pool["category"].where(pool["category"].notna(), "sku:" + pool["sku"])
        pool["rank"] = pool["origin"].map(_ORIGIN_ORDER).fillna(2)
        pool = (pool.sort_values(["rank", *PROMOTION_KEY], kind="stable")
                .drop_duplicates(PROMOTION_KEY).drop(columns="rank").reset_index(drop=True))
        stores = self.base[["store_id", "country"]].drop_duplicates("store_id")
        pool = pool.merge(stores, on="store_id", how="left")
        unknown = pool["country"].isna() & (pool["origin"] != PLANNED)
        if unknown.any():
            self.notes.append(f"{int(unknown.sum())} candidate promotion(s) in stores without a "
                              "base left out")
            pool = pool[~unknown].reset_index(drop=True)
        self.pool = measured_increments(self.responses, pool)
        self.pool["week"] = pd.Categorical(self.pool["week_start"], categories=self.weeks).codes
        self.pool["country_code"] = self.pool["country"].map(self._country_index).fillna(-1)
        self.pool["country_code"] = self.pool["country_code"].astype(int)
        self.pool["first_day"] = (self.pool["week_start"] - pd.Timestamp(self.request.start)).dt.days
        is_bau = self.pool.set_index(PROMOTION_KEY).index.isin(
            bau_promotions.set_index(PROMOTION_KEY).index)
        self.bau_promotions = self.pool[is_bau].reset_index(drop=True)
        self._note_overlapping_planned()

    def _note_overlapping_planned(self) -> None:
        busy: dict[tuple[str, str], int] = {}
        clashes = 0
        for row in self.pool[self.pool["origin"] == PLANNED].itertuples(index=False):
            clashes += not self._occupy(busy, row, only_if_free=True)
            self._occupy(busy, row)
        if clashes:
            self.notes.append(f"{clashes} planned promotion(s) overlap a sibling on the "
                              "delivered calendar: kept as planned")

    def choose_promotions(self, uplift: np.ndarray) -> pd.DataFrame:
        """Planned promotions, then the best non-overlapping candidates that add margin."""
        pool = self.pool
        known = (pool["week"] >= 0) & (pool["country_code"] >= 0)
        lift = np.zeros(len(pool))
        lift[known.to_numpy()] = uplift[pool.loc[known, "country_code"], pool.loc[known, "week"]]
        value = pool["incremental_gross_margin"].to_numpy() * (1 + lift) - pool["cost"].to_numpy()
        pool = pool.assign(value=value)
        planned = pool[pool["origin"] == PLANNED]
        floor = self.request.promo_margin_floor
        good = pool["value"] >= floor if floor is not None else pool["value"] > 0
        offered = pool[(pool["origin"] != PLANNED) & good & known]
        offered = offered.sort_values(["value", *PROMOTION_KEY],
                                      ascending=[False] + [True] * len(PROMOTION_KEY),
                                      kind="stable")
        busy: dict[tuple[str, str], int] = {}
        for row in planned.itertuples(index=False):
            self._occupy(busy, row)
        taken = [i for i, row in zip(offered.index, offered.itertuples(index=False), strict=True)
                 if self._occupy(busy, row, only_if_free=True)]
        return pd.concat([planned, offered.loc[taken]]).drop(columns="value")

    @staticmethod
    def _occupy(busy: dict, row, only_if_free: bool = False) -> bool:
        """Mark the promotion's days in its store's category and SKU; False if taken."""
        days = ((1 << max(int(row.duration_days), 1)) - 1) << (int(row.first_day) + 400)
        keys = ((row.store_id, "category", row.category), (row.store_id, "sku", row.sku))
        if only_if_free and any(busy.get(key, 0) & days for key in keys):
            return False
        for key in keys:
            busy[key] = busy.get(key, 0) | days
        return True

    def promotion_frame(self, chosen: pd.DataFrame) -> pd.DataFrame:
        # A delivered or repeated promotion keeps its real start day,
        # so the plan says what will run, not its Monday approximation (the responses read it too).
        columns = [*PROMOTION_COLUMNS, "category", *(["start_date"] if "start_date" in chosen
                                                      else [])]
        return chosen[columns].sort_values(PROMOTION_KEY).reset_index(drop=True)

    # -- joint ---------------------------------------------------------------------------------

    def margin(self, spend: np.ndarray, chosen: pd.DataFrame) -> float:
        """The plan's margin: sum W x (1 + U) - spend - promotion costs."""
        weights = self.base_weights + self.promotion_weights(chosen)
        uplift = self.uplift_matrix(spend)
        return float((weights * (1 + uplift)).sum() - spend.sum() - chosen["cost"].sum())

    def separate(self) -> tuple[np.ndarray, pd.DataFrame]:
        """Media optimised ignoring promotions, promotions chosen ignoring media."""
        media = self.optimise_media(np.zeros_like(self.base_weights), self.reference)
        return media, self.choose_promotions(np.zeros_like(self.base_weights))

    def joint(self, say: Callable[[str], None]) -> tuple[np.ndarray, pd.DataFrame, list[str]]:
        """Coordinate ascent from business as usual and from the separate plan; the best plan
        seen. Two starts, because each ascent stops at the first plan it cannot improve, and
        the separate plan is the one a joint plan must beat."""
        reference_margin = self.margin(self.reference, self.bau_promotions)
        best, best_margin, notes = None, -np.inf, []
        for name, start in (("business as usual", (self.reference, self.bau_promotions)),
                            ("the separate plan", self.separate())):
            plan, margin, rounds = self._ascend(*start, say)
            notes.append(f"joint from {name}: {rounds} round(s), margin "
                         f"{margin - reference_margin:+,.0f} against business as usual")
            if margin > best_margin:
                best, best_margin = plan, margin
        return best[0], best[1], notes

    def _ascend(self, spend: np.ndarray, chosen: pd.DataFrame, say: Callable[[str], None]
                ) -> tuple[tuple[np.ndarray, pd.DataFrame], float, int]:
        """Promotions given media, media given promotions, until the promotions repeat or the
        margin stops improving; the best plan seen (the start included), its margin, rounds."""
        best, best_margin = (spend, chosen), self.margin(spend, chosen)
        rounds, previous = 0, None
        for rounds in range(1, JOINT_ROUNDS + 1):
            chosen = self.choose_promotions(self.uplift_matrix(spend))
            keys = set(map(tuple, chosen[PROMOTION_KEY].astype(str).to_numpy()))
            if keys == previous:
                break  # the same promotions: the media already optimised for them stands
            previous = keys
            spend = self.optimise_media(self.promotion_weights(chosen), spend)
            margin = self.margin(spend, chosen)
            say(f"joint round {rounds}: margin {margin:,.0f} ({len(chosen)} promotions)")
            gained = margin - best_margin
            if gained > 0:
                best, best_margin = (spend, chosen), margin
            if gained <= JOINT_TOLERANCE * max(abs(best_margin), 1.0):
                break
        return best, best_margin, rounds

    # -- helpers -------------------------------------------------------------------------------

    def _country_week_sum(self, frame: pd.DataFrame, column: str) -> np.ndarray:
        out = np.zeros((len(self.countries), len(self.weeks)))
        if frame.empty:
            return out
        rows = pd.Categorical(frame["country"], categories=self.countries).codes
        cols = pd.Categorical(pd.to_datetime(frame["week_start"]), categories=self.weeks).codes
        keep = (rows >= 0) & (cols >= 0)
        np.add.at(out, (rows[keep], cols[keep]), frame[column].to_numpy(dtype=float)[keep])
        return out

    def _feasible(self, spend: np.ndarray, week_cap: np.ndarray, lower: np.ndarray,
                  upper: np.ndarray) -> np.ndarray | None:
        """The solver's (variable, week) matrix with its rounding removed, or None if it cannot
        be repaired.

        SLSQP keeps linear constraints only to its tolerance: totals are moved into their
        bounds (`lower`, `upper`), then the budget gap is spread over the variables with room,
        a few times over.
        """
        cap = week_cap[:, None]
        tolerance = 1e-6 * max(self.budget, 1.0)
        for _ in range(10):
            spend = np.clip(spend, 0.0, cap)
            totals = spend.sum(axis=1)
            spend = _shift(spend, np.maximum(lower - totals, 0.0), cap)
            spend = _shift(spend, -np.maximum(totals - upper, 0.0), cap)
            totals = spend.sum(axis=1)
            gap = self.budget - totals.sum()
            room = (np.minimum(upper - totals, (cap - spend).sum(axis=1)) if gap > 0
                    else totals - lower)
            room = np.maximum(room, 0.0)
            if abs(gap) > tolerance and room.sum() > 0:
                spend = _shift(spend, gap * room / room.sum(), cap)
            totals = spend.sum(axis=1)
            if (abs(totals.sum() - self.budget) <= tolerance
                    and (totals >= lower - tolerance).all()
                    and (totals <= upper + tolerance).all()
                    and (spend >= 0).all() and (spend <= cap + tolerance).all()):
                return spend
        self.notes.append("media: the solver's answer could not be brought within the bounds; "
                          "its start was kept")
        return None


def _shift(spend: np.ndarray, change: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Each pair's total moved by `change`: up into its weeks' room under the cap, down in
    proportion to its weeks' spend."""
    room = np.where(change[:, None] > 0, cap - spend, spend)
    share = room / np.maximum(room.sum(axis=1, keepdims=True), 1e-300)
    return np.clip(spend + change[:, None] * share, 0.0, cap)


def plan_digest(*parts: object) -> str:
    """A short stable hash of the parts' text (plan ids)."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:10]
