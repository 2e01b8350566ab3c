"""Interval benchmark on kept backtest rows: coverage and width of the 90% intervals.

Not a test: prints numbers. The rows are those `bench_forecast.py --keep DIR` leaves in
DIR/backtest_store_day_<measure>.parquet (series_key, date, origin, horizon, candidate, y,
yhat), so the calibration can be studied in seconds without refitting any model. For each
candidate: WAPE, leave-one-origin-out coverage (each origin's intervals calibrated on the
other origins: what training reports), the in-sample coverage, and the mean interval width
relative to the forecast, (upper - lower) / yhat, over open days.

    python benchmarks/bench_intervals.py DIR/backtest_store_day_units.parquet
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=Path, nargs="+", help="kept backtest rows (parquet)")
    args = parser.parse_args()
    from liftline.forecast.backtest import candidate_metrics
    from liftline.forecast.spec import load_spec

    spec = load_spec()
    for path in args.rows:
        rows = pd.read_parquet(path)
        print(f"{path} ({rows['origin'].nunique()} origins, {rows['series_key'].nunique()} "
              "series)")
        print(f"  {'model':15s} {'WAPE':>7s} {'coverage':>9s} {'in-sample':>10s} {'width':>6s}")
        for name, own in rows.groupby("candidate", sort=False):
            m = candidate_metrics(own, spec)["metrics"]
            print(f"  {name:15s} {m['wape']:7.4f} {m['coverage']:9.3f} "
                  f"{m['coverage_in_sample']:10.3f} {m['interval_width']:6.3f}")


if __name__ == "__main__":
    main()
