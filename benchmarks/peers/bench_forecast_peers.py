"""Liftline's sales forecast beside Nixtla's: one table of WAPE, interval coverage and wall time.

Not a test: prints numbers. Runs in the benchmark environment (`make bench-peers` builds
.venv-peers with the project's requirements plus benchmarks/peers/requirements*.txt); the
peers are never runtime dependencies of Liftline.

Each data set goes through Liftline exactly as benchmarks/bench_forecast.py does it (the real
ingest, feature tables, `train_forecasts` with its walk-forward backtest), then every peer is
fitted on the same store x day series at the same backtest origins (3 origins 28 days apart,
56 days ahead each, from what was known at the origin) and scored on the same rows:

- statsforecast `AutoETS(season_length=7)` and `SeasonalNaive(season_length=7)`, with their
  own 90% prediction intervals;
- mlforecast `LGBMRegressor` (default parameters) with lags 7/14/28/364, rolling means of the
  last 7 and 28 days, calendar features (weekday, month, day of year), the known promotion,
  holiday, event and closure flags of the day, a log1p target, and conformal 90% intervals
  (`PredictionIntervals(n_windows=2, h=56)`).

Liftline's row is its store x day champion; its 90% interval is the conformal interval the
backtest calibrates, each origin's taken from the other origins (what `train_forecasts` reports
as coverage). Coverage counts open days (Liftline's closed days are 0 for sure). Width is the
mean interval width over the mean forecast. Wall time: Liftline's is the whole
`train_forecasts` in units (every candidate incl. Prophet, both grains, three origins); a
peer's is its fit + predict at the three origins. `Liftline / peer` is the ratio of WAPEs (< 1: Liftline
more accurate) and of wall times (< 1: Liftline faster).

    python benchmarks/peers/bench_forecast_peers.py                  # synthetic world + Walmart
    python benchmarks/peers/bench_forecast_peers.py --data world --world DIR
    python benchmarks/peers/bench_forecast_peers.py --data walmart --stores 45
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import bench_forecast  # noqa: E402  (the Liftline side: warehouse, training, Walmart mapping)

HORIZON = 56
LEVEL = 90
EXOGENOUS = ["promo_share", "promo_depth", "is_holiday", "event_count", "is_closed"]
EVENT = "event"  # the day's holiday or event name, a categorical feature for LightGBM


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="world,walmart",
                        help="comma-separated: world, walmart (default both)")
    parser.add_argument("--world", type=Path, help="a generated world (default: a new small one)")
    parser.add_argument("--seed", type=int, default=42, help="seed of a new world")
    parser.add_argument("--stores", type=int, default=45, help="Walmart: first N stores")
    parser.add_argument("--keep", type=Path, help="keep the work folder here")
    parser.add_argument("--warehouse", type=Path,
                        help="one data set only: its warehouse.db as built by an earlier run "
                             "(bench_forecast.py --keep DIR makes DIR/warehouse.db)")
    args = parser.parse_args()
    if args.warehouse is not None and ("," in args.data or not args.warehouse.is_file()):
        parser.error("--warehouse needs one --data set and an existing warehouse.db file")
    warnings.filterwarnings("ignore")
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_forecast_peers_"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["LIFTLINE_HOME"] = str(work / "home")
    rows = []
    try:
        for name in args.data.split(","):
            if args.warehouse is not None:
                extracts, label = None, f"{name.strip()} (warehouse {args.warehouse})"
            else:
                extracts, label = _extracts(name.strip(), work, args)
            rows += compare(label, extracts, work / name, args.warehouse)
            print_table(pd.DataFrame(rows))  # so far, in case a later data set is stopped
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def _extracts(name: str, work: Path, args: argparse.Namespace) -> tuple[Path, str]:
    if name == "walmart":
        print(bench_forecast.ATTRIBUTION)
        out = work / "walmart_extracts"
        bench_forecast.write_walmart_extracts(out, args.stores)
        return out, f"walmart ({args.stores} stores)"
    if name == "world":
        if args.world:
            return args.world, f"world {args.world.name}"
        from liftline.synth import generate

        out = work / "world_extracts"
        generate(out, scale="small", seed=args.seed, progress=False)
        return out, f"world small seed {args.seed}"
    raise SystemExit(f"unknown data set {name!r}: use world or walmart")


# --- one data set -----------------------------------------------------------------------------


def compare(label: str, extracts: Path | None, work: Path, warehouse: Path | None = None
            ) -> list[dict]:
    """Liftline's backtest, then each peer at the same origins; one result row per model."""
    from liftline.forecast import load_dataset, load_spec
    from liftline.warehouse import get_engine

    work.mkdir(parents=True, exist_ok=True)
    print(f"\n=== {label}")
    if warehouse is not None:
        engine = get_engine(f"sqlite:///{warehouse}")
    else:
        engine = bench_forecast.prepare_warehouse(extracts, work / "warehouse.db")
    started, cpu = time.perf_counter(), cpu_seconds()
    # Units only: the peers forecast the one measure compared (the shipped spec adds revenue).
    result = bench_forecast.timed_training(engine, measures=("units",))
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    spec = load_spec()
    champion = result["grains"]["store_day"]["champion"]
    backtest = result["backtest"].store_day
    ours = backtest.loc[backtest["candidate"] == champion].copy()
    ours["yhat_lower"], ours["yhat_upper"] = held_out_intervals(ours, spec)
    ours["open"] = ours["yhat"] > 0
    rows = [score(label, f"liftline ({champion})", ours, seconds, cpu)]
    data = load_dataset(engine, None, lambda _: None)
    keys = data.store_ids()
    frames = [origin_frames(data, origin, keys) for origin in result["backtest"].origins]
    opened = ours[["origin", "series_key", "date", "open"]]
    for name, forecaster in PEERS.items():
        started, cpu = time.perf_counter(), cpu_seconds()
        parts = [forecaster(history, future).assign(origin=origin)
                 for origin, history, future in frames]
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        peer = pd.concat(parts, ignore_index=True).merge(
            ours[["origin", "series_key", "date", "y"]], on=["origin", "series_key", "date"])
        peer = peer.merge(opened, on=["origin", "series_key", "date"])
        rows.append(score(label, name, peer, seconds, cpu))
        print(f"  {name}: {seconds:.1f} s, WAPE {rows[-1]['wape']:.4f}")
    return rows


def held_out_intervals(rows: pd.DataFrame, spec) -> tuple[np.ndarray, np.ndarray]:
    """Each origin's 90% interval calibrated on the other origins' open days by the training's
    own rule (`backtest.calibrate`: horizon buckets, series scales, the origin shock), as
    `train_forecasts` measures coverage, so the width reported is the one whose coverage is."""
    from liftline.forecast.backtest import calibrate

    lower = np.full(len(rows), np.nan)
    upper = np.full(len(rows), np.nan)
    opened = (rows["yhat"] > 0).to_numpy()
    for origin in rows["origin"].unique():
        held = (rows["origin"] == origin).to_numpy()
        calibration = calibrate(rows.loc[~held & opened], spec)
        lower[held], upper[held] = calibration.interval(rows.loc[held, "yhat"],
                                                        rows.loc[held, "horizon"],
                                                        rows.loc[held, "series_key"])
    return lower, upper


def origin_frames(data, origin: pd.Timestamp, keys: list[str]):
    """(origin, history, future) in Nixtla's long format: unique_id, ds, y and the drivers."""
    from liftline.forecast.backtest import split_at

    frame = data.frame_at(origin)
    frame = frame.loc[frame["series_key"].isin(keys)]
    history, future = split_at(frame, origin, HORIZON)
    names = sorted(frame["holiday_name"].fillna("").astype(str).unique())
    return (origin, _nixtla(history, with_target=True, event_names=names),
            _nixtla(future, with_target=False, event_names=names))


def _nixtla(frame: pd.DataFrame, with_target: bool, event_names: list[str]) -> pd.DataFrame:
    out = pd.DataFrame({"unique_id": frame["series_key"].astype(str).to_numpy(),
                        "ds": pd.to_datetime(frame["date"]).to_numpy()})
    for column in EXOGENOUS:
        values = frame[column] if column in frame.columns else 0.0
        out[column] = pd.to_numeric(pd.Series(values, index=frame.index), errors="coerce") \
            .fillna(0.0).astype(float).to_numpy()
    out[EVENT] = pd.Categorical(frame["holiday_name"].fillna("").astype(str).to_numpy(),
                                categories=event_names)
    if with_target:
        out["y"] = pd.to_numeric(frame["units"], errors="coerce").fillna(0.0).to_numpy()
    return out


# --- the peers --------------------------------------------------------------------------------


def statsforecast_peer(name: str):
    def forecaster(history: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame:
        from statsforecast import StatsForecast
        from statsforecast.models import AutoETS, SeasonalNaive

        model = {"AutoETS": AutoETS, "SeasonalNaive": SeasonalNaive}[name](season_length=7)
        forecast = StatsForecast(models=[model], freq="D", n_jobs=1).forecast(
            df=history[["unique_id", "ds", "y"]], h=HORIZON, level=[LEVEL])
        return _peer_rows(forecast, name)

    return forecaster


def mlforecast_lightgbm(history: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame:
    from lightgbm import LGBMRegressor
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean
    from mlforecast.target_transforms import GlobalSklearnTransformer
    from mlforecast.utils import PredictionIntervals
    from sklearn.preprocessing import FunctionTransformer

    log1p = FunctionTransformer(func=np.log1p, inverse_func=np.expm1)
    model = MLForecast(
        models={"lightgbm": LGBMRegressor(verbosity=-1, n_jobs=1)}, freq="D",
        lags=[7, 14, 28, 364],
        lag_transforms={1: [RollingMean(window_size=7), RollingMean(window_size=28)]},
        date_features=["dayofweek", "month", "dayofyear"],
        target_transforms=[GlobalSklearnTransformer(log1p)], num_threads=1)
    model.fit(history, static_features=[], dropna=False,
              prediction_intervals=PredictionIntervals(n_windows=2, h=HORIZON))
    forecast = model.predict(HORIZON, X_df=future, level=[LEVEL])
    return _peer_rows(forecast, "lightgbm")


def _peer_rows(forecast: pd.DataFrame, name: str) -> pd.DataFrame:
    forecast = forecast.reset_index() if "unique_id" not in forecast.columns else forecast
    return pd.DataFrame({
        "series_key": forecast["unique_id"].astype(str),
        "date": pd.to_datetime(forecast["ds"]),
        "yhat": forecast[name].clip(lower=0).to_numpy(),
        "yhat_lower": forecast[f"{name}-lo-{LEVEL}"].clip(lower=0).to_numpy(),
        "yhat_upper": forecast[f"{name}-hi-{LEVEL}"].clip(lower=0).to_numpy()})


PEERS = {
    "statsforecast AutoETS": statsforecast_peer("AutoETS"),
    "statsforecast SeasonalNaive": statsforecast_peer("SeasonalNaive"),
    "mlforecast LightGBM": mlforecast_lightgbm,
}


# --- scores and the table ---------------------------------------------------------------------


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (Prophet's Stan runs in one): on a
    shared machine a fairer clock than wall time."""
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                         resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def score(label: str, model: str, rows: pd.DataFrame, seconds: float, cpu: float) -> dict:
    from liftline.forecast import coverage, wape

    opened = rows.loc[rows["open"]]
    return {"data": label, "model": model, "wape": wape(rows["y"], rows["yhat"]),
            "weekly_wape": bench_forecast._weekly_wape(rows),
            "coverage": coverage(opened["y"], opened["yhat_lower"], opened["yhat_upper"]),
            "width": float((opened["yhat_upper"] - opened["yhat_lower"]).mean()
                           / opened["yhat"].mean()),
            "seconds": seconds, "cpu": cpu, "rows": len(rows)}


def print_table(table: pd.DataFrame) -> None:
    print(f"\nstore x day, {HORIZON}-day horizon, 3 walk-forward origins 28 days apart; "
          f"{LEVEL}% intervals")
    print(f"  {'data':<24}{'model':<32}{'WAPE':>8}{'weekly':>8}{'cover':>7}{'width':>7}"
          f"{'wall s':>8}{'cpu s':>8}{'Liftline/peer WAPE':>20}{'wall':>7}{'cpu':>7}")
    for _, group in table.groupby("data", sort=False):
        ours = group.iloc[0]
        for row in group.itertuples():
            ratio = "" if row.Index == ours.name else \
                f"{ours.wape / row.wape:20.3f}{ours.seconds / row.seconds:7.2f}" \
                f"{ours.cpu / row.cpu:7.2f}"
            print(f"  {row.data:<24}{row.model:<32}{row.wape:8.4f}{row.weekly_wape:8.4f}"
                  f"{row.coverage:7.3f}{row.width:7.2f}{row.seconds:8.1f}{row.cpu:8.1f}{ratio}")
    print("  (weekly: WAPE of store-week sums; cover: share of open days inside the interval; "
          "width: mean interval width / mean forecast; Liftline's time is all of "
          "train_forecasts)")


if __name__ == "__main__":
    main()
