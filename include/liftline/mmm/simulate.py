"""A small simulated mix-model world with known ROI, for tests, benchmarks and docs.

Independent of the model code on purpose: adstock and saturation are written out as loops
here, so recovering the truth checks the model rather than agreeing with itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .design import MMMData

CHANNEL_NAMES = ("search", "social", "display", "tv", "online_video", "ooh", "linkedin",
                 "radio")
# Geometric decay per channel name: inside the spec's bounds for the channel's type.
THETA = {"search": 0.2, "social": 0.25, "display": 0.5, "tv": 0.9, "online_video": 0.45,
         "ooh": 0.25, "linkedin": 0.8, "radio": 0.3}


def simulate(weeks: int = 156, channels: int = 8, seed: int = 0, noise: float = 0.03,
             roi_range: tuple[float, float] = (0.5, 3.0), start: str = "2022-01-03"
             ) -> tuple[MMMData, pd.DataFrame]:
    """Weekly spend, revenue and an events control; the truth per channel.

    revenue = baseline (level, trend, yearly season, events) + sum of beta * hill(adstock)
    + noise, with each channel's ROI over the weeks drawn from `roi_range`.
    """
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=weeks, freq="7D")
    names = [CHANNEL_NAMES[i % len(CHANNEL_NAMES)] + ("" if i < len(CHANNEL_NAMES) else f"_{i}")
             for i in range(channels)]
    level = 100_000.0
    t = np.arange(weeks)
    season = 0.08 * level * np.sin(2 * np.pi * t / 52.18) + 0.04 * level * np.cos(
        4 * np.pi * t / 52.18)
    events = (rng.random(weeks) < 0.06).astype(float)
    baseline = level + 60.0 * t + season + 0.05 * level * events
    spend, rows, media = {}, [], np.zeros(weeks)
    for name in names:
        budget = rng.uniform(0.5, 2.0) * 2_000.0
        on = rng.random(weeks) < rng.uniform(0.55, 0.95)
        x = np.where(on, budget * rng.lognormal(0.0, 0.35, weeks), 0.0)
        theta = THETA.get(name.split("_")[0] if name not in THETA else name, 0.3)
        alpha = rng.uniform(0.9, 2.2)
        adstock = np.zeros(weeks)
        carry = 0.0
        for w in range(weeks):
            carry = x[w] + theta * carry
            adstock[w] = carry
        gamma_rel = rng.uniform(0.35, 0.8)
        inflexion = adstock.min() + gamma_rel * (adstock.max() - adstock.min())
        saturation = np.array([a**alpha / (a**alpha + inflexion**alpha) if a > 0 else 0.0
                               for a in adstock])
        roi = rng.uniform(*roi_range)
        beta = roi * x.sum() / saturation.sum()
        contribution = beta * saturation
        media += contribution
        spend[name] = x
        rows.append({"channel": name, "theta": theta, "alpha": alpha, "gamma": gamma_rel,
                     "beta": beta, "spend": x.sum(), "contribution": contribution.sum(),
                     "roi": roi})
    revenue = (baseline + media) * (1.0 + noise * rng.standard_normal(weeks))
    truth = pd.DataFrame(rows)
    truth["share_of_revenue"] = truth["contribution"] / revenue.sum()
    data = MMMData(spend=pd.DataFrame(spend, index=index),
                   revenue=pd.Series(revenue, index=index, name="revenue"),
                   controls=pd.DataFrame({"event_days": events}, index=index))
    return data, truth
