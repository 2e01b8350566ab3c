"""Actual lift of promotions that have started: against the counterfactual baseline, in money.

For each promotion x covered store, over the days observed so far (trading days up to as-of):

- lift % = (units - baseline) / baseline x 100 over the window (CONTRACT.md), promoted SKUs;
- incremental units, revenue and margin in the window; revenue at the pre-period's regular
  price and margin at `unit_cost` where products have one;
- the post-promotion dip (units after the end against the baseline, `post_days` long) and the
  cannibalisation of sibling SKUs (the category's uncovered SKUs in the store, in the window);
  net incremental = incremental + dip + cannibalised (both usually negative);
- what could explain a surprise: stock-outs in the window, days without data, concurrent
  promotions, a realised price that is not the planned discount.

A promotion's figures are the sums over its stores; its interval comes from how well the
pre-period share was determined (the baseline's own error), the dominant uncertainty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from .counterfactual import (
    MIN_CLEAN_DAYS,
    pre_period_baseline,
    scale_to_cells,
    store_counterfactuals,
)
from .inputs import PROMOTED, SIBLING, promotion_terms, store_units, window_sales
from .spec import PromoSpec

Log = Callable[[str], None]
Z90 = 1.645
PRICE_CHANGE_PP = 5.0  # realised discount this far from the plan: a probable cause


@dataclass
class Measurement:
    """Per promotion x store (`stores`) and per promotion (`promos`), with what was left out."""

    stores: pd.DataFrame
    promos: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def measure_promotions(engine: Engine, as_of: date, spec: PromoSpec, log: Log = print,
                       ends_after: date | None = None, store_model=None) -> Measurement:
    """Measure every promotion started by `as_of` (whose window reaches `ends_after`).

    `store_model`: a fitted forecast model to reuse for the counterfactual (default: fit one).
    """
    cfg = spec.section("baseline")
    pre_days, post_days = int(cfg["lookback_days"]), int(cfg["post_days"])
    terms = promotion_terms(engine, as_of, ends_after)
    if terms.empty:
        return Measurement(_empty_stores(), _empty_promos(), ["no promotion has started"])
    sales = window_sales(engine, terms, as_of, pre_days, post_days)
    daily = _dense_days(terms, sales, engine, as_of, pre_days, post_days,
                        int(cfg["share_days"]))
    daily, notes = _baselines(engine, daily, terms, as_of, cfg, log, store_model)
    terms = _with_same_category_overlaps(terms)
    stores = _store_figures(daily, terms, as_of, float(cfg["min_baseline_units"]))
    promos = promo_figures(stores)
    for note in notes:
        log(f"promotion lift: {note}")
    return Measurement(stores, promos, notes)


def _with_same_category_overlaps(terms: pd.DataFrame) -> pd.DataFrame:
    """Other promotions of the same category overlapping the window in the same store: the
    concurrency that can move this promotion's lift (other categories barely do)."""
    keys = terms[["promo_id", "store_id", "category", "start_date", "end_date"]]
    pairs = keys.merge(keys, on=["store_id", "category"], suffixes=("", "_other"))
    overlap = ((pairs["promo_id"] != pairs["promo_id_other"])
               & (pairs["start_date_other"] <= pairs["end_date"])
               & (pairs["end_date_other"] >= pairs["start_date"]))
    counts = overlap.groupby([pairs["promo_id"], pairs["store_id"]]).sum()
    return terms.join(counts.rename("same_category_overlaps"), on=["promo_id", "store_id"])


def _baseline_days(days: pd.DataFrame, share_days: int) -> pd.Series:
    """The latest `share_days` clean pre-period days of each window and role: trading, and no
    SKU of the category in the store (covered or sibling) on a promotion or in the dip after
    one. A sibling's promotion cannibalises the promoted SKUs, so its days are out too."""
    busy = days.groupby(["promo_id", "store_id", "date"])["promo_cells"].transform("sum")
    clean = (days["date"] < days["start_date"]) & days["trading"] & (busy == 0)
    recency = (days["date"].where(clean).groupby([days["promo_id"], days["store_id"],
                                                  days["role"]])
               .rank(ascending=False, method="first"))
    return clean & (recency <= share_days)


def _dense_days(terms: pd.DataFrame, sales: pd.DataFrame, engine: Engine, as_of: date,
                pre_days: int, post_days: int, share_days: int) -> pd.DataFrame:
    """Every day of every window and role (a day without rows sold 0), with trading flags."""
    roles = sales[["promo_id", "store_id", "role"]].drop_duplicates()
    spans = roles.merge(terms[["promo_id", "store_id", "start_date", "end_date"]],
                        on=["promo_id", "store_id"])
    first, last = _window_bounds(spans, pre_days, post_days, as_of)
    spans["date"] = [pd.date_range(a, b) for a, b in zip(first, last, strict=True)]
    days = spans.explode("date").dropna(subset=["date"])
    days["date"] = days["date"].astype("datetime64[ns]")
    values = ["units", "revenue", "cost", "list_value", "cells", "promo_cells", "stockout_cells"]
    days = days.merge(sales, on=["promo_id", "store_id", "role", "date"], how="left")
    days[values] = days[values].astype("float64").fillna(0.0)
    store = store_units(engine, sorted(days["store_id"].unique()),
                        days["date"].min().date(), as_of)
    days = days.merge(store.rename(columns={"units": "store_units"}),
                      on=["store_id", "date"], how="left")
    closed = days["is_closed"].astype("boolean").fillna(False).astype(bool)
    days["gap"] = days["store_units"].isna() & ~closed  # nothing delivered for the store
    days["trading"] = (days["store_units"].fillna(0) > 0) & ~closed
    days["baseline_day"] = _baseline_days(days, share_days)
    days["window_id"] = days["promo_id"] + "|" + days["store_id"]
    return days.reset_index(drop=True)


def _baselines(engine: Engine, daily: pd.DataFrame, terms: pd.DataFrame, as_of: date,
               cfg: dict, log: Log, store_model=None) -> tuple[pd.DataFrame, list[str]]:
    """`baseline` per row by the spec's method, the pre-period mean where it cannot run."""
    notes: list[str] = []
    daily = daily.assign(baseline=np.nan, baseline_method="pre_period")
    if cfg["method"] == "forecast" and len(daily):
        windows = _forecast_windows(terms, int(cfg["lookback_days"]), int(cfg["post_days"]),
                                    as_of)
        store_cf, note = store_counterfactuals(engine, windows, as_of, log, model=store_model)
        if note:
            notes.append(f"forecast baseline: {note}")
        if len(store_cf):
            scaled = scale_to_cells(daily.drop(columns=["baseline"]), store_cf)
            daily = scaled.assign(baseline_method=np.where(scaled["baseline"].notna(),
                                                           "forecast", "pre_period"))
    fallback = daily["baseline"].isna()
    if fallback.any():
        daily.loc[fallback, "baseline"] = pre_period_baseline(daily).loc[fallback]
        if cfg["method"] == "forecast":
            count = daily.loc[fallback & (daily["role"] == PROMOTED), "window_id"].nunique()
            notes.append(f"{count} promotion-store window(s) measured against the pre-period "
                         "mean: no forecast counterfactual, or under "
                         f"{MIN_CLEAN_DAYS} clean pre-period days")
    return daily, notes


def _window_bounds(frame: pd.DataFrame, pre_days: int, post_days: int, as_of: date
                   ) -> tuple[pd.Series, pd.Series]:
    """First and last day read for each window: the pre-period to the post-period's end,
    never after as-of."""
    first = frame["start_date"] - pd.Timedelta(days=pre_days)
    last = (frame["end_date"] + pd.Timedelta(days=post_days)).clip(upper=pd.Timestamp(as_of))
    return first, last


def _forecast_windows(terms: pd.DataFrame, pre_days: int, post_days: int,
                      as_of: date) -> pd.DataFrame:
    first, last = _window_bounds(terms, pre_days, post_days, as_of)
    return pd.DataFrame({"window_id": terms["promo_id"] + "|" + terms["store_id"],
                         "store_id": terms["store_id"],
                         "origin": first - pd.Timedelta(days=1), "first": first, "last": last})


def _store_figures(daily: pd.DataFrame, terms: pd.DataFrame, as_of: date,
                   min_baseline: float) -> pd.DataFrame:
    """One row per promotion x store: the window's units, baseline, money and causes."""
    if daily.empty:
        return _empty_stores()
    keys = ["promo_id", "store_id"]
    d = daily
    pre = d["date"] < d["start_date"]
    during = ~pre & (d["date"] <= d["end_date"])
    post = d["date"] > d["end_date"]
    promoted, sibling = d["role"] == PROMOTED, d["role"] == SIBLING
    win = d.loc[promoted & during & d["trading"]].groupby(keys).agg(
        observed_days=("date", "size"), actual_units=("units", "sum"),
        baseline_units=("baseline", "sum"), revenue=("revenue", "sum"), cost=("cost", "sum"),
        stockout_cell_days=("stockout_cells", "sum"), cell_days=("cells", "sum"),
        method=("baseline_method", "first"))
    gaps = d.loc[promoted & during].groupby(keys)["gap"].sum().rename("gap_days")
    regular = d.loc[promoted & d["baseline_day"]].groupby(keys).agg(
        pre_units=("units", "sum"), pre_revenue=("revenue", "sum"), pre_cost=("cost", "sum"),
        pre_list=("list_value", "sum"))
    dip = _difference(d.loc[promoted & post & d["trading"]], keys, "dip_units")
    cannibal = _difference(d.loc[sibling & during & d["trading"]], keys, "cannibalized_units")
    spread = _share_spread(d.loc[promoted & pre], keys)
    out = terms.set_index(keys).join(win, how="inner")
    for part in (gaps, regular, dip, cannibal, spread):
        out = out.join(part, how="left")
    return _money(out.reset_index(), min_baseline)


def _difference(rows: pd.DataFrame, keys: list[str], name: str) -> pd.Series:
    return (rows["units"] - rows["baseline"]).groupby([rows[k] for k in keys]).sum().rename(name)


def _share_spread(pre: pd.DataFrame, keys: list[str]) -> pd.Series:
    """Relative standard error of the pre-period share: how sure the baseline's level is.

    From weekly blocks, not days: neighbouring days' errors are correlated (a week of good
    weather, a campaign), so a daily standard error would claim too much precision.
    """
    clean = pre.loc[pre["baseline_day"] & (pre["baseline"] > 0)]
    week = (clean["start_date"] - clean["date"]).dt.days // 7
    blocks = clean.groupby([*(clean[k] for k in keys), week])[["units", "baseline"]].sum()
    ratio = blocks["units"] / blocks["baseline"]
    grouped = ratio.groupby(level=list(range(len(keys))))
    se = grouped.std() / np.sqrt(grouped.size().clip(lower=1)) / grouped.mean()
    return se.replace([np.inf, -np.inf], np.nan).rename("baseline_se")


def _money(s: pd.DataFrame, min_baseline: float) -> pd.DataFrame:
    """Lift, incremental money and probable causes per promotion x store."""
    base = s["baseline_units"].where(s["baseline_units"] >= min_baseline * s["observed_days"])
    s["lift_pct"] = (s["actual_units"] - base) / base * 100
    s["incremental_units"] = s["actual_units"] - s["baseline_units"]
    price = s["pre_revenue"] / s["pre_units"].where(s["pre_units"] > 0)
    price = price.fillna(s["pre_list"] / s["pre_units"].where(s["pre_units"] > 0))
    unit_cost = s["pre_cost"] / s["pre_units"].where(s["pre_units"] > 0)
    s["regular_price"], s["unit_cost"] = price, unit_cost
    s["incremental_revenue"] = s["revenue"] - s["baseline_units"] * price
    margin = (s["revenue"] - s["actual_units"] * unit_cost) - s["baseline_units"] * (price - unit_cost)
    s["incremental_margin"] = margin
    s["net_incremental_units"] = (s["incremental_units"] + s["dip_units"].fillna(0)
                                  + s["cannibalized_units"].fillna(0))
    s["net_incremental_margin"] = margin + (s["dip_units"].fillna(0)
                                            + s["cannibalized_units"].fillna(0)) * (price - unit_cost)
    sold = s["actual_units"].where(s["actual_units"] > 0)
    s["promo_unit_revenue"] = s["revenue"] / sold  # what one more promoted unit brings
    s["promo_unit_margin"] = (s["revenue"] - s["actual_units"] * unit_cost) / sold
    realised = 1 - (s["revenue"] / s["actual_units"].where(s["actual_units"] > 0)) / price
    s["realised_discount_pct"] = realised * 100
    s["stockout_share"] = s["stockout_cell_days"] / s["cell_days"].where(s["cell_days"] > 0)
    return s


PROMO_SUMS = ("observed_days", "actual_units", "baseline_units", "incremental_units",
              "incremental_revenue", "incremental_margin", "dip_units", "cannibalized_units",
              "net_incremental_units", "net_incremental_margin", "gap_days",
              "stockout_cell_days", "cell_days")


def promo_figures(stores: pd.DataFrame) -> pd.DataFrame:
    """Per promotion: sums over its measured stores, lift and its interval, causes."""
    if stores.empty:
        return _empty_promos()
    measured = stores.loc[stores["lift_pct"].notna()]
    g = measured.groupby("promo_id")
    out = g[list(PROMO_SUMS)].sum(min_count=1)
    out["observed_days"] = g["observed_days"].max()
    out["stores"] = g.size()
    first = g[["start_date", "end_date", "category", "discount_pct", "promo_type", "sku",
               "status"]].first()
    out = out.join(first)
    out["baseline_method"] = g["method"].agg(_method_of_stores)
    base = out["baseline_units"]
    out["actual_lift_pct"] = (out["actual_units"] - base) / base * 100
    weights = measured["baseline_units"] * measured["baseline_se"].fillna(0)
    se = np.sqrt((weights ** 2).groupby(measured["promo_id"]).sum()) / base
    low = (out["actual_units"] / (base * (1 + Z90 * se)) - 1) * 100
    high = (out["actual_units"] / (base * np.maximum(1 - Z90 * se, 0.05)) - 1) * 100
    out["actual_lift_lower"], out["actual_lift_upper"] = low, high
    out["concurrent_promos"] = g["same_category_overlaps"].max()
    discount_gap = (measured["realised_discount_pct"] - measured["discount_pct"]).abs()
    out["price_gap_pp"] = discount_gap.groupby(measured["promo_id"]).median()
    out["stockout_share"] = out["stockout_cell_days"] / out["cell_days"].where(
        out["cell_days"] > 0)
    for name in ("promo_unit_revenue", "promo_unit_margin"):
        weighted = (measured[name] * measured["baseline_units"]).groupby(measured["promo_id"])
        out[name] = weighted.sum(min_count=1) / base
    out["store_ids"] = g["store_id"].agg(lambda s: sorted(s))
    return out.reset_index()


def _method_of_stores(methods: pd.Series) -> str:
    """`forecast` or `pre_period` when every store agrees, else `mixed`."""
    found = set(methods)
    return found.pop() if len(found) == 1 else "mixed"


def probable_causes(promo: pd.Series) -> list[str]:
    """What visibly could explain a promotion's surprise, most specific first."""
    causes = []
    if promo.get("stockout_share", 0) and promo["stockout_share"] > 0.05:
        causes.append(f"stock-outs on {promo['stockout_share']:.0%} of the promoted "
                      "store-SKU days (inventory)")
    if promo.get("gap_days", 0) and promo["gap_days"] > 0:
        causes.append(f"{int(promo['gap_days'])} store-day(s) of the window have no sales "
                      "data (a data gap)")
    if promo.get("concurrent_promos", 0) and promo["concurrent_promos"] > 0:
        causes.append(f"{int(promo['concurrent_promos'])} other promotion(s) of the category "
                      "overlapping it in the same stores")
    gap = promo.get("price_gap_pp")
    if gap is not None and not pd.isna(gap) and gap > PRICE_CHANGE_PP:
        causes.append(f"the realised discount differs from the planned one by {gap:.0f} "
                      "points (a price change)")
    return causes


def _empty_stores() -> pd.DataFrame:
    return pd.DataFrame(columns=["promo_id", "store_id", "lift_pct", "baseline_units",
                                 "actual_units", "observed_days"])


def _empty_promos() -> pd.DataFrame:
    return pd.DataFrame(columns=["promo_id", "actual_lift_pct", "baseline_units",
                                 "actual_units", "observed_days", "stores"])
