"""Recommended promotions: per store x best-selling SKU x upcoming week, the discount and run
length that maximise expected incremental margin (rows of ml_promo_recommendations).

Every (discount, duration) of the spec's grid is scored with the lift model on a feature row
built as feat_promo_effectiveness would hold it at that start (promo.candidates). A candidate
is dropped when it overlaps a planned or running promotion touching its category in its store
(a sibling's promotion would cannibalise it) or when its margin is not above
`min_incremental_margin`. The rest are taken greedily by margin, so that no two
recommendations on SKUs of one category overlap in one store and each SKU x store x week has at
most one. Without unit costs or prices the margin cannot be computed: candidates are then
ranked by incremental units (logged) and the margin column is left empty.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from .candidates import (
    Catalogue,
    baseline_rates,
    conflicts_with_upcoming,
    feature_rows,
    load_catalogue,
    next_mondays,
    top_skus,
    windows_overlap,
    with_economics,
    with_prices,
)
from .model import LiftModel
from .spec import PromoSpec

COLUMNS = ["run_id", "sku", "store_id", "week_start", "discount_pct", "duration_days",
           "expected_lift_pct", "expected_incremental_margin", "category", "p_any_lift",
           "lift_lower", "lift_upper", "expected_incremental_units",
           "expected_incremental_revenue"]

Log = Callable[[str], None]


def recommend_promotions(engine: Engine, model: LiftModel, as_of: date, run_id: str,
                         spec: PromoSpec, log: Log = print) -> pd.DataFrame:
    """The recommendations of `run_id` as of `as_of` (COLUMNS; nothing is written)."""
    rec = spec.section("recommend")
    discounts, durations = bounded_grid(rec)
    top = top_skus(engine, as_of, int(rec["top_skus_per_store"]))
    pairs = top.merge(baseline_rates(engine, top, as_of), on=["store_id", "sku"])
    pairs = pairs.loc[pairs["baseline_units_per_day"] > 0]
    if pairs.empty or not discounts or not durations:
        log(f"promo recommendations: nothing to recommend as of {as_of} (no SKU sold in the "
            "last 28 days, or an empty discount/duration grid)")
        return pd.DataFrame(columns=COLUMNS)
    cat = load_catalogue(engine, as_of)
    grid = candidate_grid(with_prices(pairs, cat), next_mondays(as_of, int(rec["weeks_ahead"])),
                          durations, discounts, rec["promo_type"])
    scored = supported_only(score_candidates(grid, model, cat), model, log)
    blocked = conflicts_with_upcoming(scored, cat)
    unpriced = scored.loc[scored["unit_cost"].isna() | scored["price"].isna(), "sku"].nunique()
    if unpriced:
        log(f"promo recommendations: {unpriced} SKU(s) lack a list price or unit cost in "
            "clean_products, so margin cannot be computed: ranking by incremental units")
    objective = "expected_incremental_units" if unpriced else "expected_incremental_margin"
    floor = 0.0 if unpriced else float(rec["min_incremental_margin"])
    chosen = greedy_non_overlapping(scored.loc[~blocked & (scored[objective] > floor)], objective)
    log(f"promo recommendations: {len(chosen)} from {len(scored)} candidates "
        f"({int(blocked.sum())} overlap a planned promotion of the category; ranked by "
        f"{objective})")
    out = chosen.assign(run_id=run_id, week_start=chosen["start_date"].dt.date,
                        expected_lift_pct=chosen["lift_pct"])
    if unpriced:
        out["expected_incremental_margin"] = np.nan
    return out[COLUMNS].reset_index(drop=True)


def candidate_grid(pairs: pd.DataFrame, weeks: list[pd.Timestamp], durations: list[int],
                   discounts: list[float], promo_type: str) -> pd.DataFrame:
    """Every store x SKU pair at every start, run length and discount."""
    grid = pairs.merge(pd.DataFrame({"start_date": weeks}), how="cross")
    grid = grid.merge(pd.DataFrame({"duration_days": durations}), how="cross")
    grid = grid.merge(pd.DataFrame({"discount_pct": discounts}), how="cross")
    return grid.assign(promo_type=promo_type)


def bounded_grid(rec: dict) -> tuple[list[float], list[int]]:
    """The spec's candidate discounts and durations, within its bounds."""
    discounts = sorted({float(d) for d in rec["discounts"]
                        if float(rec["min_discount_pct"]) <= float(d)
                        <= float(rec["max_discount_pct"])})
    durations = sorted({int(d) for d in rec["durations"]
                        if int(rec["min_days"]) <= int(d) <= int(rec["max_days"])})
    return discounts, durations


def score_candidates(candidates: pd.DataFrame, model: LiftModel, cat: Catalogue
                     ) -> pd.DataFrame:
    """Feature rows, predicted lift with its interval, and the economics of each candidate."""
    rows = feature_rows(candidates, cat)
    rows = rows.join(model.predict(rows))
    return with_economics(rows.loc[rows["lift_pct"].notna()])


def supported_only(scored: pd.DataFrame, model: LiftModel, log: Log) -> pd.DataFrame:
    """Candidates whose discount the model was trained on for their type: beyond that range
    trees predict flat, which would make the shallowest discount look free."""
    supported = model.in_support(scored)
    if not supported.all():
        ranges = ", ".join(f"{t} {lo:g}-{hi:g}%" for t, (lo, hi) in model.discount_range.items())
        log(f"promo recommendations: {int((~supported).sum())} candidates with discounts outside "
            f"those trained on ({ranges}) are not proposed")
    return scored.loc[supported]


def greedy_non_overlapping(scored: pd.DataFrame, objective: str) -> pd.DataFrame:
    """Best first by `objective`: one candidate per SKU x store x week, and none overlapping
    an already chosen one on a SKU of the same category in the same store."""
    taken_keys: set[tuple] = set()
    windows: dict[tuple, list[tuple[pd.Timestamp, pd.Timestamp]]] = defaultdict(list)
    chosen = []
    ordered = scored.sort_values([objective, "sku", "store_id", "start_date"],
                                 ascending=[False, True, True, True], kind="mergesort")
    for row in ordered.itertuples():
        key = (row.sku, row.store_id, row.start_date)
        lane = (row.store_id, row.category if isinstance(row.category, str) else None)
        if key in taken_keys or any(windows_overlap(row.start_date, row.end_date, s, e)
                                    for s, e in windows[lane]):
            continue
        taken_keys.add(key)
        windows[lane].append((row.start_date, row.end_date))
        chosen.append(row.Index)
    return scored.loc[chosen].sort_values(["store_id", "start_date", "sku"], kind="mergesort")
