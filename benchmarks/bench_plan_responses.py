"""The quarter planner's fitted responses: how long loading them takes, and whether the numbers
are sane. Not a test: prints numbers. Reads (never writes) a warehouse that `liftline run` has
filled, e.g. a copy of a finished demo home:

    python benchmarks/bench_plan_responses.py --home /tmp/home [--weeks 13] [--repeat 3]
        [--challengers]

Times (median of --repeat): business_as_usual, FittedResponses.from_warehouse,
promotion_candidates, promotion_increments of every candidate, media_uplift of business as
usual. Sanity: business-as-usual spend per country, the media uplift's range, the candidates,
the base's revenue against the expected sales it was cleaned from, the promotions' increments.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path


def timed(repeat: int, call):  # noqa: ANN001, ANN201 - a benchmark helper
    seconds, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--weeks", type=int, default=13)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--challengers", action="store_true",
                        help="a model without a champion answers with its latest challenger")
    args = parser.parse_args()
    os.environ["LIFTLINE_HOME"] = str(args.home)

    import pandas as pd

    from liftline.plan.bau import business_as_usual
    from liftline.plan.fitted import FittedResponses, promotion_candidates
    from liftline.plan.fitted_base import expected_sales
    from liftline.plan.history import history_end, store_dimension
    from liftline.plan.types import PlanRequest
    from liftline.promo.candidates import next_mondays
    from liftline.warehouse import get_engine

    engine = get_engine(f"sqlite:///{args.home / 'warehouse.db'}")
    probe = PlanRequest(start=pd.Timestamp("2100-01-04").date(), weeks=args.weeks)
    as_of = history_end(engine, probe)
    request = PlanRequest(start=next_mondays(as_of, 1)[0].date(), weeks=args.weeks)
    quiet = {"log": lambda _: None}
    print(f"plan {request.start} + {request.weeks} weeks (as of {as_of}), "
          f"median of {args.repeat}")

    t_bau, bau = timed(args.repeat, lambda: business_as_usual(engine, request, **quiet))
    t_load, fitted = timed(args.repeat, lambda: FittedResponses.from_warehouse(
        engine, request, challengers=args.challengers, **quiet))
    t_cand, candidates = timed(args.repeat, lambda: promotion_candidates(engine, request, **quiet))
    t_inc, increments = timed(args.repeat, lambda: fitted.promotion_increments(candidates))
    t_media, uplift = timed(args.repeat, lambda: fitted.media_uplift(bau.media))
    print(f"seconds: business_as_usual {t_bau:.2f}, from_warehouse {t_load:.2f}, "
          f"promotion_candidates {t_cand:.2f}, increments of {len(candidates)} candidates "
          f"{t_inc:.2f}, media_uplift {t_media:.3f}")
    print(f"missing: {fitted.missing or 'none'}")
    for note in fitted.notes:
        print(f"  note: {note}")

    spend = bau.media.groupby("country")["spend"].sum()
    print("business-as-usual spend: " + ", ".join(f"{c} {v:,.0f}" for c, v in spend.items())
          + f" (total {spend.sum():,.0f})")
    print(f"business-as-usual promotions: {bau.promotions['origin'].value_counts().to_dict()} "
          f"cells, {bau.promotions['promo_id'].nunique()} promotions")
    print(f"media uplift of business as usual: {uplift['uplift'].min():.1%} .. "
          f"{uplift['uplift'].max():.1%} (mean {uplift['uplift'].mean():.1%})")
    expected = expected_sales(engine, request, store_dimension(engine), as_of, [], [])
    base = fitted.base(request).merge(expected[["store_id", "week_start", "revenue", "source"]],
                                      on=["store_id", "week_start"], suffixes=("", "_expected"))
    for source, part in base.groupby("source"):
        print(f"base revenue, {source} weeks: {part['revenue'].sum():,.0f} against "
              f"{part['revenue_expected'].sum():,.0f} expected "
              f"({part['revenue'].sum() / part['revenue_expected'].sum() - 1:+.1%}); gross "
              f"margin {part['gross_margin'].sum() / part['revenue'].sum():.1%} of revenue")
    print(f"candidates: {len(candidates)} ({candidates['store_id'].nunique()} stores, "
          f"{candidates['sku'].nunique()} SKUs, durations "
          f"{sorted(int(d) for d in candidates['duration_days'].unique())})")
    net = increments["incremental_gross_margin"] - increments["cost"]
    print(f"candidate increments: units median {increments['incremental_units'].median():.1f}, "
          f"gross margin median {increments['incremental_gross_margin'].median():.1f} "
          f"(positive: {(increments['incremental_gross_margin'] > 0).sum()}), cost median "
          f"{increments['cost'].median():.0f}, positive after cost: {(net > 0).sum()}")
    found = fitted.promotion_increments(bau.promotions).assign(
        origin=bau.promotions["origin"].to_numpy())
    print(found.groupby("origin")[["incremental_units", "incremental_revenue",
                                   "incremental_gross_margin", "cost"]].sum().round(0))


if __name__ == "__main__":
    main()
