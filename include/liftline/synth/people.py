"""Consumers with a latent behaviour type, their online orders, and their service interactions.

The latent type drives purchase frequency and basket size, and shows in the demographics
(income, age). The probability that an interaction ends in low satisfaction (rating 1-2) is
    logit p = -1.9 + type_of_interaction + channel + 0.45 * log(handling_hours / 2)
              + 0.8 * repeat_contact + 0.7 * late_delivery + 0.1 * min(days_late, 5)
              + customer traits (age, latent type)
and the truth keeps each interaction's p.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from liftline.synth.config import EPOCH, Scale
from liftline.synth.dimensions import rng_for

# type: (share, orders per month, extra units per order, age mean, income median, logit effect)
CUSTOMER_TYPES = {
    "champion": (0.08, 2.2, 6.0, 44, 72000, -0.4),
    "loyal": (0.20, 1.1, 3.0, 48, 52000, -0.2),
    "bargain_hunter": (0.20, 0.8, 2.0, 36, 34000, 0.3),
    "occasional": (0.32, 0.25, 2.0, 40, 42000, 0.0),
    "churned": (0.12, 0.9, 2.5, 39, 40000, 0.5),
    "new": (0.08, 0.9, 2.5, 31, 38000, 0.0),
}
INTERACTION_TYPES = {"delivery_issue": 0.6, "billing": 0.2, "product_defect": 0.5,
                     "return": 0.0, "inquiry": -0.8, "technical": 0.3}
CHANNELS = {"phone": (0.0, 1.0), "email": (0.3, 20.0), "chat": (-0.2, 0.5),
            "store": (-0.3, 0.5)}  # (logit effect, median handling hours)
LATE_SHARE, LATE_SHARE_Q4 = 0.07, 0.15


@dataclass
class People:
    consumers: pd.DataFrame  # contract columns plus latent_type
    orders: pd.DataFrame  # consumer ERP invoices (without invoice ids yet)
    service: pd.DataFrame  # every interaction with its full timeline and true p


def make_people(scale: Scale, countries: list[str], products: pd.DataFrame, seed: int) -> People:
    consumers = _consumers(scale, countries, seed)
    orders = _orders(scale, consumers, products, seed)
    service = _service(scale, consumers, orders, seed)
    return People(consumers, orders, service)


def _consumers(scale: Scale, countries: list[str], seed: int) -> pd.DataFrame:
    rng = rng_for(seed, "consumers")
    n = scale.consumers
    names = list(CUSTOMER_TYPES)
    kind = rng.choice(names, size=n, p=[CUSTOMER_TYPES[k][0] for k in names])
    age_mean = np.array([CUSTOMER_TYPES[k][3] for k in kind])
    income_med = np.array([CUSTOMER_TYPES[k][4] for k in kind])
    age = np.clip(np.round(rng.normal(age_mean, 11)), 18, 90)
    income = np.round(income_med * rng.lognormal(0, 0.35, n), -2)
    country = rng.choice(countries, size=n)
    signup = np.where(
        kind == "new",
        rng.integers(120, scale.history_days - 30, n),
        rng.integers(-1500, 200, n),
    )
    frame = pd.DataFrame(
        {
            "customer_id": [f"CU-{i + 1:06d}" for i in range(n)],
            "age": age,
            "gender": rng.choice(["F", "M", "X"], size=n, p=[0.5, 0.48, 0.02]),
            "income": income,
            "region": [f"{c}-R{r}" for c, r in
                       zip(country, rng.integers(1, scale.regions_per_country + 1, n), strict=True)],
            "country": country,
            "marital_status": rng.choice(["single", "married", "divorced", "widowed"], size=n,
                                         p=[0.38, 0.45, 0.12, 0.05]),
            "signup_date": [EPOCH + timedelta(days=int(d)) for d in signup],
            "latent_type": kind,
        }
    )
    # Real CRMs miss demographics: blank a few.
    for col, share in (("age", 0.04), ("income", 0.08), ("gender", 0.03), ("marital_status", 0.1)):
        frame.loc[rng.random(n) < share, col] = None
    churn = np.where(kind == "churned", rng.integers(90, max(91, scale.history_days // 2), n),
                     scale.horizon_days)
    frame["active_until"] = churn
    frame["signup_day"] = np.maximum(signup, 0)
    return frame


def _orders(scale: Scale, consumers: pd.DataFrame, products: pd.DataFrame,
            seed: int) -> pd.DataFrame:
    rng = rng_for(seed, "orders")
    rate = consumers.latent_type.map(lambda k: CUSTOMER_TYPES[k][1]).to_numpy()
    extra = consumers.latent_type.map(lambda k: CUSTOMER_TYPES[k][2]).to_numpy()
    start = consumers.signup_day.to_numpy()
    end = np.minimum(consumers.active_until.to_numpy(), scale.horizon_days)
    months = np.maximum(end - start, 0) / 30.4
    counts = rng.poisson(rate * months * 1.15)
    who = np.repeat(np.arange(len(consumers)), counts)
    day = rng.integers(start[who], np.maximum(end[who], start[who] + 1))
    when = pd.to_datetime(EPOCH) + pd.to_timedelta(day, unit="D")
    # Thin outside the fourth quarter: online orders peak before Christmas.
    keep = rng.random(len(day)) < np.where(when.month >= 10, 1.0, 0.8)
    who, day, when = who[keep], day[keep], when[keep]
    pop = products.popularity.to_numpy() / products.popularity.sum()
    sku_i = rng.choice(len(products), size=len(who), p=pop)
    qty = 1 + rng.poisson(extra[who])
    price = products.list_price.to_numpy()[sku_i]
    late_share = np.where(when.month >= 11, LATE_SHARE_Q4, LATE_SHARE)
    late = rng.random(len(who)) < late_share
    days_late = np.where(late, 1 + rng.poisson(2, len(who)), 0)
    return pd.DataFrame(
        {
            "invoice_date": when.date,
            "amount": np.round(qty * price, 2),
            "customer_id": consumers.customer_id.to_numpy()[who],
            "opportunity_id": None,
            "country": consumers.country.to_numpy()[who],
            "product_category": products.category.to_numpy()[sku_i],
            "sku": products.sku.to_numpy()[sku_i],
            "quantity": qty.astype(float),
            "days_late": days_late.astype(float),
            "channel": "",
            "day": day,
        }
    ).sort_values(["day", "customer_id"], ignore_index=True)


def _service(scale: Scale, consumers: pd.DataFrame, orders: pd.DataFrame,
             seed: int) -> pd.DataFrame:
    rng = rng_for(seed, "service")
    rows = []
    # Contacts that late deliveries cause, a few days after the goods should have come.
    late = orders[orders.days_late > 0]
    caused = late[rng.random(len(late)) < 0.5]
    for o in caused.itertuples():
        rows.append((o.customer_id, o.day + o.days_late + rng.uniform(0, 3), "delivery_issue"))
    # Everyday contacts.
    span = np.maximum(np.minimum(consumers.active_until, scale.horizon_days)
                      - consumers.signup_day, 0)
    counts = rng.poisson(0.08 * span / 30.4)
    for c, k in zip(consumers.itertuples(), counts, strict=True):
        for _ in range(k):
            itype = str(rng.choice(list(INTERACTION_TYPES), p=[0.1, 0.2, 0.15, 0.2, 0.25, 0.1]))
            rows.append((c.customer_id, c.signup_day + rng.uniform(0, span[c.Index]), itype))
    frame = pd.DataFrame(rows, columns=["customer_id", "t", "interaction_type"])
    frame = frame[frame.t < scale.horizon_days].sort_values(["t", "customer_id"],
                                                            ignore_index=True)
    return _score_interactions(frame, consumers, orders, rng)


def _score_interactions(frame: pd.DataFrame, consumers: pd.DataFrame, orders: pd.DataFrame,
                        rng: np.random.Generator) -> pd.DataFrame:
    n = len(frame)
    traits = consumers.set_index("customer_id")
    channel = rng.choice(list(CHANNELS), size=n, p=[0.35, 0.25, 0.3, 0.1])
    type_factor = frame.interaction_type.map({"technical": 2.0, "product_defect": 1.5}).fillna(1.0)
    median_h = np.array([CHANNELS[c][1] for c in channel])
    hours = median_h * type_factor.to_numpy() * rng.lognormal(0, 0.6, n)

    # Repeat contact: the same customer reached out in the 14 days before.
    prev_t = frame.groupby("customer_id").t.shift()
    repeat = ((frame.t - prev_t) <= 14).to_numpy()
    # Late delivery: the customer's latest order before the contact arrived late (21 days).
    last_late = _latest_late_order(frame, orders)

    age = traits.age.reindex(frame.customer_id).to_numpy(dtype=float)
    kind = traits.latent_type.reindex(frame.customer_id).to_numpy()
    logit = (
        -1.9
        + frame.interaction_type.map(INTERACTION_TYPES).to_numpy()
        + np.array([CHANNELS[c][0] for c in channel])
        + 0.45 * np.log(hours / 2)
        + 0.8 * repeat
        + 0.7 * (last_late > 0)
        + 0.1 * np.minimum(last_late, 5)
        + np.where(age < 30, 0.15, 0.0) - np.where(age > 65, 0.1, 0.0)
        + np.array([CUSTOMER_TYPES[k][5] for k in kind])
    )
    p = 1 / (1 + np.exp(-logit))
    low = rng.random(n) < p
    rating = np.where(low, rng.choice([1, 2], n, p=[0.55, 0.45]),
                      rng.choice([3, 4, 5], n, p=[0.25, 0.4, 0.35])).astype(float)
    rating[rng.random(n) < 0.2] = np.nan  # survey not answered
    status = np.where(low, rng.choice(["resolved", "unresolved", "escalated"], n,
                                      p=[0.45, 0.35, 0.2]),
                      rng.choice(["resolved", "unresolved", "escalated"], n,
                                 p=[0.9, 0.05, 0.05]))
    opened = [datetime.combine(EPOCH, datetime.min.time()) + timedelta(days=float(t))
              for t in frame.t]
    opened = [o.replace(second=0, microsecond=0) for o in opened]
    return pd.DataFrame(
        {
            "interaction_id": [f"SR-{i + 1:07d}" for i in range(n)],
            "customer_id": frame.customer_id.to_numpy(),
            "opened_at": opened,
            "interaction_type": frame.interaction_type.to_numpy(),
            "channel": channel,
            "closed_at": [o + timedelta(hours=float(h)) for o, h in zip(opened, hours, strict=True)],
            "satisfaction_rating": rating,
            "resolution_status": status,
            "p_low_satisfaction": p,
            "is_low": low,
            "handling_hours": hours,
            "repeat_contact": repeat,
            "days_late_before": last_late,
        }
    )


def _latest_late_order(frame: pd.DataFrame, orders: pd.DataFrame) -> np.ndarray:
    """days_late of the customer's latest order delivered in the 21 days before each contact."""
    left = frame.reset_index()[["index", "customer_id", "t"]].sort_values("t")
    right = orders.assign(t_delivered=orders.day + orders.days_late)[
        ["customer_id", "t_delivered", "days_late"]].sort_values("t_delivered")
    joined = pd.merge_asof(left, right, left_on="t", right_on="t_delivered", by="customer_id",
                           direction="backward", tolerance=21)
    joined = joined.set_index("index").sort_index()
    return joined.days_late.fillna(0).to_numpy()


def service_snapshot(service: pd.DataFrame, first: datetime, last: datetime) -> pd.DataFrame:
    """Interactions opened or closed in [first, last], as the service desk saw them at `last`."""
    opened_in = (service.opened_at >= first) & (service.opened_at <= last)
    closed_in = (service.closed_at >= first) & (service.closed_at <= last)
    snap = service[(opened_in | closed_in) & (service.opened_at <= last)].copy()
    still_open = snap.closed_at > last
    snap["closed_at"] = snap.closed_at.where(~still_open, None)
    snap.loc[still_open, "satisfaction_rating"] = np.nan
    snap.loc[still_open, "resolution_status"] = "open"
    return snap
