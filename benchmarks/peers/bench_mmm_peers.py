"""Liftline's mix model beside PyMC-Marketing's: one table of ROI error, coverage and wall time.

Not a test: prints numbers. Runs in the benchmark environment (`make bench-peers` builds
.venv-peers with the project's requirements plus benchmarks/peers/requirements*.txt); the peer
is never a runtime dependency of Liftline.

Both models get the same weeks, spend, revenue, controls and (when used) lift tests:

- `pymc_example`: ../shared/data/pymc_mmm_example/ (PyMC-Marketing's own example, ground
  truth regenerated from its notebook's recipe). It has no lift tests; "with" adds four
  simulated geo experiments (two per channel, 4 weeks off, 12% standard error) computed from
  the example's true adstock and saturation (`pymc_example_lift_tests`).
- each `--world DIR`: a `liftline generate` world (e.g. the standard small world, or
  `liftline generate --scenario confounded`), read through the real ingest and feature tables
  as benchmarks/bench_mmm.py does, for each `--countries` fit, with and without the world's
  lift tests (`--lift`). Truth: each channel's POS contribution / spend over the fit's weeks
  (liftline.evaluate's truth ROI), so the target is `revenue_pos` unless `--target` says
  otherwise.

PyMC-Marketing is `pymc_marketing.mmm.multidimensional.MMM` with its documented defaults:
`GeometricAdstock(l_max=8)`, `LogisticSaturation()`, default priors, `yearly_seasonality=2`,
controls standardised (plus a linear trend on the PyMC example, as its notebook does). Lift
tests go in through `add_lift_test_measurements`, one row per test on a weekly basis:
x = 0, delta_x = the test's spend per week, delta_y = its incremental revenue per week,
sigma = its standard error per week (a test switches the channel off for its window; the
saturation-curve difference is the same either way). ROI per posterior draw = the channel's
contribution in revenue over its spend; point = posterior mean, 90% interval = 5%..95%.
Sampling: `--chains` x `--draws` after `--tune` (PyMC's default is 4 x 1000 after 1000).

Columns: ROI MAPE over channels (absolute error / true ROI), 90% coverage of the true ROIs,
wall time of the fit (Liftline: `MarketingMixModel.fit` incl. its search, CV and bootstrap;
PyMC-Marketing: build + sampling), Liftline / peer ratios (< 1: Liftline better / faster).

    python benchmarks/peers/bench_mmm_peers.py --draws 500 --tune 500 --chains 2
    python benchmarks/peers/bench_mmm_peers.py --world /tmp/world --world /tmp/confounded \\
        --no-pymc-example --countries ALL --lift both
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import bench_mmm  # noqa: E402  (the Liftline side: PyMC example mapping, world warehouse)


@dataclass
class Problem:
    """One fit for both models: Liftline's inputs and each channel's true ROI."""
    data: str  # data set label
    lift: str  # "with" | "without" lift tests
    inputs: object  # liftline.mmm.MMMData
    truth: object  # a function of the modelled weeks -> true ROI per channel (Series)
    overrides: dict  # Liftline spec changes (as benchmarks/bench_mmm.py makes them)
    trend: bool = False  # PyMC-Marketing gets a linear-trend control (its example does)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", action="append", default=[], type=Path,
                        help="a generated world directory (repeatable); 'new' generates the "
                             "standard small world (seed 42)")
    parser.add_argument("--no-pymc-example", action="store_true",
                        help="skip ../shared/data/pymc_mmm_example")
    parser.add_argument("--countries", default="ALL", help="world fits (comma-separated)")
    parser.add_argument("--lift", default="both", choices=["both", "with", "without"],
                        help="fits with lift tests (the world's; simulated on the PyMC "
                             "example), without, or both")
    parser.add_argument("--target", default="revenue_pos", help="world: revenue column")
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1, help="sampler seed")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("pymc").setLevel(logging.ERROR)
    logging.getLogger("pytensor").setLevel(logging.ERROR)
    work = Path(tempfile.mkdtemp(prefix="bench_mmm_peers_"))
    os.environ.setdefault("LIFTLINE_HOME", str(work / "home"))
    rows = []
    try:
        problems = [] if args.no_pymc_example else pymc_example_problems(args.lift)
        for world in args.world:
            problems += world_problems(world, work, args)
        print(f"PyMC-Marketing sampling: {args.chains} chains x {args.draws} draws after "
              f"{args.tune} tuning steps")
        for problem in problems:
            rows += compare(problem, args)
            print_table(pd.DataFrame(rows), args)  # so far, in case a later fit is stopped
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- the problems -----------------------------------------------------------------------------


def pymc_example_problems(lift: str) -> list[Problem]:
    frame, truth, weekly, data = bench_mmm.load_pymc_example()
    print(f"pymc_example: {bench_mmm.PYMC_ATTRIBUTION}")
    true_roi = bench_mmm.pymc_example_true_roi(frame, weekly)
    overrides = {"data": {"max_weeks": len(frame)}}
    problems = []
    if lift in ("both", "without"):
        problems.append(Problem("pymc_example", "without", data, lambda weeks: true_roi,
                                overrides, trend=True))
    if lift in ("both", "with"):
        tests = pymc_example_lift_tests(frame, truth)
        problems.append(Problem("pymc_example", f"with {len(tests)}",
                                replace(data, lift_tests=tests), lambda weeks: true_roi,
                                overrides, trend=True))
    return problems


def pymc_example_lift_tests(frame: pd.DataFrame, truth: dict, per_channel: int = 2,
                            seed: int = 20) -> pd.DataFrame:
    """Simulated geo experiments on the PyMC example, as the synthetic world makes them: the
    channel switched off for 4 weeks while it is live, the revenue its true response loses in
    those weeks (the example's own adstock and saturation), with a 12% standard error and
    noise of that size."""
    rng = np.random.default_rng(seed)
    rows = []
    for channel in ("x1", "x2"):
        spend = frame[channel].to_numpy()
        live = [w for w in range(8, len(spend) - 4) if (spend[w:w + 4] > 0).sum() >= 2]
        for w0 in sorted(rng.choice(live, size=per_channel, replace=False)):
            off = spend.copy()
            off[w0:w0 + 4] = 0.0
            lost = (_example_response(spend, channel, truth)
                    - _example_response(off, channel, truth))[w0:w0 + 4].sum()
            se = 0.12 * lost
            rows.append({"channel": channel, "start_date": frame["date_week"].iloc[w0],
                         "end_date": frame["date_week"].iloc[w0 + 3] + pd.Timedelta(days=6),
                         "incremental_revenue": float(lost + rng.normal(0, se)),
                         "spend": float(spend[w0:w0 + 4].sum()), "std_error": float(se)})
    return pd.DataFrame(rows)


def _example_response(spend: np.ndarray, channel: str, truth: dict) -> np.ndarray:
    """The PyMC example's true weekly contribution of a channel (its ground-truth recipe)."""
    alpha = truth["adstock"][f"alpha_{channel}"]
    weights = alpha ** np.arange(8)
    adstock = np.convolve(spend, weights / weights.sum())[:len(spend)]
    lam = truth["saturation"][f"lam_{channel}"]
    saturated = (1 - np.exp(-lam * adstock)) / (1 + np.exp(-lam * adstock))
    return truth["amplitude"] * truth["beta"][channel] * saturated


def world_problems(world: Path, work: Path, args: argparse.Namespace) -> list[Problem]:
    from liftline.evaluate.mmm import truth_roi
    from liftline.mmm.inputs import load_mmm_data

    if str(world) == "new":
        from liftline.synth import generate

        world = work / "world"
        generate(world, scale="small", seed=42, progress=False)
    world, _ = bench_mmm._world_dir(str(world), "small")
    engine, seconds = bench_mmm._warehouse_from_world(world, Path(tempfile.mkdtemp(dir=work)))
    print(f"world {world}: ingested and feature tables built in {seconds:.0f} s")
    channels = pd.read_csv(world / "_truth" / "channels.csv")
    weekly = pd.read_csv(world / "_truth" / "media_weekly.csv")
    spec = bench_mmm._spec({"target": args.target})
    problems = []
    for country in args.countries.split(","):
        data = load_mmm_data(engine, spec, country=country)

        def truth(weeks: pd.DatetimeIndex, country: str = country) -> pd.Series:
            window = pd.DataFrame({"data_start": [weeks.min()], "data_end": [weeks.max()]})
            roi, _ = truth_roi(channels, weekly, window)
            return roi.loc[roi["country"] == country].set_index("channel")["true_roi"]

        label = f"{world.name} {country}"
        if args.lift in ("both", "without"):
            problems.append(Problem(label, "without", replace(data, lift_tests=pd.DataFrame()),
                                    truth, {"target": args.target}))
        if args.lift in ("both", "with") and len(data.lift_tests):
            problems.append(Problem(label, f"with {len(data.lift_tests)}", data, truth,
                                    {"target": args.target}))
    return problems


# --- the two models ---------------------------------------------------------------------------


def compare(problem: Problem, args: argparse.Namespace) -> list[dict]:
    print(f"\n=== {problem.data}, {problem.lift} lift tests")
    ours, weeks, seconds = fit_liftline(problem)
    true_roi = problem.truth(weeks)
    rows = [score(problem, "liftline", ours, true_roi, seconds)]
    started = time.perf_counter()
    theirs = fit_pymc_marketing(problem, weeks, args)
    rows.append(score(problem, "pymc-marketing", theirs, true_roi,
                      time.perf_counter() - started))
    return rows


def fit_liftline(problem: Problem) -> tuple[pd.DataFrame, pd.DatetimeIndex, float]:
    """(channel, roi, roi_lower, roi_upper), the modelled weeks, and the fit's seconds."""
    from liftline.mmm import MarketingMixModel

    spec = bench_mmm._spec(problem.overrides)
    started = time.perf_counter()
    fit = MarketingMixModel(spec, log=lambda _: None).fit(problem.inputs).fit_
    seconds = time.perf_counter() - started
    table = fit.channel_results()[["channel", "roi", "roi_lower", "roi_upper"]]
    print(f"  liftline: {len(fit.design.weeks)} weeks, {seconds:.1f} s, lift tests used "
          f"{fit.metrics.get('lift_tests_used')}")
    return table, pd.DatetimeIndex(fit.design.weeks), seconds


def fit_pymc_marketing(problem: Problem, weeks: pd.DatetimeIndex,
                       args: argparse.Namespace) -> pd.DataFrame:
    from pymc_marketing.mmm import GeometricAdstock, LogisticSaturation
    from pymc_marketing.mmm.multidimensional import MMM

    X, y = pymc_frame(problem.inputs, weeks, problem.trend)
    channels = list(problem.inputs.spend.columns)
    controls = [c for c in X.columns if c not in ("date", *channels)]
    model = MMM(date_column="date", channel_columns=channels, target_column="y",
                control_columns=controls or None, adstock=GeometricAdstock(l_max=8),
                saturation=LogisticSaturation(), yearly_seasonality=2)
    model.build_model(X, y)
    model.add_original_scale_contribution_variable(var=["channel_contribution"])
    tests = pymc_lift_tests(problem.inputs.lift_tests, channels)
    if len(tests):
        model.add_lift_test_measurements(tests)
    started = time.perf_counter()
    model.fit(X, y, draws=args.draws, tune=args.tune, chains=args.chains,
              cores=min(args.chains, 2), random_seed=args.seed, progressbar=False)
    posterior = model.idata.posterior
    divergences = int(model.idata.sample_stats["diverging"].sum())
    print(f"  pymc-marketing: {len(X)} weeks, sampled in {time.perf_counter() - started:.0f} s, "
          f"{len(tests)} lift tests, {divergences} divergences")
    contribution = posterior["channel_contribution_original_scale"].sum("date")
    spend = X[channels].sum()
    rows = []
    for channel in channels:
        roi = contribution.sel(channel=channel).values.ravel() / spend[channel]
        rows.append({"channel": channel, "roi": float(roi.mean()),
                     "roi_lower": float(np.quantile(roi, 0.05)),
                     "roi_upper": float(np.quantile(roi, 0.95))})
    return pd.DataFrame(rows)


def pymc_frame(inputs, weeks: pd.DatetimeIndex, trend: bool) -> tuple[pd.DataFrame, pd.Series]:
    """The same weeks, spend and controls as Liftline's fit; controls standardised."""
    spend = inputs.spend.reindex(weeks).fillna(0.0)
    X = spend.copy()
    if len(inputs.controls.columns):
        controls = inputs.controls.reindex(weeks).astype(float)
        controls = controls.fillna(controls.mean()).fillna(0.0)
        spread = controls.std().replace(0, np.nan)
        controls = ((controls - controls.mean()) / spread).dropna(axis=1, how="all")
        X = X.join(controls)
    if trend:
        X["trend"] = np.arange(len(weeks)) / len(weeks)
    X = X.rename_axis("date").reset_index()
    y = inputs.revenue.reindex(weeks).astype(float).fillna(0.0)
    return X, pd.Series(y.to_numpy(), index=X.index, name="y")


def pymc_lift_tests(tests: pd.DataFrame, channels: list[str]) -> pd.DataFrame:
    """Liftline's lift tests (channel off for a window) as PyMC-Marketing's weekly
    saturation-curve differences: x = 0, delta_x / delta_y / sigma per week of the window."""
    if tests is None or tests.empty:
        return pd.DataFrame()
    tests = tests.loc[tests["channel"].isin(channels)]
    weeks = ((pd.to_datetime(tests["end_date"]) - pd.to_datetime(tests["start_date"])).dt.days
             + 1) / 7.0
    return pd.DataFrame({"channel": tests["channel"].to_numpy(), "x": 0.0,
                         "delta_x": (tests["spend"] / weeks).to_numpy(),
                         "delta_y": (tests["incremental_revenue"] / weeks).abs().to_numpy(),
                         "sigma": (tests["std_error"] / weeks).to_numpy()})


# --- scores and the table ---------------------------------------------------------------------


def score(problem: Problem, model: str, table: pd.DataFrame, true_roi: pd.Series,
          seconds: float) -> dict:
    merged = table.set_index("channel").join(true_roi.rename("true_roi"), how="inner")
    merged = merged.loc[merged["true_roi"].notna() & (merged["true_roi"] != 0)]
    inside = (merged["roi_lower"] <= merged["true_roi"]) & (merged["true_roi"] <= merged["roi_upper"])
    error = (merged["roi"] - merged["true_roi"]) / merged["true_roi"].abs()
    for channel, row in merged.iterrows():
        print(f"    {model:<15}{channel:<14} roi {row.roi:8.3f} [{row.roi_lower:8.3f}, "
              f"{row.roi_upper:8.3f}]  true {row.true_roi:8.3f}  {error[channel]:+7.1%} "
              f"{'in' if inside[channel] else 'OUT'}")
    return {"data": problem.data, "lift": problem.lift, "model": model,
            "mape": float(error.abs().mean()), "worst": float(error.abs().max()),
            "coverage": float(inside.mean()), "channels": len(merged), "seconds": seconds}


def print_table(table: pd.DataFrame, args: argparse.Namespace) -> None:
    print(f"\nROI against the truth; PyMC-Marketing at {args.chains} chains x {args.draws} "
          f"draws (tune {args.tune})")
    print(f"  {'data':<22}{'lift tests':<11}{'model':<16}{'ROI MAPE':>9}{'worst':>8}"
          f"{'cover':>7}{'wall s':>9}{'Liftline/peer MAPE':>20}{'time':>8}")
    for _, group in table.groupby(["data", "lift"], sort=False):
        ours = group.loc[group["model"] == "liftline"].iloc[0]
        for row in group.itertuples():
            ratio = "" if row.model == "liftline" else \
                f"{ours.mape / row.mape:20.2f}{ours.seconds / row.seconds:8.3f}"
            print(f"  {row.data:<22}{row.lift:<11}{row.model:<16}{row.mape:9.1%}"
                  f"{row.worst:8.1%}{row.coverage:7.0%}{row.seconds:9.1f}{ratio}")
    print("  (ROI MAPE: mean |ROI - true| / true over channels; worst: the largest; cover: "
          "share of channels whose true ROI is inside the 90% interval)")


if __name__ == "__main__":
    main()
