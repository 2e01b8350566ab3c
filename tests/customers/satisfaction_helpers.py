"""A small feat_service_interaction world for the satisfaction tests: fast, with a known truth.

Low ratings follow a logistic truth in channel, type, repeat contact and handling time, so a
model has something to learn; email contacts take about a day, so some are open at the end.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from liftline.customers import SatisfactionSpec, load_satisfaction_spec
from liftline.warehouse import bulk_insert, table

START = date(2024, 1, 1)
DAYS = 160
AS_OF = START + timedelta(days=DAYS - 1)
CHANNELS = {"phone": (0.0, 1.0), "email": (0.6, 40.0), "chat": (-0.4, 0.5)}
TYPES = {"delivery_issue": 0.7, "billing": 0.2, "inquiry": -0.9}


def small_spec(**model: object) -> SatisfactionSpec:
    """The shipped spec with windows and sizes scaled to this small world."""
    spec = load_satisfaction_spec()
    settings = {**spec.section("model"), "holdout_weeks": 4, "calibration_weeks": 4,
                "settle_days": 3, "min_labelled": 100, "min_scored_rows": 10,
                "n_estimators": 40, "kind": "logistic", **model}
    return dataclasses.replace(spec, model=settings)


def service_features(n: int = 1600, seed: int = 3, as_of: date = AS_OF) -> pd.DataFrame:
    """feat_service_interaction rows as a build at `as_of` writes them."""
    rng = np.random.default_rng(seed)
    opened = (pd.Timestamp(START) + pd.to_timedelta(np.sort(rng.uniform(0, DAYS, n)), unit="D")
              ).floor("min")
    customers = rng.integers(0, n // 6, n).astype(str)
    channel = rng.choice(list(CHANNELS), n, p=[0.4, 0.35, 0.25])
    kind = rng.choice(list(TYPES), n)
    hours = np.array([CHANNELS[c][1] for c in channel]) * rng.lognormal(0, 0.5, n)
    frame = pd.DataFrame({"interaction_id": [f"SR-{i:05d}" for i in range(n)],
                          "customer_id": [f"CU-{c}" for c in customers], "opened_at": opened,
                          "interaction_type": kind, "channel": channel})
    previous = frame.groupby("customer_id").opened_at.shift()
    repeat = ((frame.opened_at - previous) <= pd.Timedelta(days=30)).to_numpy()
    logit = (-1.0 + np.array([CHANNELS[c][0] for c in channel]) + pd.Series(kind).map(TYPES)
             + 1.0 * repeat + 0.3 * np.log(hours / 2))
    low = rng.random(n) < 1 / (1 + np.exp(-logit.to_numpy()))
    rating = np.where(low, rng.choice([1.0, 2.0], n), rng.choice([3.0, 4.0, 5.0], n))
    closed = (opened + pd.to_timedelta(hours, unit="h")) < pd.Timestamp(as_of + timedelta(days=1))
    return frame.assign(
        opened_date=opened.normalize(), hour=opened.hour, weekday=opened.weekday,
        handling_hours=np.where(closed, hours, np.nan), is_closed=closed,
        repeat_contact_30d=repeat, prior_contacts=frame.groupby("customer_id").cumcount(),
        prior_mean_rating=np.nan, prior_low_share=np.nan,
        order_value_30d=rng.gamma(2, 40, n).round(2),
        last_order_days_late=np.where(rng.random(n) < 0.2, rng.integers(0, 6, n), np.nan),
        satisfaction_rating=np.where(closed, rating, np.nan),
        label_low_satisfaction=pd.Series(low).astype(object).where(closed),
        run_id="features")


def load_features(engine: Engine, frame: pd.DataFrame) -> None:
    target = table("feat_service_interaction")
    with engine.begin() as conn:
        conn.execute(target.delete())
    bulk_insert(engine, target, frame)
