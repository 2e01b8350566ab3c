"""Countries, regions, stores, products and the macro economy of the world."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from liftline.synth.config import CATEGORIES, COUNTRIES, EPOCH, Scale


def rng_for(seed: int, *tags: object) -> np.random.Generator:
    """An independent, reproducible random stream for one part of the world.

    Each part draws from its own stream, so adding a part (or changing how much another
    draws) never shifts the numbers of the rest.
    """
    key = [zlib.crc32(str(t).encode()) for t in tags]
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


@dataclass
class Dimensions:
    countries: list[str]
    stores: pd.DataFrame  # store_id, region, country, format, opened_date, + latent level
    products: pd.DataFrame  # sku, category, segment, division, unit_cost, list_price, + latent
    closures: pd.DataFrame  # store_id, start, end (inclusive), reason


FORMATS = {"hyper": 1.9, "super": 1.0, "express": 0.45}


def make_dimensions(scale: Scale, seed: int) -> Dimensions:
    countries = list(COUNTRIES[: scale.countries])
    return Dimensions(
        countries=countries,
        stores=_stores(scale, seed, countries),
        products=_products(scale, seed),
        closures=_closures(scale, seed),
    )


def _stores(scale: Scale, seed: int, countries: list[str]) -> pd.DataFrame:
    rng = rng_for(seed, "stores")
    n = scale.stores
    country = np.array([countries[i % len(countries)] for i in range(n)])
    region_no = rng.integers(1, scale.regions_per_country + 1, size=n)
    fmt = rng.choice(list(FORMATS), size=n, p=[0.25, 0.5, 0.25])
    # Most stores trade from before the world starts; some open during the first year.
    late = rng.random(n) < 0.15
    late[0] = False  # at least one store trades from day one
    opened = [
        EPOCH + timedelta(days=int(rng.integers(30, 330))) if is_late
        else EPOCH - timedelta(days=int(rng.integers(200, 4000)))
        for is_late in late
    ]
    level = np.array([FORMATS[f] for f in fmt]) * rng.lognormal(0, 0.2, size=n)
    return pd.DataFrame(
        {
            "store_id": [f"ST-{i + 1:04d}" for i in range(n)],
            "region": [f"{c}-R{r}" for c, r in zip(country, region_no, strict=True)],
            "country": country,
            "format": fmt,
            "opened_date": opened,
            "level": level,
            "growth": rng.normal(0.03, 0.03, size=n),  # yearly organic trend
            "review_dow": rng.integers(0, 7, size=n),  # weekday the store orders stock
            "store_num": np.arange(n),  # stable per-store random stream
        }
    )


def _products(scale: Scale, seed: int) -> pd.DataFrame:
    rng = rng_for(seed, "products")
    rows = []
    for ci, cat in enumerate(CATEGORIES[: scale.categories]):
        for j in range(scale.skus_per_category):
            lo, hi = cat.price_range
            price = round(float(np.exp(rng.uniform(np.log(lo), np.log(hi)))), 2)
            launch = EPOCH
            if rng.random() < 0.08:  # a few SKUs launch during the world
                launch = EPOCH + timedelta(days=int(rng.integers(60, 500)))
            rows.append(
                {
                    "sku": f"SKU-{(ci + 1) * 1000 + j + 1}",
                    "category": cat.name,
                    "segment": "premium" if price > (lo + hi) / 2 else "value",
                    "division": cat.division,
                    "unit_cost": round(price * (1 - cat.margin) * rng.uniform(0.9, 1.1), 2),
                    "list_price": price,
                    "popularity": rng.lognormal(0, 0.55),
                    "launch_date": launch,
                    "category_index": ci,
                }
            )
    return pd.DataFrame(rows)


def _closures(scale: Scale, seed: int) -> pd.DataFrame:
    """Unplanned store closures (renovation, flooding): no trade, written as `events`."""
    rng = rng_for(seed, "closures")
    rows = []
    for i in range(scale.stores):
        for _ in range(rng.poisson(0.6)):
            start = EPOCH + timedelta(days=int(rng.integers(20, scale.horizon_days - 30)))
            length = int(rng.integers(2, 15))
            reason = str(rng.choice(["Renovation", "Flooding", "Power outage", "Refit"]))
            rows.append(
                {
                    "store_id": f"ST-{i + 1:04d}",
                    "start": start,
                    "end": start + timedelta(days=length - 1),
                    "reason": reason,
                }
            )
    return pd.DataFrame(rows, columns=["store_id", "start", "end", "reason"])


def make_macro(countries: list[str], weeks: pd.DatetimeIndex, seed: int) -> pd.DataFrame:
    """Weekly economic index, inflation and unemployment per country.

    The index is a mean-reverting walk around 100 with one downturn per country; inflation
    and unemployment move against it, as they do.
    """
    frames = []
    n = len(weeks)
    for country in countries:
        rng = rng_for(seed, "macro", country)
        shocks = rng.normal(0, 0.006, size=n)
        walk = np.zeros(n)
        for t in range(1, n):
            walk[t] = 0.97 * walk[t - 1] + shocks[t]
        dip_at, dip_len = int(rng.integers(n // 4, 3 * n // 4)), int(rng.integers(10, 26))
        downturn = np.zeros(n)
        downturn[dip_at : dip_at + dip_len] = -0.05 * np.sin(np.linspace(0, np.pi, dip_len))[
            : max(0, min(dip_len, n - dip_at))
        ]
        index = 100 * np.exp(walk + downturn)
        inflation = 2.5 + rng.normal(0, 0.15, n).cumsum() * 0.2 - (index - 100) * 0.05
        unemployment = 6.0 - (index - 100) * 0.25 + rng.normal(0, 0.05, n)
        frames.append(
            pd.DataFrame(
                {
                    "date": weeks.date,
                    "country": country,
                    "economic_index": index.round(3),
                    "inflation_rate": np.clip(inflation, -1, 15).round(3),
                    "unemployment_rate": np.clip(unemployment, 1, 25).round(3),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


MACRO_ELASTICITY = 1.2  # demand ~ (economic_index / 100) ** elasticity


def days_between(first: date, last: date) -> pd.DatetimeIndex:
    return pd.date_range(first, last, freq="D")
