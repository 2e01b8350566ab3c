"""The B2B funnel: campaigns create CRM opportunities; won deals become ERP invoices months later.

Opportunities a channel creates in a week follow its own saturation curve (the same Hill of
the same adstock as its POS effect), so media drives both store sales and the pipeline.
Won deals are invoiced 1-8 months after they close, in one to three instalments: revenue
arrives roughly 3-12 months after the campaign. Accounts also reorder without any campaign.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from liftline.synth.config import CATEGORIES, CRM_STAGE_FRACTIONS, EPOCH, Scale
from liftline.synth.dimensions import rng_for
from liftline.synth.media import MediaWorld

WIN_RATE = {"tv": 0.22, "ooh": 0.2, "online_video": 0.26, "social": 0.28, "display": 0.25,
            "search": 0.36, "": 0.33}
OPEN_STAGES = ("Prospecting", "Qualification", "Proposal", "Negotiation")


@dataclass
class Funnel:
    accounts: pd.DataFrame
    opportunities: pd.DataFrame  # one row per opportunity, with its full timeline
    invoices: pd.DataFrame  # B2B invoices (won deals and reorders), without invoice ids yet


def make_funnel(scale: Scale, countries: list[str], media: MediaWorld,
                yearly_revenue: dict[str, float], seed: int) -> Funnel:
    accounts = _accounts(scale, countries, seed)
    opps = _opportunities(scale, countries, media, yearly_revenue, accounts, seed)
    invoices = pd.concat(
        [_won_invoices(opps, seed), _reorders(scale, accounts, yearly_revenue, seed)],
        ignore_index=True,
    )
    return Funnel(accounts, opps, invoices)


def _accounts(scale: Scale, countries: list[str], seed: int) -> pd.DataFrame:
    rng = rng_for(seed, "accounts")
    n = scale.b2b_accounts
    country = rng.choice(countries, size=n)
    return pd.DataFrame(
        {
            "customer_id": [f"AC-{i + 1:05d}" for i in range(n)],
            "country": country,
            "region": [f"{c}-R{r}" for c, r in
                       zip(country, rng.integers(1, scale.regions_per_country + 1, n), strict=True)],
            "signup_date": [EPOCH - timedelta(days=int(d)) for d in rng.integers(30, 3000, n)],
            "size": rng.lognormal(0, 0.7, n),  # bigger accounts buy more and reorder more
        }
    )


def _opportunities(scale: Scale, countries: list[str], media: MediaWorld,
                   yearly_revenue: dict[str, float], accounts: pd.DataFrame,
                   seed: int) -> pd.DataFrame:
    cats = [c.name for c in CATEGORIES[: scale.categories]]
    hist_weeks = scale.history_days // 7
    rows = []
    for country in countries:
        deal_size = 0.0015 * yearly_revenue[country]
        acc = accounts[accounts.country == country]
        weights = acc["size"].to_numpy() / acc["size"].sum()
        sources = [(p.channel, p) for p in media.params[media.params.country == country]
                   .itertuples()] + [("", None)]
        for channel, p in sources:
            rng = rng_for(seed, "opps", country, channel or "organic")
            if p is None:  # pipeline that no campaign created: referrals, repeat buyers
                lam = np.full(len(media.weekly.week_start.unique()), 1.5)
                campaigns = np.array([""] * len(lam), dtype=object)
            else:
                wk = media.weekly[(media.weekly.country == country)
                                  & (media.weekly.channel == channel)]
                sat = wk.saturation.to_numpy()
                spend = wk.spend.to_numpy()
                kappa = p.b2b_roi_target * spend[:hist_weeks].sum() / (
                    WIN_RATE[channel] * deal_size * max(sat[:hist_weeks].sum(), 1e-9))
                lam = kappa * sat
                campaigns = media.week_campaign[(country, channel)]
            counts = rng.poisson(lam)
            for w in np.flatnonzero(counts):
                for _ in range(counts[w]):
                    rows.append(_one_opportunity(rng, country, channel, campaigns[w], w,
                                                 deal_size, cats, acc, weights))
    opps = pd.DataFrame(rows).sort_values(["created_date", "country", "channel"],
                                          ignore_index=True)
    opps.insert(0, "opportunity_id", [f"OP-{i + 1:06d}" for i in range(len(opps))])
    return opps


def _one_opportunity(rng, country, channel, campaign, week, deal_size, cats, acc, weights):
    created = EPOCH + timedelta(days=int(week * 7 + rng.integers(0, 7)))
    won = rng.random() < WIN_RATE[channel]
    cycle = int(rng.integers(30, 150)) if won else int(rng.integers(10, 120))
    # Lost deals stop at the stage they reached; the stage dates are fractions of the cycle.
    reached = 4 if won else int(rng.integers(1, 5))
    stage_dates = [created + timedelta(days=int(f * cycle))
                   for f in CRM_STAGE_FRACTIONS[:reached]]
    category = str(rng.choice(cats))
    return {
        "created_date": created,
        "country": country,
        "channel": channel,
        "campaign_id": campaign or None,
        "account_id": str(rng.choice(acc.customer_id.to_numpy(), p=weights)),
        "product_category": category,
        "amount": round(float(deal_size * rng.lognormal(-0.18, 0.6)), 2),
        "won": won,
        "stage_dates": stage_dates,  # dates it entered Prospecting, Qualification, ...
        "close_date": created + timedelta(days=cycle),
    }


def crm_snapshot(opps: pd.DataFrame, first: date, last: date) -> pd.DataFrame:
    """Opportunities that changed in [first, last], each with its stage as of `last`."""
    rows = []
    for o in opps[opps.created_date <= last].itertuples():
        closed = o.close_date <= last
        if closed:
            stage, changed = ("Closed Won" if o.won else "Closed Lost"), o.close_date
        else:
            k = max(i for i, d in enumerate(o.stage_dates) if d <= last)
            stage, changed = OPEN_STAGES[k], o.stage_dates[k]
        if changed < first:
            continue
        rows.append(
            {
                "opportunity_id": o.opportunity_id,
                "created_date": o.created_date,
                "stage": stage,
                "amount": o.amount,
                "campaign_id": o.campaign_id,
                "account_id": o.account_id,
                "close_date": o.close_date,
                "country": o.country,
                "product_category": o.product_category,
            }
        )
    return pd.DataFrame(rows, columns=["opportunity_id", "created_date", "stage", "amount",
                                       "campaign_id", "account_id", "close_date", "country",
                                       "product_category"])


def _won_invoices(opps: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = rng_for(seed, "won_invoices")
    rows = []
    for o in opps[opps.won].itertuples():
        first = o.close_date + timedelta(days=int(rng.integers(30, 240)))
        parts = int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2]))
        shares = rng.dirichlet(np.ones(parts) * 3)
        amounts = np.round(shares * o.amount, 2)
        amounts[-1] = round(o.amount - amounts[:-1].sum(), 2)
        for k, amount in enumerate(amounts):
            rows.append(
                {
                    "invoice_date": first + timedelta(days=30 * k),
                    "amount": float(amount),
                    "customer_id": o.account_id,
                    "opportunity_id": o.opportunity_id,
                    "country": o.country,
                    "product_category": o.product_category,
                    "sku": None,
                    "quantity": None,
                    "days_late": 0.0,
                    "channel": o.channel,
                }
            )
    return pd.DataFrame(rows)


def _reorders(scale: Scale, accounts: pd.DataFrame, yearly_revenue: dict[str, float],
              seed: int) -> pd.DataFrame:
    """Recurring orders of existing accounts: ERP revenue that no campaign created."""
    rng = rng_for(seed, "reorders")
    cats = [c.name for c in CATEGORIES[: scale.categories]]
    rows = []
    months = scale.horizon_days // 30
    for a in accounts.itertuples():
        size = 0.0012 * yearly_revenue[a.country] * a.size
        for m in range(months):
            if rng.random() < min(0.9, 0.25 * a.size):
                rows.append(
                    {
                        "invoice_date": EPOCH + timedelta(days=int(m * 30 + rng.integers(0, 30))),
                        "amount": round(float(size * rng.lognormal(0, 0.4)), 2),
                        "customer_id": a.customer_id,
                        "opportunity_id": None,
                        "country": a.country,
                        "product_category": str(rng.choice(cats)),
                        "sku": None,
                        "quantity": None,
                        "days_late": 0.0,
                        "channel": "",
                    }
                )
    return pd.DataFrame(rows)
