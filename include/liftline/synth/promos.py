"""The promotion calendar and the true effect of each promotion.

True lift (fraction of extra units on the promoted store-SKUs over the window):
    lift = category_sensitivity * (type_amplitude * LIFT_MAX * (1 - exp(-discount / 20))
                                   + type_base_lift) * promo_noise
It grows with discount with diminishing returns and differs by type and category. Some
promotions have no effect. After the window a dip gives back part of the extra units (pantry
loading); during it, sibling SKUs of the same category lose part of it (cannibalisation).
Promotions of one category never overlap (dip included), so every effect has one owner.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from liftline.synth.config import (
    CANNIB_SHARE_RANGE,
    CATEGORIES,
    DIP_DAYS,
    DIP_SHARE_RANGE,
    EPOCH,
    LIFT_DISCOUNT_SCALE,
    LIFT_MAX,
    LIFT_NOISE_SD,
    NO_EFFECT_SHARE,
    PROMO_COST_PER_STORE,
    PROMO_TYPE_WEIGHTS,
    PROMO_TYPES,
    UNDERSTOCKED_SHARE,
    Scale,
)
from liftline.synth.dimensions import Dimensions, rng_for


def true_lift(discount_pct: float, promo_type: str, category: str) -> float:
    """Expected lift fraction of a promotion before its own execution noise."""
    pt = next(p for p in PROMO_TYPES if p.name == promo_type)
    cat = next(c for c in CATEGORIES if c.name == category)
    response = 1 - np.exp(-discount_pct / LIFT_DISCOUNT_SCALE)
    return cat.promo_sensitivity * (pt.amplitude * LIFT_MAX * response + pt.base_lift)


def promotion_cost(promo_type: str, n_stores: int, one_sku: bool) -> float:
    """What a promotion costs (the `cost` of the promotions extract): the type's fixed cost
    plus a per-store charge, four times higher for a whole category than for one SKU."""
    pt = next(p for p in PROMO_TYPES if p.name == promo_type)
    return round(pt.fixed_cost + PROMO_COST_PER_STORE * n_stores * (1 if one_sku else 4), 2)


def make_promotions(scale: Scale, dims: Dimensions, seed: int) -> pd.DataFrame:
    """Every promotion of the world's horizon, one lane of non-overlapping promotions per category."""
    stores, products = dims.stores, dims.products
    regions = sorted(stores.region.unique())
    rows = []
    for cat in CATEGORIES[: scale.categories]:
        rng = rng_for(seed, "promos", cat.name)
        skus = products.loc[products.category == cat.name, "sku"].tolist()
        day = int(rng.integers(3, 25))
        while True:
            duration = int(rng.choice([7, 10, 14, 21], p=[0.35, 0.2, 0.35, 0.1]))
            if day + duration + DIP_DAYS >= scale.horizon_days:
                break
            ptype = PROMO_TYPES[rng.choice(len(PROMO_TYPES), p=PROMO_TYPE_WEIGHTS)]
            discount = float(rng.choice(ptype.discounts))
            sku = str(rng.choice(skus)) if rng.random() < 0.6 else None
            scope = rng.choice(["all", "region", "store"], p=[0.5, 0.35, 0.15])
            region = str(rng.choice(regions)) if scope == "region" else None
            store_id = str(rng.choice(stores.store_id)) if scope == "store" else None
            no_effect = rng.random() < NO_EFFECT_SHARE
            lift = 0.0 if no_effect else true_lift(discount, ptype.name, cat.name) * float(
                rng.lognormal(0, LIFT_NOISE_SD)
            )
            n_stores = 1 if store_id else (
                int((stores.region == region).sum()) if region else len(stores)
            )
            rows.append(
                {
                    "start": EPOCH + timedelta(days=day),
                    "end": EPOCH + timedelta(days=day + duration - 1),
                    "t0": day,
                    "t1": day + duration,  # exclusive
                    "discount_pct": discount,
                    "promo_type": ptype.name,
                    "category": cat.name,
                    "sku": sku,
                    "region": region,
                    "store_id": store_id,
                    "lift": lift,
                    "no_effect": no_effect,
                    "understocked": bool(rng.random() < UNDERSTOCKED_SHARE),
                    "dip_share": 0.0 if no_effect else float(rng.uniform(*DIP_SHARE_RANGE)),
                    "cannib_share": 0.0 if (no_effect or sku is None)
                    else float(rng.uniform(*CANNIB_SHARE_RANGE)),
                    "cost": promotion_cost(ptype.name, n_stores, sku is not None),
                    "discount_known": bool(rng.random() > 0.03),
                }
            )
            day += duration + DIP_DAYS + int(rng.integers(5, 35))
    promos = pd.DataFrame(rows).sort_values(["start", "category"], ignore_index=True)
    promos.insert(0, "promo_id", [f"PR-{i + 1:05d}" for i in range(len(promos))])
    return promos


def covered_stores(promo, stores: pd.DataFrame) -> np.ndarray:
    """Boolean mask over `stores` of the stores a promotion runs in."""
    if promo.store_id is not None and not pd.isna(promo.store_id):
        return (stores.store_id == promo.store_id).to_numpy()
    if promo.region is not None and not pd.isna(promo.region):
        return (stores.region == promo.region).to_numpy()
    return np.ones(len(stores), dtype=bool)


def covered_skus(promo, products: pd.DataFrame) -> np.ndarray:
    """Boolean mask over `products`: one SKU, several (a tuple, as a plan may promote them
    together) or, with no SKU, the whole category."""
    if isinstance(promo.sku, tuple):
        return products.sku.isin(promo.sku).to_numpy()
    if promo.sku is not None and not pd.isna(promo.sku):
        return (products.sku == promo.sku).to_numpy()
    return (products.category == promo.category).to_numpy()


def dip_profile(days: int = DIP_DAYS) -> np.ndarray:
    """Share of the dip taken on each day after a promotion: largest right after, fading."""
    w = np.exp(-np.arange(days) / 2.5)
    return w / w.sum()
