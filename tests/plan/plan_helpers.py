"""A hand-built world for the planner's tests: two countries, three stores, four weeks.

ToyResponses implements the Responses protocol with numbers small enough to reason about:
media uplift per country is the sum over channels of beta x a / (a + half) with a the geometric
adstock of the weekly spend; promotion increments are looked up in a table (unknown ones add
nothing); the base has a +-10% interval.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from liftline.plan.types import (
    BUSINESS_AS_USUAL,
    PLANNED,
    RECOMMENDED,
    Plan,
    PlanRequest,
)

START = date(2025, 1, 6)  # a Monday
WEEKS = 4
STORES = {"A1": "AA", "A2": "AA", "B1": "BB"}
CHANNELS = {"tv": (0.30, 0.5, 400.0), "search": (0.15, 0.0, 150.0)}  # beta, theta, half
CATEGORY = {"s1": "snacks", "s2": "snacks", "d1": "dairy"}


def request(**changes) -> PlanRequest:
    return PlanRequest(start=START, weeks=WEEKS, **changes)


def weeks() -> pd.DatetimeIndex:
    return request().week_starts


class ToyResponses:
    """The Responses protocol on hand-set numbers; counts its calls."""

    def __init__(self, base_margin: dict[tuple[str, int], float] | None = None,
                 increments: dict[tuple[str, str, int, float], tuple[float, float]] | None = None
                 ) -> None:
        self.base_margin = base_margin or {}
        # (sku, store, week index, discount) -> (incremental gross margin, cost)
        self.increments = increments if increments is not None else default_increments()
        self.uplift_calls = 0

    def base(self, req: PlanRequest) -> pd.DataFrame:
        rows = []
        for store, country in STORES.items():
            for i, week in enumerate(req.week_starts):
                margin = self.base_margin.get((store, i), 1000.0)
                revenue = margin * 4
                units = revenue / 10
                rows.append({"store_id": store, "country": country, "week_start": week,
                             "units": units, "revenue": revenue, "gross_margin": margin,
                             "units_lower": 0.9 * units, "units_upper": 1.1 * units,
                             "revenue_lower": 0.9 * revenue, "revenue_upper": 1.1 * revenue})
        return pd.DataFrame(rows)

    def media_uplift(self, media: pd.DataFrame) -> pd.DataFrame:
        self.uplift_calls += 1
        week_of = {week: i for i, week in enumerate(weeks())}
        countries = sorted(set(media["country"]))
        channels = list(CHANNELS)
        spend = np.zeros((len(countries), len(channels), len(week_of)))
        for country, channel, week, value in zip(media["country"], media["channel"],
                                                 pd.to_datetime(media["week_start"]),
                                                 media["spend"], strict=True):
            spend[countries.index(country), channels.index(channel), week_of[week]] += value
        beta, theta, half = (np.array([CHANNELS[c][k] for c in channels])[None, :]
                             for k in range(3))
        adstock = np.zeros_like(spend)
        carry = np.zeros(spend.shape[:2])
        for week in range(spend.shape[2]):
            carry = spend[:, :, week] + theta * carry
            adstock[:, :, week] = carry
        lift = (beta[:, :, None] * adstock / (adstock + half[:, :, None])).sum(axis=1)
        return pd.DataFrame({"country": np.repeat(countries, len(week_of)),
                             "week_start": np.tile(weeks().to_numpy(), len(countries)),
                             "uplift": lift.ravel()})

    def promotion_increments(self, promotions: pd.DataFrame) -> pd.DataFrame:
        starts = {week: i for i, week in enumerate(weeks())}
        rows = []
        for p in promotions.itertuples(index=False):
            index = starts.get(pd.Timestamp(p.week_start), -1)
            margin, cost = self.increments.get((p.sku, p.store_id, index, float(p.discount_pct)),
                                               (0.0, 0.0))
            rows.append({"sku": p.sku, "store_id": p.store_id, "week_start": p.week_start,
                         "discount_pct": p.discount_pct, "duration_days": p.duration_days,
                         "promo_type": p.promo_type, "incremental_units": margin / 2,
                         "incremental_revenue": margin * 3, "incremental_gross_margin": margin,
                         "cost": cost})
        return pd.DataFrame(rows)


class FittedStandIn(ToyResponses):
    """Stands in for liftline.plan.fitted.FittedResponses (see conftest.stand_ins)."""

    missing: list[str] = []
    notes = ["stand-in responses"]

    @classmethod
    def from_warehouse(cls, engine, req, log=print, challengers=False):  # noqa: ANN001, ARG003
        return cls()


def default_increments() -> dict:
    return {
        ("s1", "A1", 1, 20.0): (300.0, 100.0),  # worth 200 on its own
        ("s1", "A1", 1, 30.0): (400.0, 150.0),  # worth 250: the better discount
        ("s2", "A1", 1, 20.0): (500.0, 100.0),  # the best, a sibling of s1 that week
        ("d1", "A1", 1, 20.0): (120.0, 20.0),  # another category: may run beside it
        ("s1", "B1", 2, 20.0): (100.0, 110.0),  # loses 10 without media, gains with it
        ("s1", "A2", 3, 20.0): (50.0, 80.0),  # loses margin however much media
        ("d1", "A2", 0, 20.0): (-40.0, 10.0),  # planned, and bad: kept all the same
    }


def promotion(sku: str, store: str, week: int, discount: float = 20.0, origin: str = RECOMMENDED,
              duration: int = 7) -> dict:
    return {"sku": sku, "store_id": store, "week_start": weeks()[week], "discount_pct": discount,
            "duration_days": duration, "promo_type": "price_discount", "origin": origin,
            "category": CATEGORY[sku]}


def candidates(increments: dict | None = None) -> pd.DataFrame:
    keys = increments if increments is not None else default_increments()
    rows = [promotion(sku, store, week, discount) for sku, store, week, discount in keys
            if (sku, store, week) != ("d1", "A2", 0)]
    return pd.DataFrame(rows)


def bau_plan(spend: dict[tuple[str, str], list[float]] | None = None) -> Plan:
    spend = spend or {("AA", "tv"): [500, 500, 500, 500], ("AA", "search"): [100] * 4,
                      ("BB", "tv"): [300, 300, 300, 300], ("BB", "search"): [50] * 4}
    media = pd.DataFrame([{"country": c, "channel": ch, "week_start": weeks()[i], "spend": s}
                          for (c, ch), values in spend.items() for i, s in enumerate(values)])
    promotions = pd.DataFrame([promotion("d1", "A2", 0, origin=PLANNED),
                               promotion("s1", "A2", 3, origin=BUSINESS_AS_USUAL)])
    return Plan(media=media, promotions=promotions)
