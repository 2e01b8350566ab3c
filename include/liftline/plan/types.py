"""The shapes every part of the quarter planner shares.

A plan decides two things for the weeks it covers: media spend per country x channel x week, and
a promotion calendar per SKU x store x week. Its value is judged on store sales:

    sales(store, week) = (base + promotion increments) x (1 + media uplift of the store's country)

`base` is what the stores would sell with neither promotions nor media, promotion increments are
net of their dips and of the siblings they cannibalise, and media lifts everything a store sells
in proportion (the synthetic world's demand is built exactly so: organic x (1 + M) x P). Combining
the two effects by this one formula is what keeps a promotion week's media from being counted
twice. Margin is gross margin (revenue - units x unit cost) - media spend - promotion costs.

The planner optimises against `Responses`: the fitted models in production, the synthetic
world's true response in benchmarks (the oracle plan is the same optimiser on the truth).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

import pandas as pd

# Columns of the frames below, in order.
MEDIA_COLUMNS = ("country", "channel", "week_start", "spend")
PROMOTION_COLUMNS = ("sku", "store_id", "week_start", "discount_pct", "duration_days",
                     "promo_type", "origin")
BASE_COLUMNS = ("store_id", "country", "week_start", "units", "revenue", "gross_margin")
UPLIFT_COLUMNS = ("country", "week_start", "uplift")
INCREMENT_COLUMNS = ("sku", "store_id", "week_start", "discount_pct", "duration_days",
                     "promo_type", "incremental_units", "incremental_revenue",
                     "incremental_gross_margin", "cost")

# Promotion origins: already on the delivered calendar (kept as they are), chosen by the plan,
# or repeated from last year's cadence (business as usual).
PLANNED, RECOMMENDED, BUSINESS_AS_USUAL = "planned", "recommended", "business_as_usual"


@dataclass(frozen=True)
class PlanRequest:
    """What `liftline plan` is asked for."""

    start: date  # a Monday: the plan's first week
    weeks: int = 13
    media_budget: float | None = None  # the plan's total media spend; None: business as usual's
    media_bounds: tuple[float, float] = (-0.3, 0.3)  # each channel's total against business as usual
    promo_margin_floor: float | None = None  # least expected incremental margin of a promotion

    @property
    def week_starts(self) -> pd.DatetimeIndex:
        return pd.date_range(pd.Timestamp(self.start), periods=self.weeks, freq="7D")


@dataclass
class Plan:
    """Media spend (MEDIA_COLUMNS) and promotion calendar (PROMOTION_COLUMNS) for the weeks."""

    media: pd.DataFrame
    promotions: pd.DataFrame
    notes: list[str] = field(default_factory=list)


class Responses(Protocol):
    """How sales answer a plan; see the module docstring for how the parts combine."""

    def base(self, request: PlanRequest) -> pd.DataFrame:
        """BASE_COLUMNS per store x week of the request: sales with no promotion and no media."""

    def media_uplift(self, media: pd.DataFrame) -> pd.DataFrame:
        """UPLIFT_COLUMNS per country x week of the plan: the relative lift of store sales from
        this spend (MEDIA_COLUMNS), carry-over from spend before the plan included."""

    def promotion_increments(self, promotions: pd.DataFrame) -> pd.DataFrame:
        """INCREMENT_COLUMNS, one row per candidate promotion (PROMOTION_COLUMNS) on its own,
        measured on `base` (no media): net of its dip and of cannibalised siblings."""

    # Optional: `media_evaluator(pairs, countries)` -> an object with `uplift(spend)` and
    # `gradient(spend, weights)` on (pair, week) arrays (see fitted_media.MediaEvaluator). The
    # optimiser uses it when present; otherwise it differences `media_uplift`.
