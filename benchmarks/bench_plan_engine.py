"""Quarter-planner engine benchmark: how long optimising a plan takes at the medium world's size.

Not a test: prints numbers. Two measurements:

1. The engine alone (`optimise_plan` in each mode, then the rows `plan_quarter` would write) on
   an analytic stand-in of the medium world's shape: 3 countries x 6 channels x 13 weeks of
   media, 54 stores, 120 SKUs in 10 categories, a discount grid of 3 per SKU x store x week
   (252,720 candidates), 300 planned promotions. Media uplift is geometric adstock + Hill
   saturation per channel, summed per country; increments are a fixed hash of SKU x store. It
   separates the engine's cost from the fitted models' (`--uplift-ms` adds a delay per uplift
   call to mimic a slower model). Bounds are checked on every plan.
2. With `--warehouse URL`: `plan_quarter` on a real warehouse (the champion models; the
   warehouse gets the plan's rows under run id `bench-plan`), medians of `--repeat` runs.

    python benchmarks/bench_plan_engine.py [--repeat 3] [--uplift-ms 0] [--warehouse URL]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date

import numpy as np
import pandas as pd

from liftline.plan import PLANNED, RECOMMENDED, Plan, PlanRequest, optimise_plan
from liftline.plan.optimize import WEEKLY_CAP_MULTIPLE, evaluate_plan
from liftline.plan.pipeline import plan_result

REQUEST = PlanRequest(start=date(2025, 1, 6), weeks=13)
WEEKS = REQUEST.week_starts
COUNTRIES = ("DE", "FR", "NL")
CHANNELS = tuple(f"channel_{i}" for i in range(6))
STORES = {f"ST-{i:04d}": COUNTRIES[i % 3] for i in range(54)}
SKUS = {f"SKU-{i:04d}": f"category_{i % 10}" for i in range(120)}


class StandIn:
    """The Responses protocol on analytic curves of the medium world's shape."""

    def __init__(self, uplift_ms: float = 0.0, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.curves = {(c, ch): (rng.uniform(0.02, 0.08), rng.uniform(0.0, 0.7),
                                 rng.uniform(2e3, 8e3)) for c in COUNTRIES for ch in CHANNELS}
        self.delay = uplift_ms / 1000.0
        self.calls = 0

    def base(self, request: PlanRequest) -> pd.DataFrame:
        rows = [(store, country, week, 500.0, 5000.0 * (1 + 0.2 * np.sin(i)), 1500.0)
                for store, country in STORES.items() for i, week in enumerate(WEEKS)]
        base = pd.DataFrame(rows, columns=["store_id", "country", "week_start", "units",
                                           "revenue", "gross_margin"])
        for measure in ("units", "revenue"):
            base[f"{measure}_lower"], base[f"{measure}_upper"] = (0.9 * base[measure],
                                                                  1.1 * base[measure])
        return base

    def media_uplift(self, media: pd.DataFrame) -> pd.DataFrame:
        self.calls += 1
        time.sleep(self.delay)
        keys = sorted(set(zip(media["country"], media["channel"], strict=True)))
        row = {key: i for i, key in enumerate(keys)}
        week = {w: i for i, w in enumerate(WEEKS)}
        spend = np.zeros((len(keys), len(WEEKS)))
        spend[[row[k] for k in zip(media["country"], media["channel"], strict=True)],
              [week[w] for w in pd.to_datetime(media["week_start"])]] = media["spend"]
        beta, theta, half = (np.array([self.curves[k][j] for k in keys]) for j in range(3))
        adstock, carry = np.zeros_like(spend), np.zeros(len(keys))
        for i in range(len(WEEKS)):
            carry = spend[:, i] + theta * carry
            adstock[:, i] = carry
        lift = beta[:, None] * adstock / (adstock + half[:, None])
        countries = sorted({c for c, _ in keys})
        total = np.zeros((len(countries), len(WEEKS)))
        np.add.at(total, [countries.index(c) for c, _ in keys], lift)
        return pd.DataFrame({"country": np.repeat(countries, len(WEEKS)),
                             "week_start": np.tile(WEEKS.to_numpy(), len(countries)),
                             "uplift": total.ravel()})

    def promotion_increments(self, promotions: pd.DataFrame) -> pd.DataFrame:
        draw = pd.util.hash_pandas_object(promotions[["sku", "store_id"]], index=False)
        margin = ((draw.to_numpy() % 1000) / 1000 - 0.3) * 10 * promotions["discount_pct"]
        return promotions.assign(incremental_units=margin / 5, incremental_revenue=margin * 3,
                                 incremental_gross_margin=margin, cost=20.0)


def candidates() -> pd.DataFrame:
    return pd.DataFrame(
        [(sku, store, week, discount, 7, "price_discount", RECOMMENDED, category)
         for sku, category in SKUS.items() for store in STORES for week in WEEKS
         for discount in (10.0, 20.0, 30.0)],
        columns=["sku", "store_id", "week_start", "discount_pct", "duration_days", "promo_type",
                 "origin", "category"])


def business_as_usual(grid: pd.DataFrame) -> Plan:
    media = pd.DataFrame([(c, ch, w, 3000.0 * (1 + 0.3 * np.cos(i))) for c in COUNTRIES
                          for ch in CHANNELS for i, w in enumerate(WEEKS)],
                         columns=["country", "channel", "week_start", "spend"])
    planned = (grid.sample(300, random_state=1).assign(origin=PLANNED)
               .drop_duplicates(["sku", "store_id", "week_start"]))
    return Plan(media=media, promotions=planned)


def check_bounds(plan: Plan, bau: Plan) -> str:
    """'ok', or which bound the plan breaks."""
    key = ["country", "channel"]
    totals, theirs = plan.media.groupby(key)["spend"].sum(), bau.media.groupby(key)["spend"].sum()
    if abs(totals.sum() - theirs.sum()) > 1e-6 * theirs.sum():
        return "budget"
    ratio = totals / theirs
    if ratio.min() < 0.7 - 1e-9 or ratio.max() > 1.3 + 1e-9:
        return "channel bounds"
    weekly = plan.media.groupby(key)["spend"].max() / bau.media.groupby(key)["spend"].max()
    if (plan.media["spend"] < 0).any() or weekly.max() > WEEKLY_CAP_MULTIPLE + 1e-9:
        return "weekly cap"
    chosen = plan.promotions[plan.promotions["origin"] != PLANNED]
    if chosen.duplicated(["store_id", "category", "week_start"]).any():
        return "overlapping siblings"
    return "ok"


def bench_engine(repeat: int, uplift_ms: float) -> None:
    grid = candidates()
    bau = business_as_usual(grid)
    print(f"stand-in: {len(grid):,} candidates, {len(bau.promotions)} planned, "
          f"{len(COUNTRIES)} x {len(CHANNELS)} x {len(WEEKS)} media cells, "
          f"+{uplift_ms:g} ms per uplift call")
    responses = StandIn(uplift_ms)
    bau_margin = evaluate_plan(responses, REQUEST, bau).margin
    for mode in ("joint", "separate", "media_only", "promotions_only"):
        seconds, calls = [], 0
        for _ in range(repeat):
            responses.calls = 0
            started = time.perf_counter()
            plan = optimise_plan(responses, REQUEST, bau, grid, mode=mode)
            seconds.append(time.perf_counter() - started)
            calls = responses.calls
        started = time.perf_counter()
        result = plan_result(responses, REQUEST, "bench", plan, bau, mode=mode)
        rows = time.perf_counter() - started
        print(f"{mode:16s} {statistics.median(seconds):6.1f} s (median of {repeat}), "
              f"{calls:5d} uplift calls, margin {result.summary['margin']:>12,.0f} "
              f"(as usual {bau_margin:,.0f}), {len(plan.promotions):5d} promotions, "
              f"rows {rows:.1f} s, bounds {check_bounds(plan, bau)}")


def bench_warehouse(url: str, repeat: int) -> None:
    from liftline.plan import plan_quarter, plan_start
    from liftline.warehouse import get_engine

    engine = get_engine(url)
    request = PlanRequest(start=plan_start(engine), weeks=13)
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = plan_quarter(engine, request, "bench-plan", log=lambda _m: None)
        seconds.append(time.perf_counter() - started)
    print(f"plan_quarter on {engine.url.render_as_string()}: "
          f"{statistics.median(seconds):.1f} s (median of {repeat}; runs "
          f"{', '.join(f'{s:.1f}' for s in seconds)}); incremental margin "
          f"{result.summary['incremental_margin']:+,.0f}; missing {result.missing or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--uplift-ms", type=float, default=0.0)
    parser.add_argument("--warehouse", help="also time plan_quarter on this warehouse URL")
    args = parser.parse_args()
    bench_engine(args.repeat, args.uplift_ms)
    if args.warehouse:
        bench_warehouse(args.warehouse, args.repeat)


if __name__ == "__main__":
    main()
