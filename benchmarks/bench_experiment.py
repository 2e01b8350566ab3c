"""The next-experiment recommender against the synthetic world: does the recommended test
narrow its channel's ROI interval as predicted, and more than the same test on another channel?
Not a test: prints numbers.

    python benchmarks/bench_experiment.py --world new                  # generates a small world
    python benchmarks/bench_experiment.py --world DIR --keep WH_DIR     # reuse an ingested one
    ... --draws 3 --no-lift-tests --target revenue_pos --countries ALL
    ... --override '{"search": {"objective": {"lift": 0}}}'   # mix-model spec changes

For each fit: fit the mix model from the world's warehouse (as bench_mmm does), compute the
recommendations (liftline.plan.experiment), then per draw: simulate the recommended test in the
world (the true in-window incremental revenue of the channel dark for its weeks in the treated
units, from the world's true response, plus noise at the predicted standard error), add it to
the fit's lift tests, refit and compare the channel's actual interval narrowing with the
predicted one; the same for the same design on a randomly chosen other channel. Each test runs in
the window the recommender simulated it in (the channel's most recent window with spend in
every week), so the draws differ by the test's noise only. The noise floor is the
median |1 - width after / width before| of the channels no test touched in the refits.

Goals: the recommended channel's actual narrowing within +-25% of the predicted (median over
draws), and larger than the random channel's.
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
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_mmm import SPEC_OVERRIDES, _quiet, _spec, _warehouse_from_world, _world_dir  # noqa: E402


def true_dark_incremental(truth: pd.DataFrame, media: pd.DataFrame, country: str, channel: str,
                          start: pd.Timestamp, weeks: int) -> float:
    """The world's true POS revenue the channel brings in `country` over the window."""
    from liftline.synth.media import dark_weeks_incremental

    p = truth[(truth.country == country) & (truth.channel == channel)].iloc[0]
    series = media[(media.country == country) & (media.channel == channel)].sort_values(
        "week_start")
    w0 = int(np.flatnonzero(pd.to_datetime(series.week_start).to_numpy() == start)[0])
    return dark_weeks_incremental(p, series.spend.to_numpy(float), w0, weeks)


def simulate_test(row: pd.Series, design, panel, model, truth: pd.DataFrame,  # noqa: ANN001
                  media: pd.DataFrame, rng: np.random.Generator, settings) -> dict:
    """One lift_tests row: the design run in the window the recommender simulated it in (the
    channel's most recent window with spend in every week), with noise at its se."""
    from liftline.plan.experiment import dark_windows

    c = model.channels.index(row.channel)
    weeks = int(row.weeks)
    spend = model.spend[:, c]
    s = dark_windows(model, c, weeks, settings)[-1]
    start = model.weeks[s]
    revenue = panel.revenue.sum(axis=0)
    true_treated = 0.0
    for country in sorted(set(panel.country)):
        units = panel.country[panel.country == country].index
        treated = [u for u in design.treatment if u in units]
        if not treated:
            continue
        share_in_country = revenue[treated].sum() / revenue[units].sum()
        true_treated += share_in_country * true_dark_incremental(
            truth, media, country, row.channel, start, weeks)
    measured = (true_treated + rng.standard_normal() * design.treated_se(weeks)) \
        / design.treated_share
    return {"channel": row.channel, "start_date": start,
            "end_date": start + pd.Timedelta(days=7 * weeks - 1),
            "incremental_revenue": measured, "spend": float(spend[s: s + weeks].sum()),
            "std_error": design.area_se(weeks), "measured_until": pd.NaT,  # a go-dark window only
            "true_incremental_revenue": true_treated / design.treated_share}


def relative_width(fit, channel: str) -> float:  # noqa: ANN001
    """The interval's width over its ROI: what a test that moves the ROI leaves of it."""
    from liftline.plan.experiment import interval_width

    i = fit.channels.index(channel)
    return interval_width(fit, channel) / fit.roi[i] if fit.roi[i] > 0 else float("nan")


def bench_fit(engine, country: str, args, truth, media) -> list[dict]:  # noqa: ANN001
    from liftline.mmm import MarketingMixModel
    from liftline.mmm.inputs import load_mmm_data
    from liftline.plan.experiment import (
        ExperimentSettings,
        MixModel,
        check_by_refit,
        designs,
        evaluate_designs,
        interval_width,
        store_panel,
    )

    overrides = {"search": {"budget": args.budget, "trials": args.trials}}
    if args.target:
        overrides["target"] = args.target
    spec = _spec(overrides)
    data = load_mmm_data(engine, spec, country=country)
    if args.no_lift_tests:
        data = replace(data, lift_tests=data.lift_tests.iloc[0:0])
    def refit(tests: pd.DataFrame):  # noqa: ANN202 - an MMMFit
        return MarketingMixModel(spec, log=_quiet).fit(replace(data, lift_tests=tests)).fit_

    started = time.perf_counter()
    fit = refit(data.lift_tests)
    print(f"\n{country}: fitted in {time.perf_counter() - started:.0f} s, "
          f"{len(data.lift_tests)} lift tests, CV MAPE {fit.metrics['cv_mape']:.1%}")
    settings = ExperimentSettings(refit_channels=args.refit_channels)
    model = MixModel.from_fit(fit, "bench")
    panel = store_panel(engine, country, model.weeks[-1], settings)
    found = designs(panel, settings)
    started = time.perf_counter()
    table = check_by_refit(evaluate_designs(model, panel, settings), model, found,
                           data.lift_tests, refit, settings, log=lambda line: print(f"  {line}"),
                           base=fit)
    print(f"  screen checked by refitting in {time.perf_counter() - started:.0f} s")
    _print_table(table)
    best = table.iloc[0]
    design = found[int(best.design) - 1]
    print(f"  recommended: {best.channel}, {best.weeks} weeks dark in {best.treatment} "
          f"(control {best.control}, {best.treated_share:.0%} of revenue); predicted "
          f"narrowing {best.expected_interval_narrowing:.1%} ({best.narrowing_method}; "
          f"screen {best.screen_interval_narrowing:.1%}), power {best.power:.0%}, "
          f"se {best.test_se:,.0f}")
    results = []
    rng = np.random.default_rng(args.seed)
    same_size = table[(table.weeks == best.weeks) & (table.design == best.design)]
    others = sorted(set(same_size.channel) - {best.channel})  # channels that ran such weeks
    for draw in range(args.draws):
        other = str(rng.choice(others))
        same = same_size[same_size.channel == other].iloc[0]
        outcome = {"draw": draw, "country": country}
        untouched = []
        for label, row in (("recommended", best), ("random", same)):
            test = simulate_test(row, design, panel, model, truth, media, rng, settings)
            refit_data = replace(data, lift_tests=pd.concat(
                [data.lift_tests, pd.DataFrame([test])[data.lift_tests.columns.tolist()
                                                       or list(test)]], ignore_index=True))
            refit = MarketingMixModel(spec, log=_quiet).fit(refit_data).fit_
            actual = 1.0 - interval_width(refit, row.channel) / interval_width(fit, row.channel)
            relative = 1.0 - relative_width(refit, row.channel) / relative_width(fit, row.channel)
            untouched += [abs(1.0 - interval_width(refit, c) / interval_width(fit, c))
                          for c in model.channels
                          if c not in (best.channel, other)]
            outcome |= {f"{label}_channel": row.channel,
                        f"{label}_predicted": row.expected_interval_narrowing,
                        f"{label}_actual": actual, f"{label}_relative": relative,
                        f"{label}_z": (test["incremental_revenue"]
                                       - test["true_incremental_revenue"]) / test["std_error"]}
            i = refit.channels.index(row.channel)
            print(f"  draw {draw} {label:<11} {row.channel:<13} window {test['start_date'].date()}"
                  f" measured {test['incremental_revenue']:9,.0f} (true "
                  f"{test['true_incremental_revenue']:9,.0f}, se {test['std_error']:8,.0f}); "
                  f"ROI [{row.roi_lower_now:.2f}, {row.roi_upper_now:.2f}] -> "
                  f"[{refit.roi_lower[i]:.2f}, {refit.roi_upper[i]:.2f}]: narrowing predicted "
                  f"{row.expected_interval_narrowing:6.1%}, actual {actual:6.1%} (relative to "
                  f"the ROI {relative:6.1%})")
        outcome["noise_floor"] = float(np.median(untouched))
        results.append(outcome)
    return results


def _print_table(table: pd.DataFrame) -> None:
    best = (table.sort_values("rank").groupby("channel", sort=False).head(1)
            .sort_values("rank"))
    print(f"  {'channel':<14}{'rank':>5}{'weeks':>6}{'share':>7}{'narrow':>8}{'screen':>8}"
          f"{'power':>7}{'mde':>10}{'cost':>9}{'ok':>4}  ROI now")
    for r in best.itertuples():
        print(f"  {r.channel:<14}{r.rank:5d}{r.weeks:6d}{r.treated_share:7.0%}"
              f"{r.expected_interval_narrowing:8.1%}{r.screen_interval_narrowing:8.1%}"
              f"{r.power:7.0%}{r.mde:10,.0f}"
              f"{r.test_cost:9,.0f}{'yes' if r.cost_acceptable else 'no':>4}  {r.roi_now:.2f} "
              f"[{r.roi_lower_now:.2f}, {r.roi_upper_now:.2f}]")


def summarise(results: list[dict]) -> None:
    frame = pd.DataFrame(results)
    print("\nmedians over draws:")
    for label in ("recommended", "random"):
        predicted = frame[f"{label}_predicted"].median()
        actual = frame[f"{label}_actual"].median()
        relative = frame[f"{label}_relative"].median()
        ratio = actual / predicted if predicted > 0 else float("nan")
        print(f"  {label:<11} predicted {predicted:6.1%}, actual {actual:6.1%} "
              f"(actual / predicted {ratio:.2f}; goal 0.75-1.25 for recommended); relative "
              f"to the ROI {relative:6.1%}")
    wins = (frame["recommended_actual"] > frame["random_actual"]).mean()
    print(f"  recommended narrowed more than random in {wins:.0%} of draws")
    print(f"  noise floor (untested channels' |width change|): {frame['noise_floor'].median():.1%}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", default="new", help="a generated world directory, or 'new'")
    parser.add_argument("--scale", default="small")
    parser.add_argument("--keep", help="keep/reuse the ingested warehouse in this folder")
    parser.add_argument("--countries", default="ALL")
    parser.add_argument("--target", default="revenue_pos",
                        help="revenue column (the world's lift tests and truth are POS)")
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--refit-channels", type=int, default=3,
                        help="channels whose best design is checked by refitting (0: screen only)")
    parser.add_argument("--no-lift-tests", action="store_true",
                        help="fit without the world's own lift tests (wider intervals)")
    parser.add_argument("--override", default="{}",
                        help='JSON merged over models/mmm.yaml, e.g. '
                             '\'{"search": {"objective": {"lift": 0}}}\'')
    args = parser.parse_args(argv)
    SPEC_OVERRIDES.update(json.loads(args.override))
    world, cleanup = _world_dir(args.world, args.scale)
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_exp_"))
    try:
        from liftline.warehouse import get_engine

        if (workdir / "warehouse.db").is_file():
            engine = get_engine(f"sqlite:///{workdir / 'warehouse.db'}")
        else:
            workdir.mkdir(parents=True, exist_ok=True)
            engine, seconds = _warehouse_from_world(world, workdir)
            print(f"world {world} ingested and features built in {seconds:.0f} s")
        truth = pd.read_csv(world / "_truth" / "channels.csv")
        media = pd.read_csv(world / "_truth" / "media_weekly.csv", parse_dates=["week_start"])
        results = []
        for country in args.countries.split(","):
            results += bench_fit(engine, country, args, truth, media)
        summarise(results)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        if cleanup:
            shutil.rmtree(world, ignore_errors=True)


if __name__ == "__main__":
    main()
