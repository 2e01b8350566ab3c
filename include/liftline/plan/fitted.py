"""The planner's responses from the warehouse's fitted models, and the promotions it may choose.

`FittedResponses.from_warehouse(engine, request)` implements `types.Responses` from the champion
models: the sales forecast for the base (`fitted_base`), the mix model per country for media
(`fitted_media`) and the lift model for promotions (`fitted_promotions`); README.md, "Where the
numbers come from", says how each number is made. A model that is missing is named in `missing`
and the reason is in `notes`; the planner then plans what it can (no mix model: media has no
effect, so it stays as business as usual; no lift model: promotions add nothing and none is
proposed; no forecast: the base is last year's same weeks at the stores' recent level).

`promotion_candidates(engine, request)` is the promotion spec's grid over the plan's weeks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from liftline.promo import (
    baseline_rates,
    bounded_grid,
    candidate_grid,
    conflicts_with_upcoming,
    load_lift_model,
    top_skus,
)
from liftline.promo import load_spec as load_promo_spec

from .bau import (
    PROMOTION_FRAME,
    as_of_of,
    business_as_usual,
    cells_as_plan,
    clash_catalogue,
    last_year_cells,
)
from .fitted_base import expected_sales, remove_media_and_promotions, unit_costs
from .fitted_media import MediaEvaluator, MediaResponse, load_media_response
from .fitted_promotions import (
    CostModel,
    PromotionResponse,
    load_promotion_response,
    week_units_of,
)
from .history import read_catalogue_frames, spread_by_week
from .types import (
    BASE_COLUMNS,
    BUSINESS_AS_USUAL,
    INCREMENT_COLUMNS,
    MEDIA_COLUMNS,
    PLANNED,
    PROMOTION_COLUMNS,
    RECOMMENDED,
    UPLIFT_COLUMNS,
    Plan,
    PlanRequest,
)

Log = Callable[[str], None]
INTERVAL_COLUMNS = ("units_lower", "units_upper", "revenue_lower", "revenue_upper")
PROMOTION_KEY = ["sku", "store_id", "week_start", "discount_pct", "duration_days", "promo_type",
                 "origin"]
MAX_CANDIDATE_DAYS = 7  # a promotion is attributed to its start week: the grid keeps to one
VALUE_COLUMNS = list(INCREMENT_COLUMNS[6:])
PASSES = 2  # increments are measured on the base: the first pass's base is close enough


class FittedResponses:
    """`types.Responses` from the warehouse's champion models for one request."""

    def __init__(self, request: PlanRequest, base: pd.DataFrame, bau: Plan,
                 bau_uplift: pd.DataFrame, media: MediaResponse | None,
                 promotions: PromotionResponse | None, known: pd.DataFrame,
                 notes: list[str], missing: list[str]):
        self.request = request
        self._base = base
        self.bau = bau  # the business-as-usual plan the base was cleaned of
        self.bau_uplift = bau_uplift  # UPLIFT_COLUMNS of business-as-usual media
        self._media = media
        self._promotions = promotions
        self._known = known  # increments of the business-as-usual promotions, by PROMOTION_KEY
        self.notes = notes
        self.missing = missing

    @property
    def has_media_model(self) -> bool:
        return self._media is not None

    @property
    def has_lift_model(self) -> bool:
        return self._promotions is not None

    @property
    def cost_model(self) -> CostModel | None:
        """What a new promotion costs (fixed by type + per covered store by what it covers):
        a planner that runs one promotion over several stores pays the fixed cost once."""
        return None if self._promotions is None else self._promotions.costs

    @classmethod
    def from_warehouse(cls, engine: Engine, request: PlanRequest, log: Log = print,
                       challengers: bool = False) -> FittedResponses:
        """Load the champion models (`challengers`: a model without a champion answers with its
        latest challenger, said in the notes) and clean the base for `request`."""
        notes: list[str] = []
        missing: list[str] = []
        as_of = as_of_of(engine, request)
        stores, products = read_catalogue_frames(engine)
        if stores.empty:
            raise ValueError("no stores delivered: the planner plans store sales (deliver the "
                             "stores extract and run `liftline run`)")
        bau = business_as_usual(engine, request, log=lambda _: None)
        notes.extend(f"business as usual: {note}" for note in bau.notes)
        countries = stores.set_index("store_id")["country"]
        media = load_media_response(engine, request, sorted(countries.unique()), as_of,
                                    challengers, notes, missing)
        expected = expected_sales(engine, request, stores, as_of, notes, missing)
        promotions = load_promotion_response(engine, as_of, list(stores["store_id"]), notes,
                                             missing)
        contribution = (media.contributions(bau.media) if media is not None
                        else pd.DataFrame(columns=["country", "week_start", "contribution"]))
        held = {"forecast": bau.promotions.loc[bau.promotions["origin"] == PLANNED],
                "last_year": cells_as_plan(last_year_cells(engine, request, stores, products),
                                           BUSINESS_AS_USUAL)}
        base, uplift = expected, pd.DataFrame(columns=["country", "week_start", "uplift"])
        for _ in range(PASSES):
            if promotions is not None:
                promotions.week_units = week_units_of(base)
            contained = _held_increments(expected, held, promotions)
            base, uplift = remove_media_and_promotions(expected, contained, contribution,
                                                       countries)
        # The increments stay measured on the previous pass's base, so those removed above
        # are exactly those the planner adds back.
        base = _with_gross_margin(base, unit_costs(engine, as_of, notes), countries)
        known = _increments_by_key(bau.promotions, promotions)
        _note_unmodelled_channels(bau.media, media, notes)
        for note in notes:
            log(f"plan responses: {note}")
        return cls(request, base, bau, _uplift_frame(uplift, base, request), media, promotions,
                   known, notes, missing)

    def base(self, request: PlanRequest) -> pd.DataFrame:
        """BASE_COLUMNS (+ the interval columns) per store x week of the request."""
        if list(request.week_starts) != list(self.request.week_starts):
            raise ValueError(f"these responses were loaded for the weeks from "
                             f"{self.request.start} ({self.request.weeks} weeks): load them "
                             "again for another start or length")
        return self._base.copy()

    def media_uplift(self, media: pd.DataFrame) -> pd.DataFrame:
        """UPLIFT_COLUMNS per country x plan week for the spend `media` (MEDIA_COLUMNS)."""
        weeks = self.request.week_starts
        media = media[list(MEDIA_COLUMNS)].assign(week_start=pd.to_datetime(media["week_start"]))
        outside = ~media["week_start"].isin(weeks)
        if outside.any():
            raise ValueError(f"media spend for week {media.loc[outside, 'week_start'].min().date()}"
                             f" lies outside the plan's weeks ({weeks[0].date()} to "
                             f"{weeks[-1].date()})")
        revenue = self._base.groupby(["country", "week_start"])["revenue"].sum()
        grid = revenue.reset_index()[["country", "week_start"]]
        if self._media is None:
            return grid.assign(uplift=0.0)[list(UPLIFT_COLUMNS)]
        found = self._media.contributions(media).set_index(["country", "week_start"])
        contribution = found["contribution"].reindex(revenue.index).fillna(0.0)
        grid["uplift"] = np.divide(contribution.to_numpy(), revenue.to_numpy(),
                                   out=np.zeros(len(grid)), where=revenue.to_numpy() > 0)
        return grid[list(UPLIFT_COLUMNS)]

    def countries_sharing_a_model(self) -> list[list[str]]:
        """Groups of countries one mix model answers together, seeing their spend summed (the
        optimiser does not move money between them: it keeps their usual split)."""
        return [] if self._media is None else self._media.countries_sharing_a_model()

    def media_evaluator(self, pairs: list[tuple[str, str]], countries: list[str]
                        ) -> MediaEvaluator:
        """`media_uplift` for spend laid out as (pair, week) over the plan's weeks, pairs being
        (country, channel), as (country, week) arrays in `countries` order, with its gradient:
        what the optimiser calls thousands of times, precomputed once."""
        weeks = self.request.week_starts
        revenue = (self._base.groupby(["country", "week_start"])["revenue"].sum()
                   .unstack("week_start").reindex(index=countries, columns=weeks).fillna(0.0))
        if self._media is None:
            return MediaEvaluator(parts=[], shape=(len(countries), len(weeks)),
                                  n_pairs=len(pairs))
        return self._media.evaluator(pairs, countries, revenue.to_numpy(float))

    def promotion_increments(self, promotions: pd.DataFrame) -> pd.DataFrame:
        """INCREMENT_COLUMNS per row of `promotions` (PROMOTION_COLUMNS), in order."""
        rows = promotions.reset_index(drop=True).assign(
            week_start=lambda f: pd.to_datetime(f["week_start"]))
        if rows.empty:
            return pd.DataFrame(columns=list(INCREMENT_COLUMNS))
        if self._promotions is None:
            return _no_increments(rows)
        key = [c for c in PROMOTION_KEY if c in rows]
        cached = rows[key].merge(self._known.drop_duplicates(key), on=key, how="left")
        fresh = cached["incremental_units"].isna().to_numpy()
        out = rows[list(INCREMENT_COLUMNS[:6])].assign(
            **{c: cached[c].to_numpy(float) for c in VALUE_COLUMNS})
        if fresh.any():
            found = self._promotions.increments(rows.loc[fresh])
            out.loc[fresh, VALUE_COLUMNS] = found[VALUE_COLUMNS].to_numpy(float)
        return out


def promotion_candidates(engine: Engine, request: PlanRequest, log: Log = print
                         ) -> pd.DataFrame:
    """PROMOTION_COLUMNS + category (origin "recommended"): each store's best sellers per
    category x each plan week x the spec's discounts and run lengths of at most a week that the
    lift model was trained on, minus those overlapping a planned or running promotion of the
    category in the store."""
    columns = [*PROMOTION_COLUMNS, "category"]
    as_of = as_of_of(engine, request)
    model = load_lift_model(engine, as_of)
    if model is None:
        log("plan candidates: no champion lift model (promo_lift): no promotion is proposed")
        return pd.DataFrame(columns=columns)
    rec = load_promo_spec().section("recommend")
    discounts, durations = bounded_grid(rec)
    durations = [d for d in durations if d <= MAX_CANDIDATE_DAYS]
    top = top_skus(engine, as_of, int(rec["top_skus_per_store"]))
    pairs = top.merge(baseline_rates(engine, top, as_of), on=["store_id", "sku"])
    pairs = pairs.loc[pairs["baseline_units_per_day"] > 0, ["store_id", "sku", "category"]]
    if pairs.empty or not discounts or not durations:
        log(f"plan candidates: none (no SKU sold in the 28 days to {as_of}, or no discount and "
            f"run length of at most {MAX_CANDIDATE_DAYS} days in the spec's grid)")
        return pd.DataFrame(columns=columns)
    grid = candidate_grid(pairs, list(request.week_starts), durations, discounts,
                          rec["promo_type"])
    supported = model.in_support(grid)
    stores, products = read_catalogue_frames(engine)
    rows = grid.loc[supported].merge(stores[["store_id", "region"]], on="store_id", how="left")
    rows["end_date"] = rows["start_date"] + pd.to_timedelta(rows["duration_days"] - 1, "D")
    clash = conflicts_with_upcoming(rows, clash_catalogue(engine, request, stores, products))
    out = rows.loc[~clash].assign(week_start=lambda f: f["start_date"], origin=RECOMMENDED)
    log(f"plan candidates: {len(out)} of {len(grid)} ({int((~supported).sum())} with discounts "
        f"the lift model was not trained on, {int(clash.sum())} overlapping a planned or "
        "running promotion of the category in the store)")
    return (out[columns].astype({"discount_pct": float, "duration_days": "int64"})
            .sort_values(["week_start", "store_id", "sku", "duration_days", "discount_pct"],
                         kind="mergesort").reset_index(drop=True))


def _held_increments(expected: pd.DataFrame, held: dict[str, pd.DataFrame],
                     promotions: PromotionResponse | None) -> pd.DataFrame:
    """Increments (store_id, week_start, units, revenue) of the promotions the expected
    sales hold: the planned ones in forecast weeks, last year's in weeks taken from last year,
    spread over their days."""
    columns = ["store_id", "week_start", "units", "revenue"]
    if promotions is None:
        return pd.DataFrame(columns=columns)
    parts = []
    for source, cells in held.items():
        if cells.empty:
            continue
        found = promotions.increments(cells)
        spread = spread_by_week(
            cells[["store_id", "start_date", "duration_days"]].reset_index(drop=True).assign(
                units=found["incremental_units"].to_numpy(),
                revenue=found["incremental_revenue"].to_numpy()), ["units", "revenue"])
        weeks = expected.loc[expected["source"] == source, ["store_id", "week_start"]]
        parts.append(spread.merge(weeks, on=["store_id", "week_start"]))
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts).groupby(["store_id", "week_start"])[["units", "revenue"]].sum(
        ).reset_index()


def _with_gross_margin(base: pd.DataFrame, costs: pd.Series, countries: pd.Series
                       ) -> pd.DataFrame:
    """BASE_COLUMNS + intervals: gross margin = revenue - units x the store's unit cost."""
    out = base.copy()
    out["country"] = out["store_id"].map(countries)
    unit_cost = out["store_id"].map(costs).astype(float).fillna(0.0)
    out["gross_margin"] = out["revenue"] - out["units"] * unit_cost
    return out[[*BASE_COLUMNS, *INTERVAL_COLUMNS]].sort_values(
        ["store_id", "week_start"], kind="mergesort").reset_index(drop=True)


def _uplift_frame(uplift: pd.DataFrame, base: pd.DataFrame, request: PlanRequest
                  ) -> pd.DataFrame:
    """UPLIFT_COLUMNS for every country x plan week (0 where no media model answers)."""
    grid = pd.DataFrame({"country": sorted(base["country"].unique())}).merge(
        pd.DataFrame({"week_start": request.week_starts}), how="cross")
    out = grid.merge(uplift, on=["country", "week_start"], how="left")
    return out.fillna({"uplift": 0.0})[list(UPLIFT_COLUMNS)]


def _increments_by_key(promotions: pd.DataFrame, response: PromotionResponse | None
                       ) -> pd.DataFrame:
    """The business-as-usual promotions' increments by PROMOTION_KEY: the rows the base was
    cleaned with come back with the same numbers."""
    if response is None or promotions.empty:
        return pd.DataFrame(columns=[*PROMOTION_KEY, *INCREMENT_COLUMNS[6:]])
    found = response.increments(promotions)
    keyed = promotions[PROMOTION_KEY].reset_index(drop=True).assign(
        week_start=lambda f: pd.to_datetime(f["week_start"]))
    return pd.concat([keyed, found[list(INCREMENT_COLUMNS[6:])]], axis=1)


def _no_increments(rows: pd.DataFrame) -> pd.DataFrame:
    """Without a lift model promotions add nothing; they still cost what they say."""
    out = rows[list(INCREMENT_COLUMNS[:6])].copy()
    for column in INCREMENT_COLUMNS[6:9]:
        out[column] = 0.0
    out["cost"] = (pd.to_numeric(rows["cost"], errors="coerce").fillna(0.0)
                   if "cost" in rows else 0.0)
    return out


def _note_unmodelled_channels(media: pd.DataFrame, response: MediaResponse | None,
                              notes: list[str]) -> None:
    if response is None or media.empty:
        return
    modelled = {c for m in response.models.values() for c in m.channels}
    other = sorted(set(media["channel"]) - modelled)
    if other:
        notes.append(f"media: channel(s) {', '.join(other)} are in no mix model: their spend "
                     "has no effect in the plan")


__all__ = ["PROMOTION_FRAME", "FittedResponses", "promotion_candidates"]
