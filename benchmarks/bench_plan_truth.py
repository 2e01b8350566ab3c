"""The truth of a quarter plan: speed of TrueResponses and its agreement with simulate_plan.

Not a test: prints numbers. TrueResponses' parts, combined as the planner combines them
(sales = (base + promotion increments) x (1 + media uplift)), are compared with simulate_plan,
which re-runs the synth's own demand code with the plan, on the world's own plan and on random
plans (spend x uniform(0.5, 1.5), promotions from the world's grid).

    python benchmarks/bench_plan_truth.py --scale small --plans 20
    python benchmarks/bench_plan_truth.py --scale medium --plans 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date

import numpy as np
import pandas as pd

from liftline.plan import PlanRequest, evaluate_plan
from liftline.synth import TrueResponses, random_plan, simulate_plan, world_plan

MEASURES = ["units", "revenue", "gross_margin"]


def combine(responses: TrueResponses, request: PlanRequest, plan) -> pd.Series:
    """Totals of the plan as the planner's engine combines the parts (plan.evaluate_plan):
    units, revenue, gross margin, margin (less spend and promotion cost)."""
    outcome = evaluate_plan(responses, request, plan)
    totals = outcome.weekly[MEASURES].sum()
    totals["margin"] = outcome.margin
    return totals


def simulated(plan, request, scale, earlier=False) -> pd.Series:
    totals = simulate_plan(plan, request, scale, earlier_promotions=earlier)[MEASURES].sum()
    costs = TrueResponses(scale).promotion_increments(plan.promotions).cost.sum()
    totals["margin"] = totals.gross_margin - plan.media.spend.sum() - costs
    return totals


def candidate_grid(truth: TrueResponses, request: PlanRequest) -> pd.DataFrame:
    """Every SKU x store x week at three price-discount depths for 7 days."""
    stores, products = truth.truth.stores, truth.truth.products
    grid = pd.MultiIndex.from_product(
        [products.sku, stores.store_id, request.week_starts, [10.0, 20.0, 30.0]],
        names=["sku", "store_id", "week_start", "discount_pct"]).to_frame(index=False)
    return grid.assign(duration_days=7, promo_type="price_discount", origin="recommended")


def timed(fn, repeat=5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="small")
    parser.add_argument("--plans", type=int, default=20)
    parser.add_argument("--start", default="2025-01-06")
    parser.add_argument("--promotions", type=int, default=40)
    args = parser.parse_args()
    request = PlanRequest(start=date.fromisoformat(args.start), weeks=13)

    t = time.perf_counter()
    truth = TrueResponses(args.scale)
    print(f"TrueResponses({args.scale}) built in {time.perf_counter() - t:.2f} s")
    own = world_plan(request, args.scale)
    print(f"world plan: {len(own.media)} spend rows, {len(own.promotions)} promotion rows")
    print(f"evaluate (base + uplift + increments + combine), median of 5: "
          f"{timed(lambda: combine(truth, request, own)):.3f} s")
    grid = candidate_grid(truth, request)
    print(f"promotion_increments of {len(grid)} candidates: "
          f"{timed(lambda: truth.promotion_increments(grid), 3):.3f} s")
    print(f"simulate_plan(world plan): {timed(lambda: simulated(own, request, args.scale), 1):.2f} s")

    s_own = simulated(own, request, args.scale)
    print("world plan, factorised vs simulated (relative):",
          ((combine(truth, request, own) - s_own) / s_own.abs()).round(4).to_dict())
    carried = simulated(own, request, args.scale, earlier=True)
    print("earlier promotions running into the plan change the totals by:",
          ((carried - s_own) / s_own.abs()).round(4).to_dict())

    errors = []
    for draw in range(args.plans):
        plan = random_plan(request, args.scale, draw=draw, promotions=args.promotions)
        ref = simulated(plan, request, args.scale)
        errors.append((combine(truth, request, plan) - ref) / ref.abs())
    errors = pd.DataFrame(errors)
    print(f"{args.plans} random plans ({args.promotions} promotions each), relative error of "
          "factorised totals against simulate_plan:")
    for col in errors:
        e = errors[col].to_numpy()
        print(f"  {col:<13} median {np.median(e):+.5f}  min {e.min():+.5f}  max {e.max():+.5f}"
              f"  max |e| {np.abs(e).max():.5f}")


if __name__ == "__main__":
    main()
