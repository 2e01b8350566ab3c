"""Ad spend with realistic flighting, and what it truly does: adstock, saturation, contribution.

The true media model is weekly and additive in revenue, per country and channel:
    adstock_w  = spend_w + theta * adstock_{w-1}           (geometric, not normalised)
    saturation = adstock^alpha / (adstock^alpha + gamma^alpha)   (Hill)
    contribution_w = beta * saturation                       (revenue per week)
Weekly so the parameters are exactly those a weekly mix model can recover.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from liftline.synth.config import CHANNELS, Channel
from liftline.synth.dimensions import rng_for

MEDIA_BUDGET_SHARE = 0.09  # yearly media budget as a share of a country's organic revenue


def geometric_adstock(x: np.ndarray, theta: float) -> np.ndarray:
    out = np.empty_like(x, dtype=float)
    carry = 0.0
    for i, v in enumerate(x):
        carry = v + theta * carry
        out[i] = carry
    return out


def hill(x: np.ndarray, alpha: float, gamma: float) -> np.ndarray:
    x = np.maximum(np.asarray(x, dtype=float), 0.0)
    xa = x**alpha
    return xa / (xa + gamma**alpha)


@dataclass
class MediaWorld:
    spend: pd.DataFrame  # daily rows per campaign: date, campaign_id, channel, country, ...
    weekly: pd.DataFrame  # country, channel, week_start, spend, adstock, saturation, contribution
    params: pd.DataFrame  # country, channel, theta, alpha, gamma, beta, roi_target, b2b_roi_target
    multiplier: dict[str, np.ndarray]  # country -> media lift of POS units per day (M)
    week_campaign: dict[tuple[str, str], np.ndarray]  # campaign running each week ("" if none)


def weekly_intensity(ch: Channel, n_weeks: int, weekofyear: np.ndarray,
                     demand: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Relative spend per week: flights, dark weeks and correlated Q4 pushes, not noise."""
    q4 = (weekofyear >= 43) & (weekofyear <= 51)
    on = np.zeros(n_weeks, dtype=bool)
    if ch.flighting == "flights":
        w = 0
        while w < n_weeks:
            run, gap = int(rng.integers(2, 5)), int(rng.integers(2, 7))
            on[w : w + run] = True
            w += run + gap
        on |= q4
        level = rng.lognormal(0, 0.25, n_weeks)
    elif ch.flighting == "monthly":
        for start in range(0, n_weeks, 4):
            on[start : start + 4] = rng.random() < 0.5
        on |= q4
        level = np.repeat(rng.lognormal(0, 0.2, n_weeks // 4 + 1), 4)[:n_weeks]
    elif ch.flighting == "bursts":
        w = 0
        while w < n_weeks:
            run, gap = int(rng.integers(1, 4)), int(rng.integers(1, 6))
            on[w : w + run] = True
            w += run + gap
        level = rng.lognormal(0, 0.35, n_weeks)
    else:  # always on, "demand" following sales seasonality
        on[:] = True
        on &= rng.random(n_weeks) > 0.03  # rare budget freezes
        base = demand / demand.mean() if ch.flighting == "demand" else 1.0
        bursts = np.where(rng.random(n_weeks) < 0.1, 1.8, 1.0)
        level = base * bursts * rng.lognormal(0, 0.12, n_weeks)
    push = np.where(q4, 1.6, 1.0)
    return on * level * push


def demand_driver(countries: list[str], n_weeks: int, sd: float, persistence: float,
                  seed: int) -> dict[str, np.ndarray]:
    """A hidden weekly demand driver per country: AR(1) on log demand, stationary sd `sd`."""
    out = {}
    for country in countries:
        rng = rng_for(seed, "demand_driver", country)
        shocks = rng.normal(0.0, sd * np.sqrt(1.0 - persistence**2), n_weeks)
        driver = np.empty(n_weeks)
        driver[0] = rng.normal(0.0, sd)
        for w in range(1, n_weeks):
            driver[w] = persistence * driver[w - 1] + shocks[w]
        out[country] = driver
    return out


def make_media(
    countries: list[str],
    days: pd.DatetimeIndex,
    history_days: int,
    organic_revenue: dict[str, np.ndarray],
    seed: int,
    driver: dict[str, np.ndarray] | None = None,
    planned: dict[str, float] | None = None,
) -> MediaWorld:
    """Spend, true parameters and contributions for every country x channel.

    `planned` channels spend exp(elasticity x driver) times more in a week whose hidden demand
    `driver` (log, per country and week) is high: planners who see demand coming.
    """
    planned = planned or {}
    n_days = len(days)
    week_of_day = np.arange(n_days) // 7
    n_weeks = int(week_of_day[-1]) + 1
    week_starts = days[::7]
    weekofyear = week_starts.isocalendar().week.to_numpy().astype(int)
    hist_weeks = history_days // 7
    years = history_days / 365.25

    spend_frames, weekly_frames, param_rows = [], [], []
    multiplier: dict[str, np.ndarray] = {}
    week_campaign: dict[tuple[str, str], np.ndarray] = {}
    for country in countries:
        organic_week = np.bincount(week_of_day, weights=organic_revenue[country], minlength=n_weeks)
        budget = MEDIA_BUDGET_SHARE * organic_revenue[country][:history_days].sum() / years
        media_week = np.zeros(n_weeks)
        for ch in CHANNELS:
            rng = rng_for(seed, "media", country, ch.name)
            intensity = weekly_intensity(ch, n_weeks, weekofyear, organic_week, rng)
            if ch.name in planned and driver is not None:
                intensity = intensity * np.exp(planned[ch.name] * driver[country])
            scale = budget * ch.budget_share * years / max(intensity[:hist_weeks].sum(), 1e-9)
            spend_w = intensity * scale
            daily, camp_w = _daily_spend(country, ch, spend_w, days, rng)
            spend_frames.append(daily)
            week_campaign[(country, ch.name)] = camp_w

            theta = rng.uniform(*ch.theta)
            alpha = rng.uniform(*ch.alpha)
            adstock = geometric_adstock(spend_w, theta)
            gamma = rng.uniform(0.5, 1.5) * adstock[adstock > 0].mean()
            sat = hill(adstock, alpha, gamma)
            roi_target = rng.uniform(*ch.roi)
            beta = roi_target * spend_w[:hist_weeks].sum() / max(sat[:hist_weeks].sum(), 1e-9)
            contribution = beta * sat
            media_week += contribution
            weekly_frames.append(
                pd.DataFrame(
                    {
                        "country": country,
                        "channel": ch.name,
                        "week_start": week_starts.date,
                        "spend": spend_w,
                        "adstock": adstock,
                        "saturation": sat,
                        "contribution": contribution,
                    }
                )
            )
            param_rows.append(
                {
                    "country": country,
                    "channel": ch.name,
                    "theta": theta,
                    "alpha": alpha,
                    "gamma": gamma,
                    "beta": beta,
                    "roi_target": roi_target,
                    "b2b_roi_target": rng.uniform(*ch.b2b_roi),
                }
            )
        # Media revenue lifts every store-SKU of the country by the same share that week.
        multiplier[country] = (media_week / np.maximum(organic_week, 1e-9))[week_of_day]
    spend = pd.concat(spend_frames, ignore_index=True)
    return MediaWorld(
        spend=spend,
        weekly=pd.concat(weekly_frames, ignore_index=True),
        params=pd.DataFrame(param_rows),
        multiplier=multiplier,
        week_campaign=week_campaign,
    )


CHANNEL_CODES = {"tv": "TV", "ooh": "OOH", "online_video": "OLV", "social": "SOC",
                 "display": "DIS", "search": "SEA"}


def _daily_spend(country: str, ch: Channel, spend_w: np.ndarray, days: pd.DatetimeIndex,
                 rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """Spread weekly spend over days and name the campaigns (one per flight or quarter)."""
    n_days = len(days)
    n_weeks = len(spend_w)
    # Campaign ids: a new one whenever a flight starts, and each quarter for always-on buys.
    camp_w = np.array([""] * n_weeks, dtype=object)
    counter, prev_on, prev_q = 0, False, None
    quarters = days[::7].quarter.to_numpy() + 10 * days[::7].year.to_numpy()
    for w in range(n_weeks):
        on = spend_w[w] > 0
        if on and (not prev_on or (ch.flighting in ("always_on", "demand") and quarters[w] != prev_q)):
            counter += 1
        if on:
            camp_w[w] = f"CMP-{country}-{CHANNEL_CODES[ch.name]}-{counter:03d}"
        prev_on, prev_q = on, quarters[w]

    week_of_day = np.arange(n_days) // 7
    if ch.flighting in ("flights", "monthly"):  # broadcast and outdoor: even over the week
        shape = np.ones(n_days)
    else:  # digital: weekday pattern plus daily noise
        shape = np.array([1.05, 1.05, 1.0, 1.0, 0.95, 0.9, 0.95])[days.dayofweek]
        shape = shape * rng.lognormal(0, 0.15, n_days)
    shape_sum = np.bincount(week_of_day, weights=shape, minlength=n_weeks)
    spend_d = spend_w[week_of_day] * shape / shape_sum[week_of_day]
    spend_d = np.round(spend_d, 2)
    keep = spend_d > 0
    impressions = np.round(spend_d / ch.cpm * 1000 * rng.lognormal(0, 0.1, n_days))
    clicks = np.round(impressions * ch.ctr * rng.lognormal(0, 0.2, n_days)) if ch.ctr else None
    views = np.round(impressions * rng.uniform(0.25, 0.45, n_days)) if ch.video else None
    frame = pd.DataFrame(
        {
            "date": days.date,
            "campaign_id": camp_w[week_of_day],
            "channel": ch.name,
            "country": country,
            "spend": spend_d,
            "impressions": impressions,
            "clicks": clicks if clicks is not None else np.nan,
            "video_views": views if views is not None else np.nan,
        }
    )[keep]
    # Spend rounding changes weekly totals by cents; keep the truth equal to what is delivered.
    spend_w[:] = np.bincount(week_of_day[keep], weights=spend_d[keep], minlength=n_weeks)
    return frame, camp_w



def dark_weeks_incremental(p, spend_w: np.ndarray, w0: int, weeks: int = 4,
                           post_weeks: int = 0) -> float:
    """True revenue a channel (params `p`) brings over weeks w0..w0+weeks, and the
    `post_weeks` after them: its contribution with the planned spend minus with the channel
    dark in weeks w0..w0+weeks."""
    off = spend_w.copy()
    off[w0 : w0 + weeks] = 0
    with_ch = p.beta * hill(geometric_adstock(spend_w, p.theta), p.alpha, p.gamma)
    without = p.beta * hill(geometric_adstock(off, p.theta), p.alpha, p.gamma)
    return float((with_ch - without)[w0 : w0 + weeks + post_weeks].sum())


REACH_FLIGHTING = ("flights", "monthly")  # broadcast, outdoor, video: slow to decay


def post_period_weeks(channel: str, post_weeks: int) -> int:
    """Weeks a test of `channel` keeps counting after its window: `post_weeks` for reach
    media (an experimenter expects their carry-over), none for digital channels."""
    flighting = {c.name: c.flighting for c in CHANNELS}.get(channel)
    return post_weeks if flighting in REACH_FLIGHTING else 0


def _test_row(p, spend_w: np.ndarray, days: pd.DatetimeIndex, w0: int, post: int,
              estimate: float, se: float, true_inc: float) -> dict:
    """One lift_tests row: 4 dark weeks from week w0, counted `post` weeks beyond them."""
    return {
        "channel": p.channel,
        "start_date": days[w0 * 7].date(),
        "end_date": days[w0 * 7 + 27].date(),
        "incremental_revenue": round(estimate, 2),
        "spend": round(float(spend_w[w0 : w0 + 4].sum()), 2),
        "std_error": round(se, 2),
        "country": p.country,
        "measured_until": days[(w0 + 4 + post) * 7 - 1].date() if post else None,
        "true_incremental_revenue": round(true_inc, 2),
    }

def lift_tests(media: MediaWorld, history_days: int, days: pd.DatetimeIndex, seed: int,
               per_channel: int = 2, post_weeks: int = 0) -> pd.DataFrame:
    """Geo/holdout experiment results derived from the truth, with honest noise.

    incremental_revenue is the POS revenue the channel's contribution would have lost had its
    spend been switched off during the 4-week window, counted over the window and, for reach
    media, the `post_weeks` after it (`measured_until`; carry-over after that excluded).
    """
    rows = []
    hist_weeks = history_days // 7
    for p in media.params.itertuples():
        rng = rng_for(seed, "lift_tests", p.country, p.channel)
        wk = media.weekly[(media.weekly.country == p.country) & (media.weekly.channel == p.channel)]
        spend_w = wk.spend.to_numpy()
        post = post_period_weeks(p.channel, post_weeks)
        # An experiment runs while the channel is live: at least half of its weeks have spend.
        candidates = [w for w in range(4, hist_weeks - 4 - post)
                      if (spend_w[w : w + 4] > 0).sum() >= 2]
        if not candidates:
            continue
        for w0 in sorted(rng.choice(candidates, size=min(per_channel, len(candidates)),
                                    replace=False)):
            true_inc = dark_weeks_incremental(p, spend_w, w0, post_weeks=post)
            se = 0.12 * true_inc + 50.0
            rows.append(_test_row(p, spend_w, days, w0, post, true_inc + rng.normal(0, se), se,
                                  true_inc))
    return pd.DataFrame(rows)


def geo_lift_tests(media: MediaWorld, history_days: int, days: pd.DatetimeIndex, seed: int,
                   channels: tuple[str, ...], per_channel: int, relative_se: float,
                   post_weeks: int = 0) -> pd.DataFrame:
    """Geo experiments on `channels`: in each, the channel goes dark for 4 weeks in a random
    half of the country's regions, and the lift read from treated against control regions,
    scaled to the country, is the truth's incremental POS revenue plus the experiment's error;
    the stated standard error is `relative_se` of the estimate (as a vendor would report it).
    Same columns as `lift_tests`."""
    rows = []
    hist_weeks = history_days // 7
    for p in media.params[media.params.channel.isin(channels)].itertuples():
        rng = rng_for(seed, "geo_lift_tests", p.country, p.channel)
        wk = media.weekly[(media.weekly.country == p.country) & (media.weekly.channel == p.channel)]
        spend_w = wk.spend.to_numpy()
        post = post_period_weeks(p.channel, post_weeks)
        candidates = [w for w in range(4, hist_weeks - 4 - post)
                      if (spend_w[w : w + 4] > 0).all()]
        for w0 in sorted(rng.choice(candidates, size=min(per_channel, len(candidates)),
                                    replace=False)):
            true_inc = dark_weeks_incremental(p, spend_w, w0, post_weeks=post)
            estimate = true_inc * (1.0 + relative_se * rng.standard_normal())
            rows.append(_test_row(p, spend_w, days, w0, post, estimate,
                                  relative_se * abs(estimate), true_inc))
    return pd.DataFrame(rows)
