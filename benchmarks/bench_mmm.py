"""Marketing mix model benchmarks: speed, recovery on the PyMC-Marketing example, and the
synthetic world's ground truth. Not a test: prints numbers.

    python benchmarks/bench_mmm.py                 # (a) speed: 156 weeks x 8 channels
    python benchmarks/bench_mmm.py --pymc          # (b) ../shared/data/pymc_mmm_example/
    python benchmarks/bench_mmm.py --pymc --lift-tests "x1:40,100"   # ... with two x1 tests
    python benchmarks/bench_mmm.py --world DIR     # (c) a `liftline generate` world (DIR/_truth)
    python benchmarks/bench_mmm.py --world new     #     generates a small world in a temp dir
    ... --world DIR --keep WH_DIR                  #     reuses the ingested warehouse next time
    ... --no-lift-tests                            #     the world without its lift tests
    ... --override '{"channel_types": {"tv_brand": {"theta": [0.3, 0.8]}}}'   # spec changes

Goals: (a) the default search (2000 x 5), CV and 100 bootstrap refits in under 60 s
on 2 cores; (b) recovered share of y and ROI per channel within 25% of the truth; (c) each
channel's true ROI inside its 90% interval for at least 80% of channels, ROI MAPE printed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PYMC_DIR = ROOT.parent / "shared" / "data" / "pymc_mmm_example"
PYMC_ATTRIBUTION = ("PyMC-Marketing data/mmm_example.csv (Apache-2.0), ground truth regenerated "
                    "from the documented recipe of its mmm_example notebook")


SPEC_OVERRIDES: dict = {}  # --override: merged over every spec this script builds


def _spec(overrides: dict | None = None):
    from liftline.mmm import load_spec
    from liftline.mmm.spec import merge

    return load_spec(overrides=merge(overrides or {}, SPEC_OVERRIDES))


def _quiet(_: str) -> None:
    pass


# --- (a) speed ---------------------------------------------------------------------------------


def bench_speed(args: argparse.Namespace) -> None:
    from liftline.mmm import MarketingMixModel
    from liftline.mmm.simulate import simulate

    data, truth = simulate(weeks=156, channels=8, seed=args.seed)
    spec = _spec({"search": {"budget": args.budget, "trials": args.trials},
                  "bootstrap": {"resamples": args.resamples}})
    print(f"speed: 156 weeks x 8 channels, search {spec.budget} x {spec.trials} "
          f"(batch {spec.batch}), CV {spec.cv_train_weeks}+{spec.cv_test_weeks} "
          f"{spec.cv_window}, {spec.bootstrap_resamples} bootstrap refits")
    started = time.perf_counter()
    fit = MarketingMixModel(spec, log=_quiet).fit(data).fit_
    total = time.perf_counter() - started
    for phase, seconds in fit.timings.items():
        print(f"  {phase:<18} {seconds:7.2f} s")
    print(f"  {'total':<18} {total:7.2f} s   (goal < 60 s)")
    evaluations = sum(t.evaluations for t in fit.trials)
    print(f"  {evaluations} evaluations, {1e3 * fit.timings['search'] / evaluations:.2f} ms each "
          f"(Nevergrad ask/tell included)")
    _print_recovery(fit, truth.set_index("channel"))


def _print_recovery(fit, truth: pd.DataFrame) -> None:
    table = fit.channel_results().set_index("channel")
    table["true_roi"] = truth["roi"]
    inside = (table.true_roi >= table.roi_lower) & (table.true_roi <= table.roi_upper)
    print(f"  quality: CV MAPE {fit.metrics['cv_mape']:.1%} ({fit.metrics['grade']}), "
          f"CV R2 {fit.metrics['cv_r2']:.2f}, ROI spread across trials "
          f"{fit.metrics['roi_trial_max_relative_spread']:.0%}")
    print(f"  {'channel':<14}{'roi':>7}{'90% interval':>18}{'true':>7}")
    for channel, row in table.iterrows():
        print(f"  {channel:<14}{row.roi:7.2f}   [{row.roi_lower:5.2f}, {row.roi_upper:5.2f}]"
              f"{row.true_roi:7.2f} {'in' if inside[channel] else 'OUT'}")
    mape = (abs(table.roi - table.true_roi) / table.true_roi).mean()
    print(f"  coverage {inside.mean():.0%}, ROI MAPE {mape:.1%}")


# --- (b) PyMC-Marketing example -----------------------------------------------------------------


def load_pymc_example():
    """The PyMC-Marketing example as Liftline's inputs: (frame, truth json, weekly truth, data).

    x1, x2 -> spend of two channels; y -> revenue; the two events -> controls.
    """
    from liftline.mmm import MMMData

    frame = pd.read_csv(PYMC_DIR / "mmm_example.csv", parse_dates=["date_week"])
    truth = json.loads((PYMC_DIR / "mmm_example_ground_truth.json").read_text())
    weekly = pd.read_csv(PYMC_DIR / "mmm_example_ground_truth.csv.gz", parse_dates=["date_week"])
    index = pd.DatetimeIndex(frame["date_week"])
    data = MMMData(
        spend=pd.DataFrame({"x1": frame["x1"].to_numpy(), "x2": frame["x2"].to_numpy()},
                           index=index),
        revenue=pd.Series(frame["y"].to_numpy(), index=index),
        controls=pd.DataFrame({"event_1": frame["event_1"].to_numpy(),
                               "event_2": frame["event_2"].to_numpy()}, index=index))
    return frame, truth, weekly, data


def pymc_example_true_roi(frame: pd.DataFrame, weekly: pd.DataFrame) -> pd.Series:
    """Each channel's true ROI: its true contribution over its spend, all weeks."""
    return pd.Series({c: weekly[f"contrib_{c}"].sum() / frame[c].sum() for c in ("x1", "x2")})


def bench_pymc(args: argparse.Namespace) -> None:
    from liftline.mmm import MarketingMixModel

    frame, truth, weekly, data = load_pymc_example()
    true_rois = pymc_example_true_roi(frame, weekly)
    spec = _spec({"search": {"budget": args.budget, "trials": args.trials},
                  "data": {"max_weeks": len(frame)}})
    if args.lift_tests:
        data = replace(data, lift_tests=_pymc_lift_tests(frame, truth, args.lift_tests))
        print("lift tests (4 weeks dark, 10% standard error, from the documented recipe):")
        print(data.lift_tests.to_string(index=False, float_format="%.1f"))
    started = time.perf_counter()
    fit = MarketingMixModel(spec, log=_quiet).fit(data).fit_
    elapsed = time.perf_counter() - started
    print(f"PyMC-Marketing example ({len(frame)} weeks, 2 channels), fitted in {elapsed:.1f} s")
    print(f"  data: {PYMC_ATTRIBUTION}")
    print(f"  truth: adstock {truth['adstock']['type']}; saturation "
          f"{truth['saturation']['type']}")
    print(f"  quality: CV MAPE {fit.metrics['cv_mape']:.1%} ({fit.metrics['grade']}), "
          f"in-sample R2 {fit.metrics['r2']:.3f}, CV R2 {fit.metrics['cv_r2']:.3f}")
    results = fit.channel_results().set_index("channel")
    y_total = frame["y"].sum()
    print(f"  {'channel':<8}{'share of y':>12}{'true':>8}{'error':>8}   {'ROI':>8}{'90% interval':>22}"
          f"{'true':>8}{'error':>8}")
    worst = 0.0
    for channel in ("x1", "x2"):
        share = results.loc[channel, "contribution"] / y_total
        true_share = weekly[f"contrib_{channel}"].sum() / y_total
        roi = results.loc[channel, "roi"]
        true_roi = true_rois[channel]
        share_err, roi_err = share / true_share - 1, roi / true_roi - 1
        worst = max(worst, abs(share_err), abs(roi_err))
        print(f"  {channel:<8}{share:12.1%}{true_share:8.1%}{share_err:+8.1%}   {roi:8.0f}"
              f"   [{results.loc[channel, 'roi_lower']:7.0f}, {results.loc[channel, 'roi_upper']:7.0f}]"
              f"{true_roi:8.0f}{roi_err:+8.1%}")
    print(f"  largest error {worst:.1%} (goal within 25%)")
    print("  chosen: " + ", ".join(
        f"{c} theta {fit.hyper['theta'][i]:.2f} alpha {fit.hyper['alpha'][i]:.2f} "
        f"gamma {fit.hyper['gamma'][i]:.2f}" for i, c in enumerate(fit.channels))
          + f"; lambda {fit.lam:.2g} (true adstock decay 0.4 / 0.2)")


def _pymc_lift_tests(frame: pd.DataFrame, truth: dict, spec: str) -> pd.DataFrame:
    """4-week tests ("x1:20,60" = x1 dark from week 20 and from week 60): the recipe's own
    response (normalised geometric adstock over 8 weeks, logistic saturation, amplitude x beta)
    with and without the channel's spend in the window, summed over the window, and a 10%
    error drawn and stated."""
    rng = np.random.default_rng(1)
    rows = []
    for part in spec.split(";"):
        channel, starts = part.split(":")
        theta = truth["adstock"][f"alpha_{channel}"]
        lam = truth["saturation"][f"lam_{channel}"]
        scale = truth["amplitude"] * truth["beta"][channel]
        weights = theta ** np.arange(8)
        weights /= weights.sum()

        x = frame[channel].to_numpy(float)
        for first in map(int, starts.split(",")):
            off = x.copy()
            off[first: first + 4] = 0.0
            lost = _logistic_response(x, weights, lam, scale) - _logistic_response(
                off, weights, lam, scale)
            true = float(lost[first: first + 4].sum())
            measured = true * (1 + 0.1 * rng.standard_normal())
            rows.append({"channel": channel, "start_date": frame["date_week"].iloc[first],
                         "end_date": frame["date_week"].iloc[first + 3] + pd.Timedelta(days=6),
                         "incremental_revenue": measured, "spend": x[first: first + 4].sum(),
                         "std_error": 0.1 * abs(measured), "true_incremental": true})
    return pd.DataFrame(rows)


def _logistic_response(x: np.ndarray, weights: np.ndarray, lam: float, scale: float
                       ) -> np.ndarray:
    adstock = np.convolve(x, weights)[: len(x)]
    return scale * (1 - np.exp(-lam * adstock)) / (1 + np.exp(-lam * adstock))


# --- (c) the synthetic world ------------------------------------------------------------------


def bench_world(args: argparse.Namespace) -> None:
    from liftline.mmm import MarketingMixModel
    from liftline.mmm.inputs import load_mmm_data

    world, cleanup = _world_dir(args.world, args.scale)
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_mmm_"))
    try:
        if args.keep and (workdir / "warehouse.db").is_file():
            from liftline.warehouse import get_engine

            engine = get_engine(f"sqlite:///{workdir / 'warehouse.db'}")
            print(f"world {world}: warehouse reused from {workdir}")
        else:
            workdir.mkdir(parents=True, exist_ok=True)
            engine, seconds = _warehouse_from_world(world, workdir)
            print(f"world {world} ingested and feature tables built in {seconds:.0f} s")
        truth = pd.read_csv(world / "_truth" / "channels.csv")
        targets = [args.target] if args.target else ["revenue_pos", "revenue"]
        for target in targets:
            spec = _spec({"target": target, "search": {"budget": args.budget,
                                                       "trials": args.trials}})
            print(f"\ntarget {target}: truth ROI is the channel's POS contribution / spend "
                  "(_truth/channels.csv roi)" + ("" if target == "revenue_pos" else
                                                 "; the model also sees ERP (B2B) revenue"))
            rows = []
            for country in args.countries.split(","):
                data = load_mmm_data(engine, spec, country=country)
                if args.no_lift_tests:
                    data = replace(data, lift_tests=pd.DataFrame())
                started = time.perf_counter()
                fit = MarketingMixModel(spec, log=_quiet).fit(data).fit_
                elapsed = time.perf_counter() - started
                table = fit.channel_results()
                table["country"] = country
                rows.append(table)
                print(f"  {country}: {len(fit.design.weeks)} weeks, fitted in {elapsed:.1f} s, "
                      f"CV MAPE {fit.metrics['cv_mape']:.1%} ({fit.metrics['grade']}), "
                      f"CV R2 {fit.metrics['cv_r2']:.2f}, lift tests used "
                      f"{fit.metrics['lift_tests_used']} (MAPE "
                      f"{_pct(fit.metrics['lift_mape'])}), ROI spread across trials "
                      f"{fit.metrics['roi_trial_max_relative_spread']:.0%}")
                for note in fit.design.notes:
                    print(f"    note: {note}")
            _compare_with_truth(pd.concat(rows, ignore_index=True), truth)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        if cleanup:
            shutil.rmtree(world, ignore_errors=True)


def _pct(value) -> str:
    return "-" if value is None else f"{value:.0%}"


def _compare_with_truth(results: pd.DataFrame, truth: pd.DataFrame) -> None:
    merged = results.merge(truth[["country", "channel", "roi", "theta", "alpha"]],
                           on=["country", "channel"], suffixes=("", "_true"))
    merged["inside"] = (merged.roi_true >= merged.roi_lower) & (merged.roi_true <= merged.roi_upper)
    merged["ape"] = (merged.roi - merged.roi_true).abs() / merged.roi_true
    print(f"  {'country':<8}{'channel':<14}{'roi':>7}{'90% interval':>18}{'true':>7}"
          f"{'theta':>7}{'true':>6}")
    for row in merged.itertuples():
        print(f"  {row.country:<8}{row.channel:<14}{row.roi:7.2f}   [{row.roi_lower:5.2f}, "
              f"{row.roi_upper:5.2f}]{row.roi_true:7.2f}{row.adstock_theta:7.2f}"
              f"{row.theta:6.2f} {'in' if row.inside else 'OUT'}")
    for country, group in merged.groupby("country", sort=False):
        print(f"  {country}: coverage of the 90% intervals {group.inside.mean():.0%} "
              f"({int(group.inside.sum())}/{len(group)}), ROI MAPE {group.ape.mean():.1%}")
    print(f"  overall: coverage {merged.inside.mean():.0%} (goal >= 80%), "
          f"ROI MAPE {merged.ape.mean():.1%}")


def _world_dir(option: str, scale: str) -> tuple[Path, bool]:
    if option != "new":
        world = Path(option)
        if not (world / "_truth" / "channels.csv").is_file():
            raise SystemExit(f"{world} is not a generated world (no _truth/channels.csv): run "
                             "`liftline generate --out DIR --scale small` or pass --world new")
        return world, False
    from liftline.synth import generate

    world = Path(tempfile.mkdtemp(prefix="bench_mmm_world_"))
    generate(world, scale=scale, seed=7, progress=False)
    return world, True


def _warehouse_from_world(world: Path, workdir: Path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_features import ingest_world

    from liftline.features import build_table
    from liftline.warehouse import get_engine

    url = f"sqlite:///{workdir / 'warehouse.db'}"
    started = time.perf_counter()
    ingest_world(world, url)
    engine = get_engine(url)
    # The store-day roll-up gives the model its open_store_days control.
    for name in ("feat_calendar", "feat_sales_daily", "feat_sales_store_daily", "feat_mmm_weekly",
                 "feat_mmm_controls_weekly", "feat_crm_attribution"):
        build_table(engine, name, run_id="bench_mmm", log=_quiet)
    return engine, time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pymc", action="store_true", help="recovery on the PyMC example")
    parser.add_argument("--world", help="a generated world directory, or 'new'")
    parser.add_argument("--scale", default="small", help="scale of a --world new")
    parser.add_argument("--countries", default="ALL,DE,FR",
                        help="fits to compare with the truth (comma-separated)")
    parser.add_argument("--target", help="revenue column (default: revenue_pos and revenue)")
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--resamples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulated problem")
    parser.add_argument("--keep", help="--world: keep the warehouse in this folder and reuse it "
                                       "on the next run (delete it after regenerating the world)")
    parser.add_argument("--lift-tests", metavar="SPEC",
                        help='--pymc: lift tests from the truth, e.g. "x1:40,100;x2:60"')
    parser.add_argument("--no-lift-tests", action="store_true",
                        help="--world: fit without the world's lift tests (no calibration)")
    parser.add_argument("--override", default="{}",
                        help='JSON merged over models/mmm.yaml, e.g. '
                             '\'{"channel_types": {"tv_brand": {"theta": [0.3, 0.8]}}}\'')
    args = parser.parse_args(argv)
    SPEC_OVERRIDES.update(json.loads(args.override))
    if SPEC_OVERRIDES:
        print(f"spec overrides: {json.dumps(SPEC_OVERRIDES)}")
    np.set_printoptions(precision=3, suppress=True)
    if args.pymc:
        bench_pymc(args)
    elif args.world:
        bench_world(args)
    else:
        bench_speed(args)


if __name__ == "__main__":
    main()
