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

Peer cache: PyMC-Marketing's column does not depend on Liftline's code, and each of its fits
takes minutes of sampling. Every peer fit is stored in `--peer-cache FILE` (default
~/.cache/liftline/bench_mmm_peers.json, outside the repository), keyed by the sampler settings,
the peer model's configuration, the pymc-marketing release and a hash of the exact frame, target
and lift tests it is given. A later run with the same inputs reuses the cached ROI, interval and
wall time (and says so, with the date and load average of the measurement) and fits only
Liftline; `--cached-peer-only` never samples (a fit missing from the cache is left out), and
`--refit-peer` samples again and replaces the cached fit.

    python benchmarks/peers/bench_mmm_peers.py --draws 500 --tune 500 --chains 2
    python benchmarks/peers/bench_mmm_peers.py --world /tmp/world --world /tmp/confounded \\
        --no-pymc-example --countries ALL --lift both
    # later, Liftline's column again beside the cached peer fits (seconds, not minutes):
    python benchmarks/peers/bench_mmm_peers.py --world /tmp/world --world /tmp/confounded \\
        --draws 500 --tune 500 --chains 2 --cached-peer-only
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
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
    parser.add_argument("--peer-cache", type=Path, default=DEFAULT_PEER_CACHE,
                        help="JSON file of PyMC-Marketing fits to reuse and add to "
                             f"(default: {DEFAULT_PEER_CACHE})")
    parser.add_argument("--no-peer-cache", action="store_true",
                        help="neither read nor write the peer cache")
    parser.add_argument("--cached-peer-only", action="store_true",
                        help="never sample PyMC-Marketing: use cached fits, leave out the rest")
    parser.add_argument("--refit-peer", action="store_true",
                        help="sample PyMC-Marketing even when a cached fit exists, and replace it")
    args = parser.parse_args()
    if args.cached_peer_only and (args.no_peer_cache or args.refit_peer):
        parser.error("--cached-peer-only needs the cache: drop --no-peer-cache / --refit-peer")
    cache = None if args.no_peer_cache else PeerCache(args.peer_cache)
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
              f"{args.tune} tuning steps; peer cache: "
              f"{'off' if cache is None else cache.path}; load average "
              f"{_load_average()}")
        for problem in problems:
            rows += compare(problem, args, cache)
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
        # Window-only lift tests: PyMC-Marketing's lift-test measurements have no post-period
        # (measured_until), so both models read the same tests the same way.
        generate(world, scale="small", seed=42, progress=False, lift_post_weeks=0)
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


def compare(problem: Problem, args: argparse.Namespace, cache: PeerCache | None) -> list[dict]:
    print(f"\n=== {problem.data}, {problem.lift} lift tests")
    ours, weeks, seconds = fit_liftline(problem)
    true_roi = problem.truth(weeks)
    rows = [score(problem, "liftline", ours, true_roi, seconds)]
    peer = pymc_inputs(problem, weeks)
    key = peer_cache_key(peer, args)
    cached = None if cache is None or args.refit_peer else cache.get(key)
    if cached is not None:
        print(f"  pymc-marketing: CACHED fit measured {cached['measured']} (load average "
              f"{cached['load_average']}), {cached['weeks']} weeks, {cached['lift_tests']} lift "
              f"tests, {cached['divergences']} divergences, {cached['seconds']:.0f} s")
        theirs, seconds = pd.DataFrame(cached["roi"]), cached["seconds"]
    elif args.cached_peer_only:
        print("  pymc-marketing: no cached fit for these inputs and settings in "
              f"{cache.path}; left out (--cached-peer-only). Run without it to sample.")
        return rows
    else:
        started = time.perf_counter()
        theirs, stats = fit_pymc_marketing(peer, args)
        seconds = time.perf_counter() - started
        if cache is not None:
            cache.put(key, problem, theirs, seconds, stats)
            print(f"  pymc-marketing: fit stored in {cache.path}")
    rows.append(score(problem, "pymc-marketing", theirs, true_roi, seconds,
                      measured=cached["measured"][:10] if cached else ""))
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


@dataclass
class PeerInputs:
    """Exactly what PyMC-Marketing is given for one fit (the cache key hashes all of it)."""
    X: pd.DataFrame
    y: pd.Series
    channels: list[str]
    controls: list[str]
    lift_tests: pd.DataFrame


def pymc_inputs(problem: Problem, weeks: pd.DatetimeIndex) -> PeerInputs:
    X, y = pymc_frame(problem.inputs, weeks, problem.trend)
    channels = list(problem.inputs.spend.columns)
    controls = [c for c in X.columns if c not in ("date", *channels)]
    return PeerInputs(X, y, channels, controls, pymc_lift_tests(problem.inputs.lift_tests,
                                                                channels))


# The peer model as fit_pymc_marketing builds it; part of the cache key, so change it with it.
PEER_MODEL = ("multidimensional.MMM GeometricAdstock(l_max=8) LogisticSaturation() "
              "default priors yearly_seasonality=2 channel ROI = contribution / spend, "
              "mean and 5%..95%")


def fit_pymc_marketing(peer: PeerInputs, args: argparse.Namespace) -> tuple[pd.DataFrame, dict]:
    """(channel, roi, roi_lower, roi_upper) and the fit's facts worth keeping in the cache."""
    from pymc_marketing.mmm import GeometricAdstock, LogisticSaturation
    from pymc_marketing.mmm.multidimensional import MMM

    X, y, channels = peer.X, peer.y, peer.channels
    model = MMM(date_column="date", channel_columns=channels, target_column="y",
                control_columns=peer.controls or None, adstock=GeometricAdstock(l_max=8),
                saturation=LogisticSaturation(), yearly_seasonality=2)
    model.build_model(X, y)
    model.add_original_scale_contribution_variable(var=["channel_contribution"])
    if len(peer.lift_tests):
        model.add_lift_test_measurements(peer.lift_tests)
    started = time.perf_counter()
    model.fit(X, y, draws=args.draws, tune=args.tune, chains=args.chains,
              cores=min(args.chains, 2), random_seed=args.seed, progressbar=False)
    sampling = time.perf_counter() - started
    posterior = model.idata.posterior
    divergences = int(model.idata.sample_stats["diverging"].sum())
    print(f"  pymc-marketing: {len(X)} weeks, sampled in {sampling:.0f} s, "
          f"{len(peer.lift_tests)} lift tests, {divergences} divergences")
    contribution = posterior["channel_contribution_original_scale"].sum("date")
    spend = X[channels].sum()
    rows = []
    for channel in channels:
        roi = contribution.sel(channel=channel).values.ravel() / spend[channel]
        rows.append({"channel": channel, "roi": float(roi.mean()),
                     "roi_lower": float(np.quantile(roi, 0.05)),
                     "roi_upper": float(np.quantile(roi, 0.95))})
    stats = {"weeks": len(X), "lift_tests": len(peer.lift_tests), "divergences": divergences,
             "sampling_seconds": round(sampling, 1)}
    return pd.DataFrame(rows), stats


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


# --- the peer cache ---------------------------------------------------------------------------


DEFAULT_PEER_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") \
    / "liftline" / "bench_mmm_peers.json"


def peer_cache_key(peer: PeerInputs, args: argparse.Namespace) -> str:
    """A hash of everything a peer fit's result depends on: its exact inputs (frame, target,
    lift tests; floats written in full), the sampler settings, the model and the release."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    for frame in (peer.X, peer.y.to_frame(), peer.lift_tests):
        digest.update(frame.to_csv(index=False, float_format="%.17g").encode())
    settings = {"draws": args.draws, "tune": args.tune, "chains": args.chains,
                "seed": args.seed, "model": PEER_MODEL,
                "pymc_marketing": version("pymc-marketing"), "inputs": digest.hexdigest()}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:24]


class PeerCache:
    """PyMC-Marketing fits by cache key in one JSON file, rewritten whole after each fit (so an
    interrupted run keeps the fits it finished)."""

    def __init__(self, path: Path):
        self.path = path

    def _read(self) -> dict:
        if not self.path.is_file():
            return {}
        try:
            return json.loads(self.path.read_text())
        except json.JSONDecodeError as error:
            raise SystemExit(f"peer cache {self.path} is not valid JSON ({error}): move it "
                             "away or pass another --peer-cache") from None

    def get(self, key: str) -> dict | None:
        return self._read().get(key)

    def put(self, key: str, problem: Problem, roi: pd.DataFrame, seconds: float,
            stats: dict) -> None:
        entries = self._read()
        entries[key] = {"data": problem.data, "lift": problem.lift,
                        "measured": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                        "load_average": _load_average(), "seconds": round(seconds, 1),
                        **stats, "roi": roi.to_dict(orient="records")}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".json.partial")
        partial.write_text(json.dumps(entries, indent=1))
        partial.replace(self.path)


def _load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


# --- scores and the table ---------------------------------------------------------------------


def score(problem: Problem, model: str, table: pd.DataFrame, true_roi: pd.Series,
          seconds: float, measured: str = "") -> dict:
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
            "coverage": float(inside.mean()), "channels": len(merged), "seconds": seconds,
            "measured": measured}


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
            cached = f"  cached, measured {row.measured}" if row.measured else ""
            print(f"  {row.data:<22}{row.lift:<11}{row.model:<16}{row.mape:9.1%}"
                  f"{row.worst:8.1%}{row.coverage:7.0%}{row.seconds:9.1f}{ratio}{cached}")
    print("  (ROI MAPE: mean |ROI - true| / true over channels; worst: the largest; cover: "
          "share of channels whose true ROI is inside the 90% interval; a cached peer row is "
          "an earlier fit on identical inputs and settings, its wall time as measured then)")


if __name__ == "__main__":
    main()
