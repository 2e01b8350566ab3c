"""A quarter plan under the synthetic world's true response: the oracle the planner is judged by.

Two independent ways to the same truth, both noise-free expected values (no Poisson demand, no
store-day shock, no stock simulation):

- `TrueResponses` answers the planner's `Responses` protocol in closed form from arrays cached
  per world: `base` is organic demand B (no media, no promotion; closed stores sell nothing),
  `media_uplift` is the country's media multiplier M from the plan's spend through each
  channel's true adstock (carried over from the world's own spend before the plan) and Hill x
  beta, over the country's organic list revenue of the week, as the world builds M; and
  `promotion_increments` is each candidate on its own on B: lift, dip and cannibalised
  siblings at the world's expectation of a promotion's random parts (see below).
- `simulate_plan` re-runs the synth's own code (`organic_units`, `geometric_adstock`, `hill`,
  `promo_effects`) with the plan's spend and promotions in place of the world's, so it checks
  the factorisation sales = (base + increments) x (1 + uplift) the planner relies on.

A promotion's random parts as executed (promos.make_promotions) enter at their expectation:
with NO_EFFECT_SHARE it moves nothing (still sold at its price); otherwise its lift is
true_lift x lognormal(0, LIFT_NOISE_SD), its dip share and (for one SKU) cannibalisation share
are uniform over their ranges. The dip and cannibalisation are capped per day, so their
expectation is integrated (exactly over the uniform shares, Gauss-Hermite over the lift) rather
than taken at the mean. Understocking changes no demand: it only loses sales to empty shelves,
which expected demand leaves out (in the world, understocked promotions lose about a quarter of
their extra units; 12% of promotions are understocked).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

import numpy as np
import pandas as pd

from liftline.plan import (
    BASE_COLUMNS,
    INCREMENT_COLUMNS,
    MEDIA_COLUMNS,
    PLANNED,
    PROMOTION_COLUMNS,
    RECOMMENDED,
    UPLIFT_COLUMNS,
    Plan,
    PlanRequest,
)
from liftline.synth.config import (
    CANNIB_SHARE_RANGE,
    DIP_DAYS,
    DIP_SHARE_RANGE,
    EPOCH,
    LIFT_NOISE_SD,
    NO_EFFECT_SHARE,
    PROMO_TYPE_WEIGHTS,
    PROMO_TYPES,
    SCALES,
    SCENARIOS,
)
from liftline.synth.demand import (
    CANNIB_CAP,
    DIP_CAP,
    PRICE_PROMO_TYPES,
    DemandContext,
    organic_list_revenue,
    organic_units,
    promo_effects,
    store_chunks,
)
from liftline.synth.generate import World, build_world
from liftline.synth.media import geometric_adstock, hill
from liftline.synth.promos import (
    covered_skus,
    covered_stores,
    dip_profile,
    promotion_cost,
    true_lift,
)

LIFT_NODES = 24  # Gauss-Hermite nodes over the lift's lognormal noise (closed form)
SIMULATION_LIFT_NODES = 7  # ... and in simulate_plan, which runs the synth once per node pair
SIMULATION_SHARE_NODES = 4  # Gauss-Legendre nodes over the dip and cannibalisation shares


# promotion_increments' columns beyond INCREMENT_COLUMNS: incremental = lift - dip - cannibalised.
COMPONENT_COLUMNS = ("lift_units", "dip_units", "cannibalised_units")


class PlanTruthError(ValueError):
    """A plan or request the world cannot simulate; the message says what to change."""


@lru_cache(maxsize=2)
def world_for(scale: str = "small", seed: int = 42, scenario: str = "standard") -> World:
    """The world of (scale, seed, scenario), built once per process (it is deterministic)."""
    if scale not in SCALES:
        raise PlanTruthError(f"unknown scale {scale!r}: choose {', '.join(SCALES)}")
    if scenario not in SCENARIOS:
        raise PlanTruthError(f"unknown scenario {scenario!r}: choose {', '.join(SCENARIOS)}")
    return build_world(SCALES[scale], seed, SCENARIOS[scenario])


# --- what depends only on the world ------------------------------------------------------------


@dataclass
class WorldTruth:
    world: World
    cum_units: np.ndarray  # (days + 1) x stores x skus: cumulative organic units B over days
    cum_category: np.ndarray  # (days + 1) x stores x categories x (units, revenue, margin)
    week_revenue: dict[str, np.ndarray]  # country -> organic list revenue per world week
    pairs: pd.DataFrame  # media params (country, channel, theta, alpha, gamma, beta) in order
    spend: np.ndarray  # pairs x weeks: the world's own weekly spend
    adstock: np.ndarray  # pairs x weeks: the world's adstock of that spend

    @property
    def stores(self) -> pd.DataFrame:
        return self.world.dims.stores

    @property
    def products(self) -> pd.DataFrame:
        return self.world.dims.products

    @property
    def n_days(self) -> int:
        return len(self.world.days)


@lru_cache(maxsize=2)
def world_truth(scale: str = "small", seed: int = 42, scenario: str = "standard") -> WorldTruth:
    world = world_for(scale, seed, scenario)
    stores, products = world.dims.stores, world.dims.products
    price = products.list_price.to_numpy()
    margin = price - products.unit_cost.to_numpy()
    cat_index = products.category_index.to_numpy()
    n_cats = int(cat_index.max()) + 1
    n_days = len(world.days)
    week_of_day = np.arange(n_days) // 7
    n_weeks = int(week_of_day[-1]) + 1

    cum_units = np.zeros((n_days + 1, len(stores), len(products)))
    by_category = np.zeros((n_days, len(stores), n_cats, 3))
    week_revenue = {c: np.zeros(n_weeks) for c in world.dims.countries}
    offset = 0
    for chunk in store_chunks(stores, world.scale.store_chunk):
        units = organic_units(world.ctx, chunk)  # days x chunk x skus
        sl = slice(offset, offset + len(chunk))
        cum_units[1:, sl] = np.cumsum(units, axis=0)
        for c in range(n_cats):
            in_cat = cat_index == c
            cat_units = units[:, :, in_cat]
            by_category[:, sl, c, 0] = cat_units.sum(axis=2)
            by_category[:, sl, c, 1] = cat_units @ price[in_cat]
            by_category[:, sl, c, 2] = cat_units @ margin[in_cat]
        revenue = units @ price  # days x chunk
        for j, country in enumerate(chunk.country):
            week_revenue[country] += np.bincount(week_of_day, weights=revenue[:, j],
                                                 minlength=n_weeks)
        offset += len(chunk)
    cum_category = np.concatenate([np.zeros((1,) + by_category.shape[1:]),
                                   np.cumsum(by_category, axis=0)])

    pairs = world.media.params[["country", "channel", "theta", "alpha", "gamma", "beta"]]
    weekly = world.media.weekly.set_index(["country", "channel"])
    spend = np.stack([weekly.loc[(p.country, p.channel), "spend"].to_numpy()
                      for p in pairs.itertuples()])
    adstock = np.stack([weekly.loc[(p.country, p.channel), "adstock"].to_numpy()
                        for p in pairs.itertuples()])
    return WorldTruth(world, cum_units, cum_category, week_revenue,
                      pairs.reset_index(drop=True), spend, adstock)


# --- the closed form ---------------------------------------------------------------------------


class TrueResponses:
    """The planner's `Responses` under the world's true response (expected values)."""

    def __init__(self, scale: str = "small", seed: int = 42, scenario: str = "standard",
                 known_costs: pd.DataFrame | None = None):
        """`known_costs`: promotion lines (PROMOTION_COLUMNS + cost) whose cost is known, e.g.
        business as usual's lines, each a share of its promotion's cost; a line asked about
        without a cost of its own takes the known one of the same terms."""
        self.truth = world_truth(scale, seed, scenario)
        self.scale, self.seed, self.scenario = scale, seed, scenario
        self.known_costs = known_costs

    def base(self, request: PlanRequest) -> pd.DataFrame:
        """Organic units per store x week of the request, revenue at list price, gross margin
        at the products' unit cost."""
        t = self.truth
        d0, _ = plan_days(t.world, request)
        bounds = d0 + 7 * np.arange(request.weeks + 1)
        units = t.cum_units[bounds[1:]] - t.cum_units[bounds[:-1]]  # weeks x stores x skus
        price = t.products.list_price.to_numpy()
        margin = price - t.products.unit_cost.to_numpy()
        n_st = len(t.stores)
        return pd.DataFrame({
            "store_id": np.tile(t.stores.store_id.to_numpy(), request.weeks),
            "country": np.tile(t.stores.country.to_numpy(), request.weeks),
            "week_start": np.repeat(request.week_starts, n_st),
            "units": units.sum(axis=2).ravel(),
            "revenue": (units @ price).ravel(),
            "gross_margin": (units @ margin).ravel(),
        })[list(BASE_COLUMNS)]

    def media_uplift(self, media: pd.DataFrame) -> pd.DataFrame:
        """M per country x week of the plan (from its first to its last week; a country x
        channel x week without a row spends nothing). M is one number per country and week in
        the world, so the base-weighted weekly average is M itself."""
        if media.empty:
            return pd.DataFrame(columns=list(UPLIFT_COLUMNS))
        t = self.truth
        w0, spend = plan_spend(t, media)
        n = spend.shape[1]
        carry = t.adstock[:, w0 - 1] if w0 > 0 else np.zeros(len(t.pairs))
        theta, beta = t.pairs.theta.to_numpy(), t.pairs.beta.to_numpy()
        alpha, gamma = t.pairs.alpha.to_numpy(), t.pairs.gamma.to_numpy()
        contribution = np.empty_like(spend)
        for k in range(n):
            carry = spend[:, k] + theta * carry
            contribution[:, k] = beta * hill_each(carry, alpha, gamma)
        countries = t.world.dims.countries
        weeks = pd.DatetimeIndex([week_start_of(w0 + k) for k in range(n)])
        rows = []
        for country in countries:
            mine = (t.pairs.country == country).to_numpy()
            revenue = t.week_revenue[country][w0 : w0 + n]
            uplift = contribution[mine].sum(axis=0) / np.maximum(revenue, 1e-9)
            rows.append(pd.DataFrame({"country": country, "week_start": weeks,
                                      "uplift": uplift}))
        return pd.concat(rows, ignore_index=True)[list(UPLIFT_COLUMNS)]

    def _with_known_costs(self, promotions: pd.DataFrame) -> pd.DataFrame:
        if self.known_costs is None or "cost" in promotions:
            return promotions
        key = [c for c in PROMOTION_COLUMNS if c != "origin"]
        known = self.known_costs.assign(week_start=pd.to_datetime(
            self.known_costs["week_start"]))[[*key, "cost"]].drop_duplicates(key)
        rows = promotions.reset_index(drop=True).assign(
            week_start=pd.to_datetime(promotions["week_start"]).to_numpy())
        return rows.merge(known, on=key, how="left")

    def promotion_increments(self, promotions: pd.DataFrame) -> pd.DataFrame:
        """Each candidate on its own on the base (no media): expected extra units over its
        window, less its dip and what its siblings in the store lose (COMPONENT_COLUMNS say
        how much each); `cost` see line_costs."""
        if promotions.empty:
            return pd.DataFrame(columns=[*INCREMENT_COLUMNS, *COMPONENT_COLUMNS])
        t = self.truth
        rows = resolve_promotions(t.world, promotions)
        effects = expected_effects(rows, t)
        s, k, t0, t1 = (rows[c].to_numpy() for c in ("s", "k", "t0", "t1"))
        t1c = np.minimum(t1, t.n_days)
        own = t.cum_units[t1c, s, k] - t.cum_units[t0, s, k]
        cat = rows.c.to_numpy()
        category = t.cum_category[t1c, s, cat] - t.cum_category[t0, s, cat]  # rows x 3
        price, cost = rows.price.to_numpy(), rows.unit_cost.to_numpy()
        promo_price = rows.promo_price.to_numpy()
        lift = effects["lift"]
        units = own * lift
        revenue = own * ((1 + lift) * promo_price - price)
        margin = own * ((1 + lift) * (promo_price - cost) - (price - cost))
        # Dip: day i after the window gives back E[frac_i] of that day's units.
        dip_units = np.zeros(len(rows))
        for i in range(DIP_DAYS):
            day = t1 + i
            inside = day < t.n_days
            d = np.minimum(day, t.n_days - 1)
            b = np.where(inside, t.cum_units[d + 1, s, k] - t.cum_units[d, s, k], 0.0)
            dip_units += b * effects["dip"][:, i]
        # Siblings: every other SKU of the category in the store loses E[loss] in the window.
        siblings = category - np.stack([own, own * price, own * (price - cost)], axis=1)
        loss = effects["cannibalisation"][:, None] * siblings
        out = rows[["sku", "store_id", "week_start", "discount_pct", "duration_days",
                    "promo_type"]].copy()
        out["incremental_units"] = units - dip_units - loss[:, 0]
        out["incremental_revenue"] = revenue - dip_units * price - loss[:, 1]
        out["incremental_gross_margin"] = margin - dip_units * (price - cost) - loss[:, 2]
        out["cost"] = line_costs(self._with_known_costs(promotions), rows)
        # Beside the protocol's columns: where the net units come from.
        out["lift_units"], out["dip_units"], out["cannibalised_units"] = units, dip_units, loss[:, 0]
        return out[[*INCREMENT_COLUMNS, *COMPONENT_COLUMNS]].reset_index(drop=True)


def line_costs(promotions: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """What each line costs: its own `cost` where the frame gives one (a line of a promotion
    that covers many SKUs and stores carries its share of that promotion's cost), else what the
    world charges a promotion of one SKU in one store (the type's fixed cost and one store's)."""
    own = (pd.to_numeric(promotions["cost"], errors="coerce").to_numpy(float)
           if "cost" in promotions else np.full(len(promotions), np.nan))
    alone = np.array([promotion_cost(p, 1, True) for p in rows.promo_type], dtype=float)
    return np.where(np.isnan(own), alone, own)


def hill_each(x: np.ndarray, alpha: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """media.hill with one (alpha, gamma) per element."""
    xa = np.maximum(x, 0.0) ** alpha
    return xa / (xa + gamma**alpha)


def week_start_of(week: int) -> pd.Timestamp:
    return pd.Timestamp(EPOCH + timedelta(days=7 * week))


def plan_days(world: World, request: PlanRequest) -> tuple[int, int]:
    """Day indices [d0, d1) of the request's weeks; they must be whole weeks of the world."""
    d0 = (pd.Timestamp(request.start).date() - EPOCH).days
    d1 = d0 + 7 * request.weeks
    if d0 % 7:
        raise PlanTruthError(f"plan start {request.start} is not a Monday: start the plan on one")
    if d0 < 0 or d1 > len(world.days) or request.weeks < 1:
        raise PlanTruthError(f"plan {request.start} + {request.weeks} weeks falls outside the "
                             f"{world.scale.name} world ({EPOCH} .. {world.scale.last_day}): "
                             "move or shorten it")
    return d0, d1


def plan_spend(t: WorldTruth, media: pd.DataFrame) -> tuple[int, np.ndarray]:
    """(first world week, pairs x weeks spend) of a MEDIA_COLUMNS frame; absent rows spend 0."""
    missing = [c for c in MEDIA_COLUMNS if c not in media]
    if missing:
        raise PlanTruthError(f"media plan lacks column(s) {', '.join(missing)}")
    days = (pd.to_datetime(media.week_start) - pd.Timestamp(EPOCH)).dt.days.to_numpy()
    if (days % 7).any():
        raise PlanTruthError("media plan week_start values must be Mondays (weeks of the world)")
    weeks = days // 7
    w0, n = int(weeks.min()), int(weeks.max() - weeks.min()) + 1
    if w0 < 0 or w0 + n > t.spend.shape[1]:
        raise PlanTruthError("media plan weeks fall outside the world: move the plan")
    index = {(p.country, p.channel): i for i, p in enumerate(t.pairs.itertuples())}
    keys = list(zip(media.country, media.channel, strict=True))
    unknown = sorted({k for k in keys if k not in index})
    if unknown:
        raise PlanTruthError(f"media plan names country x channel {unknown[0]} the world does "
                             f"not have: use {', '.join(sorted(t.pairs.country.unique()))} and "
                             f"{', '.join(t.pairs.channel.unique())}")
    spend = np.zeros((len(t.pairs), n))
    np.add.at(spend, ([index[k] for k in keys], weeks - w0), media.spend.to_numpy(dtype=float))
    return w0, spend


def resolve_promotions(world: World, promotions: pd.DataFrame) -> pd.DataFrame:
    """Promotion rows with world indices: store s, SKU k, category c, days [t0, t1), prices.

    A row starts on `start_date` when the frame has one (world_plan's promotions start on any
    weekday), else on its `week_start`."""
    missing = [c for c in PROMOTION_COLUMNS if c not in promotions and c != "origin"]
    if missing:
        raise PlanTruthError(f"promotions lack column(s) {', '.join(missing)}")
    rows = promotions.reset_index(drop=True).copy()
    stores, products = world.dims.stores, world.dims.products
    s = pd.Index(stores.store_id).get_indexer(rows.store_id)
    k = pd.Index(products.sku).get_indexer(rows.sku)
    for col, found in (("store_id", s), ("sku", k)):
        if (found < 0).any():
            raise PlanTruthError(f"promotion {col} {rows[col][found < 0].iloc[0]!r} is not in "
                                 "the world")
    types = {p.name for p in PROMO_TYPES}
    bad_type = sorted(set(rows.promo_type) - types)
    if bad_type:
        raise PlanTruthError(f"unknown promo_type {bad_type[0]!r}: choose {', '.join(types)}")
    if (rows.duration_days < 1).any() or not rows.discount_pct.between(0, 100).all():
        raise PlanTruthError("promotions need duration_days >= 1 and discount_pct in 0..100")
    start = pd.to_datetime(rows.get("start_date", rows.week_start)).fillna(
        pd.to_datetime(rows.week_start))  # a new line has no start of its own: its Monday
    rows["t0"] = (start - pd.Timestamp(EPOCH)).dt.days.to_numpy()
    rows["t1"] = rows.t0 + rows.duration_days.astype(int)
    if (rows.t0 < 0).any() or (rows.t0 >= len(world.days)).any():
        raise PlanTruthError("a promotion starts outside the world: move it")
    rows["s"], rows["k"] = s, k
    rows["c"] = products.category_index.to_numpy()[k]
    rows["category"] = products.category.to_numpy()[k]
    rows["price"] = products.list_price.to_numpy()[k]
    rows["unit_cost"] = products.unit_cost.to_numpy()[k]
    cut = np.where(rows.promo_type.isin(PRICE_PROMO_TYPES), rows.discount_pct / 100, 0.0)
    rows["promo_price"] = np.round(rows.price * (1 - cut), 2)
    rows["siblings"] = np.bincount(products.category_index)[rows.c] - 1
    return rows


def expected_effects(rows: pd.DataFrame, t: WorldTruth) -> dict[str, np.ndarray]:
    """Per row: E[lift], E[dip fraction] of each day after the window (rows x DIP_DAYS) and
    E[loss] of each sibling, over the promotion's random parts. They depend only on (true lift,
    duration, siblings), so they are computed once per distinct triple."""
    keys = pd.DataFrame({"true": true_lifts(rows),
                         "duration": rows.t1 - rows.t0, "siblings": rows.siblings})
    at, distinct = distinct_rows(keys)
    z, w = np.polynomial.hermite_e.hermegauss(LIFT_NODES)
    w = w / w.sum()
    lifts = distinct.true.to_numpy()[:, None] * np.exp(LIFT_NOISE_SD * z)[None, :]  # u x nodes
    effect = 1 - NO_EFFECT_SHARE
    mean_lift = effect * distinct.true.to_numpy() * np.exp(LIFT_NOISE_SD**2 / 2)
    dip_w = dip_profile()
    scale_dip = distinct.duration.to_numpy()[:, None, None] * dip_w[None, None, :]
    dip = effect * (w[None, :, None] * expected_capped(
        DIP_CAP, lifts[:, :, None] * scale_dip, *DIP_SHARE_RANGE)).sum(axis=1)
    siblings = distinct.siblings.to_numpy()
    per_sibling = np.where(siblings > 0, 1 / np.maximum(siblings, 1), 0.0)
    cannibalisation = effect * (w[None, :] * expected_capped(
        CANNIB_CAP, lifts * per_sibling[:, None], *CANNIB_SHARE_RANGE)).sum(axis=1)
    return {"lift": mean_lift[at], "dip": dip[at], "cannibalisation": cannibalisation[at]}


def true_lifts(rows: pd.DataFrame) -> np.ndarray:
    """promos.true_lift for many rows: once per distinct (discount, type, category)."""
    at, distinct = distinct_rows(rows[["discount_pct", "promo_type", "category"]])
    return np.array([float(true_lift(*r)) for r in distinct.itertuples(index=False)])[at]


def distinct_rows(frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """(for each row the position of its value in `distinct`, the distinct rows)."""
    at = frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy()
    return at, frame.drop_duplicates().reset_index(drop=True)


def expected_capped(cap: float, y: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """E[min(cap, U y)] for U uniform on [lo, hi] and y >= 0, exactly."""
    y = np.asarray(y, dtype=float)
    x = np.divide(cap, y, out=np.full_like(y, np.inf), where=y > 0)  # U above x hits the cap
    x = np.clip(x, lo, hi)
    return (y * (x**2 - lo**2) / 2 + cap * (hi - x)) / (hi - lo)


# --- the synth's own code, re-run with the plan ---------------------------------------------------


def simulate_plan(plan: Plan, request: PlanRequest, scale: str = "small", seed: int = 42,
                  scenario: str = "standard", *, earlier_promotions: bool = True
                  ) -> pd.DataFrame:
    """Expected sales per store x week of the request with the plan's spend and promotions in
    place of the world's from the plan start on, by the synth's own demand and media code.

    Spend before the plan is the world's (its adstock carries over); a country x channel x
    week of the plan without a row spends nothing. The world's promotions that started before
    the plan run on (and dip) as they were drawn unless `earlier_promotions` is False; the
    plan's promotions take the expectation of their random parts (a quadrature over lift, dip
    and cannibalisation draws, each a run of the synth's promo_effects). Plan rows of one
    store, category, start, duration, type and discount run as one promotion (the whole
    category, as the world runs it, when they cover all of it); rows of one category that
    overlap otherwise are applied in turn, the later one owning the days they share.
    Columns: store_id, country, week_start, units, revenue, gross_margin.
    """
    world = world_for(scale, seed, scenario)
    d0, d1 = plan_days(world, request)
    ctx = world.ctx
    multiplier = plan_multiplier(world, plan.media, d0 // 7, request.weeks)
    promos = plan_promotions(world, plan.promotions)
    if earlier_promotions:
        earlier = world.promos[(world.promos.t0 < d0) & (world.promos.t1 + DIP_DAYS > d0)]
        promos = pd.concat([earlier.assign(draws=False), promos], ignore_index=True)
    # Without promotions of the plan one run of the synth is the expectation.
    draws = promotion_draws() if promos.draws.astype(bool).any() else [(1.0, 1.0, 0.0, 0.0)]
    price_list = world.dims.products.list_price.to_numpy()
    unit_cost = world.dims.products.unit_cost.to_numpy()
    frames = []
    for chunk in store_chunks(world.dims.stores, world.scale.store_chunk):
        organic = organic_units(ctx, chunk)[d0:d1]
        media = np.stack([multiplier[c] for c in chunk.country], axis=1)[d0:d1, :, None]
        mean_p, price = np.zeros_like(organic), price_list
        for weight, lift_factor, dip_share, cannib_share in draws:
            drawn = with_draws(promos, lift_factor, dip_share, cannib_share)
            effects = promo_effects(replace_promos(ctx, drawn), chunk)
            mean_p += weight * effects.multiplier[d0:d1]
            price = effects.price[d0:d1]
        expected = organic * (1 + media) * mean_p  # B (1 + M) E[P]: demand is linear in P
        n_weeks = request.weeks
        frames.append(pd.DataFrame({
            "store_id": np.tile(chunk.store_id.to_numpy(), n_weeks),
            "country": np.tile(chunk.country.to_numpy(), n_weeks),
            "week_start": np.repeat(request.week_starts, len(chunk)),
            "units": weekly_sum(expected.sum(axis=2)).ravel(),
            "revenue": weekly_sum((expected * price).sum(axis=2)).ravel(),
            "gross_margin": weekly_sum((expected * (price - unit_cost)).sum(axis=2)).ravel(),
        }))
    return (pd.concat(frames, ignore_index=True)
            .sort_values(["week_start", "store_id"], ignore_index=True)[list(BASE_COLUMNS)])


def weekly_sum(daily: np.ndarray) -> np.ndarray:
    """Sum whole weeks of days along the first axis."""
    return daily.reshape(len(daily) // 7, 7, *daily.shape[1:]).sum(axis=1)


def plan_multiplier(world: World, media: pd.DataFrame, w0: int, weeks: int
                    ) -> dict[str, np.ndarray]:
    """Daily media lift M per country (media.make_media's formula) with the plan's weekly spend
    in weeks w0 .. w0 + weeks - 1 and the world's own spend elsewhere."""
    n_days = len(world.days)
    week_of_day = np.arange(n_days) // 7
    n_weeks = int(week_of_day[-1]) + 1
    organic = organic_list_revenue(world.ctx, world.scale.store_chunk)
    planned = {}
    if not media.empty:
        w = (pd.to_datetime(media.week_start) - pd.Timestamp(EPOCH)).dt.days.to_numpy() // 7
        if ((w < w0) | (w >= w0 + weeks)).any():
            raise PlanTruthError("media plan has weeks outside the request's: align them")
        planned = media.assign(w=w).groupby(["country", "channel", "w"]).spend.sum().to_dict()
    weekly = world.media.weekly
    multiplier = {}
    for country in world.dims.countries:
        media_week = np.zeros(n_weeks)
        for p in world.media.params[world.media.params.country == country].itertuples():
            mine = (weekly.country == country) & (weekly.channel == p.channel)
            spend_w = weekly.loc[mine, "spend"].to_numpy().copy()
            spend_w[w0 : w0 + weeks] = [planned.get((country, p.channel, w), 0.0)
                                        for w in range(w0, w0 + weeks)]
            media_week += p.beta * hill(geometric_adstock(spend_w, p.theta), p.alpha, p.gamma)
        organic_week = np.bincount(week_of_day, weights=organic[country], minlength=n_weeks)
        multiplier[country] = (media_week / np.maximum(organic_week, 1e-9))[week_of_day]
    return multiplier


def plan_promotions(world: World, promotions: pd.DataFrame) -> pd.DataFrame:
    """The plan's rows as promotions of the synth (promo_effects' columns), grouped per store,
    category, start, duration, type and discount; `true` is their expected lift per promos."""
    columns = ["store_id", "region", "sku", "category", "t0", "t1", "promo_type",
               "discount_pct", "understocked", "true", "draws"]
    if promotions.empty:
        return pd.DataFrame(columns=columns)
    rows = resolve_promotions(world, promotions)
    products = world.dims.products
    whole = products.groupby("category").sku.apply(frozenset).to_dict()
    key = ["store_id", "category", "t0", "t1", "promo_type", "discount_pct"]
    out = []
    for values, group in rows.groupby(key, sort=False):
        skus = tuple(sorted(set(group.sku)))
        store_id, category, t0, t1, promo_type, discount = values
        sku = None if frozenset(skus) == whole[category] else (skus[0] if len(skus) == 1
                                                                 else skus)
        out.append({"store_id": store_id, "region": None, "sku": sku, "category": category,
                    "t0": int(t0), "t1": int(t1), "promo_type": promo_type,
                    "discount_pct": float(discount), "understocked": False,
                    "true": float(true_lift(discount, promo_type, category)), "draws": True})
    return pd.DataFrame(out, columns=columns)


def promotion_draws() -> list[tuple[float, float, float, float]]:
    """(weight, lift factor, dip share, cannibalisation share) nodes whose weighted mean is the
    expectation over a promotion's random parts (promos.make_promotions)."""
    z, wz = np.polynomial.hermite_e.hermegauss(SIMULATION_LIFT_NODES)
    u, wu = np.polynomial.legendre.leggauss(SIMULATION_SHARE_NODES)
    wz, wu = wz / wz.sum(), wu / wu.sum()
    share = lambda r: r[0] + (r[1] - r[0]) * (u + 1) / 2  # noqa: E731
    dip, cannib = share(DIP_SHARE_RANGE), share(CANNIB_SHARE_RANGE)
    nodes = [(NO_EFFECT_SHARE, 0.0, 0.0, 0.0)]
    for zi, wi in zip(z, wz, strict=True):
        for j in range(len(u)):
            nodes.append(((1 - NO_EFFECT_SHARE) * wi * wu[j], float(np.exp(LIFT_NOISE_SD * zi)),
                          float(dip[j]), float(cannib[j])))
    return nodes


def with_draws(promos: pd.DataFrame, lift_factor: float, dip_share: float,
               cannib_share: float) -> pd.DataFrame:
    """The plan's promotions at one node of their random parts; the world's keep their own."""
    mine = promos.draws.astype(bool).to_numpy()
    if not mine.any():
        return promos
    out = promos.copy()
    out.loc[mine, "lift"] = out.loc[mine, "true"] * lift_factor
    out.loc[mine, "dip_share"] = dip_share if lift_factor > 0 else 0.0
    one_sku = out.sku.map(lambda s: s is not None and not (isinstance(s, float) and np.isnan(s)))
    out.loc[mine, "cannib_share"] = np.where(one_sku[mine] & (lift_factor > 0), cannib_share,
                                             0.0)
    return out


def replace_promos(ctx: DemandContext, promos: pd.DataFrame) -> DemandContext:
    return DemandContext(ctx.days, ctx.stores, ctx.products, ctx.closures, ctx.calendar,
                         ctx.macro, ctx.media, promos, ctx.seed)


def world_plan(request: PlanRequest, scale: str = "small", seed: int = 42,
               scenario: str = "standard") -> Plan:
    """The plan the world itself executes in the request's weeks: its own weekly spend per
    country x channel and its promotions starting in those weeks, one row per SKU x store
    (origin "planned"), with `category` and the exact `start_date` (world promotions start on
    any weekday and run 7 to 21 days)."""
    world = world_for(scale, seed, scenario)
    d0, d1 = plan_days(world, request)
    weekly = world.media.weekly
    week = pd.to_datetime(weekly.week_start)
    inside = (week >= week_start_of(d0 // 7)) & (week < week_start_of(d1 // 7))
    media = weekly.loc[inside, ["country", "channel", "spend"]].assign(
        week_start=week[inside])[list(MEDIA_COLUMNS)].reset_index(drop=True)
    stores, products = world.dims.stores, world.dims.products
    promos = world.promos[(world.promos.t0 >= d0) & (world.promos.t0 < d1)]
    rows = []
    for p in promos.itertuples():
        for store_id in stores.store_id[covered_stores(p, stores)]:
            for sku in products.sku[covered_skus(p, products)]:
                rows.append({"sku": sku, "store_id": store_id,
                             "week_start": week_start_of(p.t0 // 7),
                             "discount_pct": float(p.discount_pct),
                             "duration_days": int(p.t1 - p.t0), "promo_type": p.promo_type,
                             "origin": PLANNED, "category": p.category,
                             "start_date": pd.Timestamp(p.start)})
    columns = [*PROMOTION_COLUMNS, "category", "start_date"]
    whole = int(promos.sku.isna().sum())
    notes = [f"the world's own plan for {request.weeks} weeks from {request.start}: "
             f"{len(promos)} promotions as {len(rows)} SKU x store rows ({whole} cover a whole "
             "category: their rows, each on its own, count the cannibalisation of SKUs that "
             "are promoted too, which the world does not)"]
    return Plan(media, pd.DataFrame(rows, columns=columns), notes)


def random_plan(request: PlanRequest, scale: str = "small", seed: int = 42,
                scenario: str = "standard", *, draw: int = 0, promotions: int = 20,
                durations: tuple[int, ...] = (3, 5, 7)) -> Plan:
    """A random plan near the world's own, for checks: each of the world's spend rows times
    uniform(0.5, 1.5), and `promotions` SKU x store promotions drawn from the world's types,
    depths and `durations`, starting on Mondays, no two of one category overlapping in a
    store (origin "recommended"). Deterministic in `draw`."""
    world = world_for(scale, seed, scenario)
    rng = np.random.default_rng([seed, 101, draw])
    own = world_plan(request, scale, seed, scenario).media
    media = own.assign(spend=own.spend * rng.uniform(0.5, 1.5, len(own)))
    stores, products = world.dims.stores, world.dims.products
    weights = np.array(PROMO_TYPE_WEIGHTS) / sum(PROMO_TYPE_WEIGHTS)
    taken: dict[tuple[str, str], list[tuple[int, int]]] = {}
    rows = []
    for _ in range(50 * promotions):
        if len(rows) == promotions:
            break
        store_id = str(rng.choice(stores.store_id))
        product = products.iloc[int(rng.integers(len(products)))]
        week = int(rng.integers(request.weeks))
        duration = int(rng.choice(durations))
        t0 = 7 * week
        windows = taken.setdefault((store_id, product.category), [])
        if any(t0 < b and a < t0 + duration for a, b in windows):
            continue
        windows.append((t0, t0 + duration))
        ptype = PROMO_TYPES[int(rng.choice(len(PROMO_TYPES), p=weights))]
        rows.append({"sku": product.sku, "store_id": store_id,
                     "week_start": request.week_starts[week],
                     "discount_pct": float(rng.choice(ptype.discounts)),
                     "duration_days": duration, "promo_type": ptype.name,
                     "origin": RECOMMENDED, "category": product.category})
    return Plan(media, pd.DataFrame(rows, columns=[*PROMOTION_COLUMNS, "category"]),
                [f"random plan {draw}: spend x uniform(0.5, 1.5), {len(rows)} promotions"])
