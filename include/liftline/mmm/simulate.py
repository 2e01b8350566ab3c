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
             roi_range: tuple[float, float] = (0.5, 3.0), start: str = "2022-01-03",
             confounding: float = 0.0) -> tuple[MMMData, pd.DataFrame]:
    """Weekly spend, revenue and an events control; the truth per channel.

    revenue = baseline (level, trend, yearly season, events) + sum of beta * hill(adstock)
    + noise, with each channel's ROI over the weeks drawn from `roi_range`.

    `confounding` > 0: a hidden demand driver (AR(1), sd `confounding` of the baseline) moves
    revenue, and the first channel's spend follows it (planners who see demand coming). No
    returned column carries it; the truth's frame has it in `attrs["driver"]`.
    """
    rng = np.random.default_rng(seed)
    driver = np.zeros(weeks)
    if confounding > 0:
        hidden = np.random.default_rng([seed, 1])
        driver[0] = hidden.normal(0.0, confounding)
        for w in range(1, weeks):
            driver[w] = 0.8 * driver[w - 1] + hidden.normal(0.0, confounding * 0.6)
    index = pd.date_range(start, periods=weeks, freq="7D")
    names = [CHANNEL_NAMES[i % len(CHANNEL_NAMES)] + ("" if i < len(CHANNEL_NAMES) else f"_{i}")
             for i in range(channels)]
    level = 100_000.0
    t = np.arange(weeks)
    season = 0.08 * level * np.sin(2 * np.pi * t / 52.18) + 0.04 * level * np.cos(
        4 * np.pi * t / 52.18)
    events = (rng.random(weeks) < 0.06).astype(float)
    baseline = (level + 60.0 * t + season + 0.05 * level * events) * (1.0 + driver)
    spend, rows, media = {}, [], np.zeros(weeks)
    for name in names:
        budget = rng.uniform(0.5, 2.0) * 2_000.0
        on = rng.random(weeks) < rng.uniform(0.55, 0.95)
        x = np.where(on, budget * rng.lognormal(0.0, 0.35, weeks), 0.0)
        if name == names[0] and confounding > 0:
            x = x * np.exp(6.0 * driver)
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
                     "inflexion": inflexion, "beta": beta, "spend": x.sum(),
                     "contribution": contribution.sum(), "roi": roi})
    revenue = (baseline + media) * (1.0 + noise * rng.standard_normal(weeks))
    truth = pd.DataFrame(rows)
    truth["share_of_revenue"] = truth["contribution"] / revenue.sum()
    truth.attrs["driver"] = driver
    data = MMMData(spend=pd.DataFrame(spend, index=index),
                   revenue=pd.Series(revenue, index=index, name="revenue"),
                   controls=pd.DataFrame({"event_days": events}, index=index))
    return data, truth


def true_incremental(data: MMMData, truth: pd.DataFrame, channel: str, first: int,
                     weeks: int = 4, post_weeks: int = 0) -> float:
    """Revenue the channel truly brought in weeks first..first+weeks-1 and the `post_weeks`
    after them: its contribution with spend switched off in the window subtracted
    (carry-over after the counted weeks excluded)."""
    row = truth.set_index("channel").loc[channel]
    x = data.spend[channel].to_numpy(float)
    off = x.copy()
    off[first: first + weeks] = 0.0

    def contribution(spend: np.ndarray) -> np.ndarray:
        adstock, carry = np.zeros(len(spend)), 0.0
        for w, v in enumerate(spend):
            carry = v + row.theta * carry
            adstock[w] = carry
        a = adstock**row.alpha
        return row.beta * a / (a + row.inflexion**row.alpha)

    return float((contribution(x) - contribution(off))[first: first + weeks + post_weeks].sum())


def lift_tests(data: MMMData, truth: pd.DataFrame, channel: str, starts: list[int],
               relative_se: float = 0.1, seed: int = 0, bias: float = 1.0,
               post_weeks: int = 0) -> pd.DataFrame:
    """4-week lift tests of `channel` starting at week indices `starts`: the true incremental
    (times `bias`, to make a test that is wrong) plus an error of `relative_se`, stated;
    counted `post_weeks` beyond the window when given (`measured_until`)."""
    rng = np.random.default_rng(seed)
    weeks = data.spend.index
    rows = []
    for first in starts:
        measured = bias * true_incremental(data, truth, channel, first, post_weeks=post_weeks) * (
            1.0 + relative_se * rng.standard_normal())
        last_counted = weeks[first + 3 + post_weeks] + pd.Timedelta(days=6)
        rows.append({"channel": channel, "start_date": weeks[first],
                     "end_date": weeks[first + 3] + pd.Timedelta(days=6),
                     "incremental_revenue": measured,
                     "spend": float(data.spend[channel].iloc[first: first + 4].sum()),
                     "std_error": relative_se * abs(measured),
                     "measured_until": last_counted if post_weeks else pd.NaT})
    return pd.DataFrame(rows)
