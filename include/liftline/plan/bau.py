"""Business as usual: what the quarter would look like if nobody planned it.

- Media: each country x channel spends what it spent in the same week a year (52 weeks)
  earlier (the clean spend extract). With less than a year of spend before the plan, the last
  13 complete weeks are repeated in order instead (said in the notes).
- Promotions: the delivered planned calendar starting in the plan's weeks (origin "planned",
  always kept), plus last year's promotions that started in the same weeks, moved 52 weeks on
  (origin "business_as_usual"), unless they would overlap a planned promotion touching the same
  category in the same store (the recommender's rule, `promo.candidates`).
Promotions are SKU x store cells (the contract's covering rule); each keeps its promo_id,
category, real start_date and its share of the promotion's cost as extra columns.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pandas as pd
from sqlalchemy import Engine

from liftline.features import read_promotions
from liftline.promo import Catalogue, conflicts_with_upcoming

from .history import (
    YEAR,
    history_end,
    monday,
    promotion_cells,
    read_catalogue_frames,
    weekly_spend,
)
from .types import (
    BUSINESS_AS_USUAL,
    MEDIA_COLUMNS,
    PLANNED,
    PROMOTION_COLUMNS,
    Plan,
    PlanRequest,
)

Log = Callable[[str], None]
FALLBACK_WEEKS = 13  # less than a year of spend: the last quarter, repeated
PROMOTION_EXTRAS = ("category", "promo_id", "start_date", "cost")
PROMOTION_FRAME = [*PROMOTION_COLUMNS, *PROMOTION_EXTRAS]


def business_as_usual(engine: Engine, request: PlanRequest, log: Log = print) -> Plan:
    """Last year's spend pattern and promotion cadence, plus the delivered planned calendar."""
    check_start(request)
    notes: list[str] = []
    media = bau_media(engine, request, notes)
    promotions = bau_promotions(engine, request, notes)
    for note in notes:
        log(f"plan business as usual: {note}")
    return Plan(media=media, promotions=promotions, notes=notes)


def bau_media(engine: Engine, request: PlanRequest, notes: list[str]) -> pd.DataFrame:
    """MEDIA_COLUMNS for the plan's weeks: the same weeks a year earlier, else the last 13
    complete weeks repeated."""
    weeks = request.week_starts
    first = (weeks[0] - YEAR - pd.Timedelta(weeks=FALLBACK_WEEKS)).date()
    spend, last_day = weekly_spend(engine, first, (weeks[0] - pd.Timedelta(days=1)).date())
    if spend.empty:
        notes.append("no spend delivered before the plan: business as usual spends nothing")
        return pd.DataFrame(columns=list(MEDIA_COLUMNS))
    pairs = spend[["country", "channel"]].drop_duplicates()
    observed = pd.DatetimeIndex(sorted(spend["week_start"].unique()))
    year_ago = weeks - YEAR
    if year_ago[0] >= observed[0] and year_ago[-1] <= observed[-1]:
        source = pd.DataFrame({"week_start": weeks, "source_week": year_ago})
    else:
        recent = observed[observed <= monday(pd.Series([pd.Timestamp(last_day)])).iloc[0]]
        recent = recent[-FALLBACK_WEEKS:]
        notes.append(f"less than a year of spend before {weeks[0].date()}: media repeats the "
                     f"last {len(recent)} weeks ({recent[0].date()} to {recent[-1].date()})")
        source = pd.DataFrame({"week_start": weeks,
                               "source_week": [recent[i % len(recent)] for i in range(len(weeks))]})
    grid = pairs.merge(source, how="cross")
    media = grid.merge(spend.rename(columns={"week_start": "source_week"}),
                       on=["country", "channel", "source_week"], how="left")
    media["spend"] = media["spend"].fillna(0.0)
    return (media[list(MEDIA_COLUMNS)].sort_values(["country", "channel", "week_start"],
                                                   kind="mergesort").reset_index(drop=True))


def bau_promotions(engine: Engine, request: PlanRequest, notes: list[str]) -> pd.DataFrame:
    """PROMOTION_FRAME rows: planned cells starting in the plan's weeks, and last year's
    cells of the same weeks that do not clash with them."""
    stores, products = read_catalogue_frames(engine)
    planned, _ = planned_calendar(engine, request, stores, products)
    repeated = last_year_cells(engine, request, stores, products)
    if not repeated.empty and not planned.empty:
        cat = clash_catalogue(engine, request, stores, products)
        rows = repeated.merge(stores[["store_id", "region"]], on="store_id", how="left")
        rows["end_date"] = rows["start_date"] + pd.to_timedelta(rows["duration_days"] - 1, "D")
        clash = conflicts_with_upcoming(rows, cat)
        if clash.any():
            notes.append(f"{int(clash.sum())} of last year's promotion cells are not repeated: "
                         "they would overlap a planned promotion of their category in the store")
        repeated = repeated.loc[~clash]
    frames = [cells_as_plan(planned, PLANNED), cells_as_plan(repeated, BUSINESS_AS_USUAL)]
    promotions = pd.concat([f for f in frames if not f.empty] or [frames[0]], ignore_index=True)
    notes.append(f"promotions: {len(planned)} planned SKU x store cells, {len(repeated)} "
                 "repeated from last year")
    return promotions.sort_values(["week_start", "store_id", "sku", "origin"],
                                  kind="mergesort").reset_index(drop=True)


def planned_calendar(engine: Engine, request: PlanRequest, stores: pd.DataFrame,
                     products: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The delivered promotions starting in the plan's weeks, as cells (CELL_COLUMNS), and
    as promotions (their clean rows: the clash rule reads those)."""
    first, last = plan_days(request)
    promos = read_promotions(engine, ["promo_id", "start_date", "end_date", "discount_pct",
                                      "sku", "category", "store_id", "region", "promo_type",
                                      "cost"])
    starts = pd.to_datetime(promos["start_date"])
    chosen = promos.loc[(starts >= first) & (starts <= last)]
    return promotion_cells(chosen, stores, products), chosen


def last_year_cells(engine: Engine, request: PlanRequest, stores: pd.DataFrame,
                    products: pd.DataFrame) -> pd.DataFrame:
    """Last year's promotions that started in the plan's weeks 52 weeks earlier, moved on by
    52 weeks, as cells (CELL_COLUMNS)."""
    first, last = plan_days(request)
    promos = read_promotions(engine, ["promo_id", "start_date", "end_date", "discount_pct",
                                      "sku", "category", "store_id", "region", "promo_type",
                                      "cost"])
    starts = pd.to_datetime(promos["start_date"])
    chosen = promos.loc[(starts >= first - YEAR) & (starts <= last - YEAR)].copy()
    for column in ("start_date", "end_date"):
        chosen[column] = pd.to_datetime(chosen[column]) + YEAR
    return promotion_cells(chosen, stores, products)


def clash_catalogue(engine: Engine, request: PlanRequest, stores: pd.DataFrame,
                    products: pd.DataFrame) -> Catalogue:
    """A promo.candidates Catalogue whose `upcoming` promotions are the planned calendar of
    the plan's weeks and those still running at its start: what a new promotion must not
    overlap in its store and category."""
    first, _ = plan_days(request)
    _, planned = planned_calendar(engine, request, stores, products)
    running = read_promotions(engine, ["promo_id", "start_date", "end_date", "discount_pct",
                                       "sku", "category", "store_id", "region", "promo_type",
                                       "cost"], ending_after=(first - pd.Timedelta(days=1)).date())
    upcoming = pd.concat([planned, running], ignore_index=True).drop_duplicates("promo_id")
    return Catalogue(products=products, stores=stores, history=pd.DataFrame(),
                     upcoming=upcoming)


def cells_as_plan(cells: pd.DataFrame, origin: str) -> pd.DataFrame:
    """CELL_COLUMNS rows as PROMOTION_FRAME rows of `origin` (attributed to the Monday of
    their start)."""
    if cells.empty:
        return pd.DataFrame(columns=PROMOTION_FRAME)
    out = cells.assign(week_start=monday(cells["start_date"]).to_numpy(), origin=origin)
    out["duration_days"] = out["duration_days"].astype("int64")
    out["discount_pct"] = out["discount_pct"].astype(float)
    return out[PROMOTION_FRAME].reset_index(drop=True)


def plan_days(request: PlanRequest) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first and last day of the plan's weeks."""
    weeks = request.week_starts
    return weeks[0], weeks[-1] + pd.Timedelta(days=6)


def as_of_of(engine: Engine, request: PlanRequest) -> date:
    """The planner's as-of (the last observed sales day before the start); one-line error
    when the warehouse holds no sales before it."""
    check_start(request)
    found = history_end(engine, request)
    if found is None:
        raise ValueError(f"the warehouse holds no store sales before {request.start}: run "
                         "`liftline run` first, or plan from a later start")
    return found



def check_start(request: PlanRequest) -> None:
    """One-line error unless the plan starts on a Monday (its weeks are Monday weeks)."""
    if pd.Timestamp(request.start).weekday() != 0:
        raise ValueError(f"the plan's start {request.start} is a "
                         f"{pd.Timestamp(request.start).day_name()}: plans start on a Monday")
