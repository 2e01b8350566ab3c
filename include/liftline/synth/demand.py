"""Store x SKU x day demand, stock and sales, simulated a chunk of stores at a time.

Expected units of a store-SKU-day decompose exactly:
    organic  B = level * popularity * trend * weekly * yearly * holidays * macro  (0 when closed)
    media      B * M            (M: the country's media revenue that week / its organic revenue)
    promotion  B * (1 + M) * (P - 1)   (P: lift in the window, dip after, cannibalisation)
Realised demand is Poisson around that with a small store-day shock; sales are demand capped
by the stock on hand, which an order-up-to policy replenishes weekly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from liftline.synth.config import CATEGORIES, DIP_DAYS
from liftline.synth.promos import covered_skus, covered_stores, dip_profile

BASE_UNITS = 7.0  # mean daily units of an average SKU in an average store
WEEKLY_PROFILE = np.array([0.85, 0.85, 0.9, 0.95, 1.15, 1.35, 0.95])  # Mon..Sun
SHOCK_SD = 0.08  # store-day demand shock (weather, local events), log scale
LEAD_DAYS = 2
COVER_DAYS = 9  # order-up-to covers the review period plus lead time
PRICE_PROMO_TYPES = ("price_discount", "bogo", "multibuy", "flyer")
DIP_CAP = 0.9  # a dip day keeps at least a tenth of its demand
CANNIB_CAP = 0.5  # a cannibalised sibling keeps at least half of its demand


@dataclass
class DemandContext:
    days: pd.DatetimeIndex
    stores: pd.DataFrame
    products: pd.DataFrame
    closures: pd.DataFrame
    calendar: dict[str, tuple[np.ndarray, np.ndarray]]  # country -> (mult days x cats, closed)
    macro: dict[str, np.ndarray]  # country -> daily demand multiplier
    media: dict[str, np.ndarray]  # country -> daily media lift M
    promos: pd.DataFrame
    seed: int


def organic_units(ctx: DemandContext, stores: pd.DataFrame) -> np.ndarray:
    """Expected organic units (days x stores x SKUs) with neither media nor promotions."""
    days, products = ctx.days, ctx.products
    n_days = len(days)
    t_years = (np.arange(n_days) / 365.25)[:, None]
    doy = days.dayofyear.to_numpy()[:, None]
    cats = [CATEGORIES[i] for i in products.category_index]
    amp = np.array([c.season_amp for c in cats])[None, :]
    peak = np.array([c.season_peak_doy for c in cats])[None, :]
    yearly = 1 + amp * np.cos(2 * np.pi * (doy - peak) / 365.25)  # days x skus
    weekly = WEEKLY_PROFILE[days.dayofweek.to_numpy()][:, None]
    launch = pd.to_datetime(products.launch_date).to_numpy()
    launched = days.to_numpy()[:, None] >= launch[None, :]
    sku_part = BASE_UNITS * products.popularity.to_numpy()[None, :] * yearly * weekly * launched

    out = np.empty((n_days, len(stores), len(products)))
    for j, st in enumerate(stores.itertuples()):
        cal_mult, closed = ctx.calendar[st.country]
        cal = cal_mult[:, products.category_index.to_numpy()]
        trend = np.exp(st.growth * t_years)
        open_ = (days.to_numpy() >= np.datetime64(st.opened_date)) & ~closed
        open_ &= ~store_closure_mask(ctx, st.store_id)
        store_part = st.level * trend * ctx.macro[st.country][:, None] * open_[:, None]
        out[:, j, :] = sku_part * cal * store_part
    return out


def store_closure_mask(ctx: DemandContext, store_id: str) -> np.ndarray:
    mask = np.zeros(len(ctx.days), dtype=bool)
    for c in ctx.closures[ctx.closures.store_id == store_id].itertuples():
        mask |= (ctx.days >= pd.Timestamp(c.start)) & (ctx.days <= pd.Timestamp(c.end))
    return mask


def organic_list_revenue(ctx: DemandContext, chunk_size: int) -> dict[str, np.ndarray]:
    """Expected organic revenue at list price per country and day (sizes the media world)."""
    price = ctx.products.list_price.to_numpy()
    out: dict[str, np.ndarray] = {}
    for chunk in store_chunks(ctx.stores, chunk_size):
        units = organic_units(ctx, chunk)
        revenue = (units * price[None, None, :]).sum(axis=2)  # days x stores
        for j, country in enumerate(chunk.country):
            out[country] = out.get(country, 0.0) + revenue[:, j]
    return out


def store_chunks(stores: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for i in range(0, len(stores), size):
        yield stores.iloc[i : i + size].reset_index(drop=True)


@dataclass
class PromoEffects:
    multiplier: np.ndarray  # P: days x stores x skus
    planned: np.ndarray  # P as the stores planned stock for (understocked lifts left out)
    price: np.ndarray  # effective shelf price
    tag: np.ndarray  # index of the promotion owning the cell-day, -1 if none
    role: np.ndarray  # 1 in the window, 2 post-promotion dip, 3 cannibalised sibling


def promo_effects(ctx: DemandContext, stores: pd.DataFrame) -> PromoEffects:
    n_days, n_st, n_sku = len(ctx.days), len(stores), len(ctx.products)
    shape = (n_days, n_st, n_sku)
    mult = np.ones(shape)
    planned = np.ones(shape)
    price = np.broadcast_to(ctx.products.list_price.to_numpy(), shape).copy()
    tag = np.full(shape, -1, dtype=np.int32)
    role = np.zeros(shape, dtype=np.int8)
    dip_w = dip_profile()
    category = ctx.products.category.to_numpy()
    for i, p in enumerate(ctx.promos.itertuples()):
        s_idx = np.flatnonzero(covered_stores(p, stores))
        if len(s_idx) == 0:
            continue
        kmask = covered_skus(p, ctx.products)
        k_idx = np.flatnonzero(kmask)
        sib_idx = np.flatnonzero((category == p.category) & ~kmask)
        win = np.arange(p.t0, min(p.t1, n_days))
        cells = np.ix_(win, s_idx, k_idx)
        mult[cells] = 1 + p.lift
        if not p.understocked:
            planned[cells] = 1 + p.lift
        tag[cells], role[cells] = i, 1
        if p.promo_type in PRICE_PROMO_TYPES:
            price[cells] *= 1 - p.discount_pct / 100
        # Dip: a share of the extra units was pulled forward from the days after.
        dip_days = np.arange(p.t1, min(p.t1 + DIP_DAYS, n_days))
        if len(dip_days) and p.lift > 0:
            duration = p.t1 - p.t0
            frac = np.minimum(DIP_CAP, p.dip_share * p.lift * duration * dip_w[: len(dip_days)])
            dcells = np.ix_(dip_days, s_idx, k_idx)
            mult[dcells] = (1 - frac)[:, None, None]
            planned[dcells] = (1 - frac)[:, None, None]
            tag[dcells], role[dcells] = i, 2
        if len(sib_idx) and p.cannib_share > 0:
            loss = min(CANNIB_CAP, p.cannib_share * p.lift * len(k_idx) / len(sib_idx))
            scells = np.ix_(win, s_idx, sib_idx)
            mult[scells] = 1 - loss
            planned[scells] = 1 - loss
            tag[scells], role[scells] = i, 3
    return PromoEffects(mult, planned, np.round(price, 2), tag, role)


@dataclass
class ChunkResult:
    stores: pd.DataFrame
    organic: np.ndarray  # B
    baseline: np.ndarray  # B * (1 + M): the no-promotion counterfactual
    expected: np.ndarray  # B * (1 + M) * P
    demand: np.ndarray  # realised demand
    sales: np.ndarray  # demand capped by stock
    on_hand: np.ndarray  # end of day
    on_order: np.ndarray
    effects: PromoEffects
    baskets: np.ndarray


def simulate_chunk(ctx: DemandContext, stores: pd.DataFrame) -> ChunkResult:
    organic = organic_units(ctx, stores)
    media = np.stack([ctx.media[c] for c in stores.country], axis=1)[:, :, None]
    baseline = organic * (1 + media)
    effects = promo_effects(ctx, stores)
    expected = baseline * effects.multiplier
    demand = np.empty(expected.shape, dtype=np.int64)
    baskets = np.empty(expected.shape, dtype=np.int64)
    for j, st in enumerate(stores.itertuples()):
        rng = np.random.default_rng(np.random.SeedSequence([ctx.seed, 7, int(st.store_num)]))
        shock = rng.lognormal(-SHOCK_SD**2 / 2, SHOCK_SD, size=(len(ctx.days), 1))
        demand[:, j, :] = rng.poisson(expected[:, j, :] * shock)
        # Customers: a basket holds one unit of a SKU, sometimes two.
        baskets[:, j, :] = demand[:, j, :] - rng.binomial(demand[:, j, :], 0.15)
    sales, on_hand, on_order = replenish(ctx, stores, baseline * effects.planned, demand)
    baskets = np.minimum(baskets, sales)
    return ChunkResult(stores, organic, baseline, expected, demand, sales, on_hand, on_order,
                       effects, baskets)


def replenish(ctx: DemandContext, stores: pd.DataFrame, planned: np.ndarray,
              demand: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weekly order-up-to replenishment with a two-day lead time; sales = min(demand, stock).

    Stores stock up for the lift they expect; an understocked promotion's lift was not
    expected, so its extra demand runs the shelf empty, visible in `inventory`.
    """
    n_days = len(ctx.days)
    cum = np.concatenate([np.zeros((1,) + planned.shape[1:]), np.cumsum(planned, axis=0)])
    upto_idx = np.minimum(np.arange(n_days) + 1 + COVER_DAYS, n_days)
    order_up_to = np.ceil(1.15 * (cum[upto_idx] - cum[np.arange(n_days) + 1]) + 1)
    dow = ctx.days.dayofweek.to_numpy()
    review = stores.review_dow.to_numpy()
    # Now and then a supplier ships only 40% of an order.
    short = np.stack(
        [np.random.default_rng([ctx.seed, 11, int(n)]).random(n_days) < 0.01
         for n in stores.store_num],
        axis=1,
    )

    on_hand = order_up_to[0].copy()
    on_order = np.zeros_like(on_hand)
    arrival = np.full(len(stores), -1)
    sales = np.empty_like(demand)
    rec_hand = np.empty(demand.shape, dtype=np.int64)
    rec_order = np.empty(demand.shape, dtype=np.int64)
    for t in range(n_days):
        arrives = arrival == t
        if arrives.any():
            on_hand[arrives] += on_order[arrives]
            on_order[arrives] = 0
        sold = np.minimum(demand[t], on_hand)
        on_hand -= sold
        sales[t] = sold
        ordering = review == dow[t]
        if ordering.any():
            qty = np.maximum(0, order_up_to[t] - on_hand - on_order)
            qty = np.where(short[t][:, None], np.floor(qty * 0.4), qty)
            on_order[ordering] += qty[ordering]
            arrival[ordering] = t + LEAD_DAYS
        rec_hand[t], rec_order[t] = on_hand, on_order
    return sales, rec_hand, rec_order
