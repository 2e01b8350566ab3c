"""Sales forecast benchmark: training + backtest time and backtest WAPE against baselines.

Not a test: prints numbers.

(a) Synthetic small world (default): generate, ingest (the real ingest), build the features,
    then time `train_forecasts` (every candidate, walk-forward backtest, both grains) and
    print each candidate's backtest WAPE beside the ORACLE's: the true expected demand the
    generator wrote (`_truth/baseline_daily.csv`, expected_units) scored against the same
    actual units over the same backtest windows. Goals: under 3 minutes on 2 cores;
    champion WAPE within 1.15x the oracle's and below the seasonal-naive baseline's.

        python benchmarks/bench_forecast.py [--seed 42] [--world DIR]

(b) `--walmart`: the Kaggle "Walmart Recruiting - Store Sales Forecasting" data (45 stores x
    81 departments, weekly, 2010-02 to 2012-10; read from ../shared/data/walmart_markdowns/,
    never copied into the repository) mapped into extracts and run through the same ingest,
    features and training. Mapping: store x department -> `pos` with sku = department; each
    week's sales (Walmart's Date is the Friday ending the week) spread evenly over its 7 days,
    units = dollars (negative weeks, i.e. returns, clipped to 0); MarkDown1-5 -> one
    store-wide `promotions` row per markdown type and week (no discount depth: Walmart gives
    amounts, not percentages); IsHoliday weeks -> `events` of kind holiday named after the
    holiday, on each day of the week; store Type -> region and format. Weekly data forecast
    at a daily grain: the 56-day horizon is 8 whole weeks, and WAPE is printed both per day
    (what the backtest measures) and per store-week (the data's real grain), over the same
    backtest origins (the last 56 days before the last week, then 28 and 56 days earlier).

        python benchmarks/bench_forecast.py --walmart [--stores 45]

`--keep DIR` keeps the work folder (warehouse, backtest rows); `--reuse DIR` times the
training again on such a folder without generating, ingesting or building features.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
WALMART = HERE.parent.parent / "shared" / "data" / "walmart_markdowns"
HOLIDAYS = {2: "Super Bowl", 9: "Labor Day", 11: "Thanksgiving", 12: "Christmas"}
ATTRIBUTION = ("Walmart data: Kaggle 'Walmart Recruiting - Store Sales Forecasting' (2014), "
               "as committed in a public GitHub repository; read from ../shared/data/.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--walmart", action="store_true", help="run on the Walmart data")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--world", type=Path, help="reuse a generated small world")
    parser.add_argument("--stores", type=int, default=45, help="Walmart: first N stores")
    parser.add_argument("--keep", type=Path, help="keep the work folder here")
    parser.add_argument("--reuse", type=Path,
                        help="a work folder kept by an earlier --keep of the same data: skip "
                             "generation, ingest and features, time the training again")
    args = parser.parse_args()
    if args.reuse is not None and not (args.reuse / "warehouse.db").is_file():
        parser.error(f"--reuse {args.reuse}: no warehouse.db there; make one with --keep DIR")
    work = args.reuse or args.keep or Path(tempfile.mkdtemp(prefix="bench_forecast_"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["LIFTLINE_HOME"] = str(work / "home")
    try:
        if args.walmart:
            run_walmart(work, args.stores, reuse=args.reuse is not None)
        else:
            run_small_world(work, args.seed, args.world, reuse=args.reuse is not None)
    finally:
        if args.keep is None and args.reuse is None:
            shutil.rmtree(work, ignore_errors=True)


# --- (a) the synthetic small world -------------------------------------------------------------


def run_small_world(work: Path, seed: int, world: Path | None, reuse: bool = False) -> None:
    from liftline.synth import generate
    from liftline.warehouse import get_engine

    if reuse:
        world = world or work / "world"
        engine = get_engine(f"sqlite:///{work / 'warehouse.db'}")
    else:
        if world is None:
            world = work / "world"
            generate(world, scale="small", seed=seed, progress=False)
        engine = prepare_warehouse(world, work / "warehouse.db")
    result = timed_training(engine)
    _keep_rows(work, result)
    truth = pd.read_csv(world / "_truth" / "baseline_daily.csv", parse_dates=["date"])
    for measure, found in result["measures"].items():
        rows = found["backtest"].store_day.merge(
            truth.rename(columns={"store_id": "series_key"})[
                ["series_key", "date", f"expected_{measure}", f"actual_{measure}"]],
            on=["series_key", "date"], how="left")
        mismatch = (rows["y"] - rows[f"actual_{measure}"]).abs().max()
        print(f"\n=== {measure} ===\nbacktest rows vs the truth's actual_{measure}: max "
              f"|difference| {mismatch:.3g}")
        print_table(rows, found, oracle=f"expected_{measure}")
        if measure == "units":
            print_media_blind_oracle(rows, truth)


def _keep_rows(work: Path, result: dict) -> None:
    """The store x day backtest rows of each measure, kept beside the warehouse (to study
    intervals offline: benchmarks/bench_intervals.py)."""
    for measure, found in result["measures"].items():
        found["backtest"].store_day.to_parquet(work / f"backtest_store_day_{measure}.parquet")


def print_media_blind_oracle(rows: pd.DataFrame, truth: pd.DataFrame) -> None:
    """The oracle without foresight of media: its media effect held at the origin's level.

    Future ad spend is in no extract, so no model can know next month's media effect; this
    oracle keeps everything else the truth knows (promotions, season, closures).
    """
    from liftline.forecast.metrics import wape

    truth = truth.rename(columns={"store_id": "series_key"}).sort_values(["series_key", "date"])
    organic = truth["organic_revenue"].where(truth["organic_revenue"] > 0)
    truth["media"] = truth["media_revenue"] / organic
    truth["media_28"] = truth.groupby("series_key")["media"].transform(
        lambda m: m.rolling(28, min_periods=7).mean())
    one = rows.loc[rows["candidate"] == rows["candidate"].iloc[0]]  # the same rows for all
    at_origin = truth[["series_key", "date", "media_28"]].rename(columns={"date": "origin"})
    blind = one.merge(truth[["series_key", "date", "media"]], on=["series_key", "date"])
    blind = blind.merge(at_origin, on=["series_key", "origin"])
    factor = (1 + blind["media_28"]) / (1 + blind["media"].fillna(blind["media_28"]))
    value = wape(blind["y"], blind["expected_units"] * factor.fillna(1.0))
    oracle = wape(blind["y"], blind["expected_units"])
    print(f"\noracle without media foresight (media effect held at its last-28-day level): "
          f"WAPE {value:.4f} = {value / oracle:.3f} x oracle")


def prepare_warehouse(world: Path, path: Path, sources: tuple[str, ...] | None = None):
    sys.path.insert(0, str(HERE))
    from bench_features import ingest_world

    from liftline.features import build_features
    from liftline.warehouse import get_engine

    url = f"sqlite:///{path}"
    if sources is not None:
        world = _subset(world, path.parent / "subset", sources)
    seconds = ingest_world(world, url)
    print(f"ingest (setup, not timed below): {seconds:.0f} s")
    engine = get_engine(url)
    started = time.perf_counter()
    build_features(engine, run_id="bench", tables=["feat_calendar", "feat_sales_daily",
                                                   "feat_sales_store_daily"],
                   log=lambda _: None)
    print(f"sales feature tables (setup): {time.perf_counter() - started:.0f} s")
    return engine


def _subset(world: Path, out: Path, sources: tuple[str, ...]) -> Path:
    for source in sources:
        if (world / source).is_dir():
            shutil.copytree(world / source, out / source, dirs_exist_ok=True)
    return out


def timed_training(engine, measures: tuple[str, ...] | None = None) -> dict:
    """train_forecasts with the shipped spec (its measures unless `measures` says)."""
    from liftline.forecast import train_forecasts
    from liftline.forecast.spec import load_spec

    spec = load_spec()
    if measures:
        spec = replace(spec, measures=measures)
    started = time.perf_counter()
    cpu, own = cpu_seconds(), time.process_time()
    result = train_forecasts(engine, "bench_train", log=lambda line: print(f"  | {line}"),
                             keep_backtest=True, spec=spec)
    wall = time.perf_counter() - started
    print(f"\ntraining + backtest (train_forecasts, {', '.join(result['measures'])}): "
          f"{wall:.1f} s wall, {cpu_seconds() - cpu:.1f} s CPU ({time.process_time() - own:.1f} "
          f"s in this process, the rest Prophet's Stan), on {os.cpu_count()} cores, load "
          f"average {os.getloadavg()[0]:.1f} (goal: under 180 s); per measure: "
          + ", ".join(f"{m} {r['seconds']:.1f} s" for m, r in result["measures"].items()))
    return result


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (Prophet's Stan runs in one)."""
    import resource

    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                         resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def print_table(rows: pd.DataFrame, result: dict, oracle: str | None = None,
                weekly: bool = False) -> None:
    from liftline.forecast.metrics import wape

    champion = result["grains"]["store_day"]["champion"]
    baseline = "seasonal_naive"
    print(f"\nbacktest WAPE, store x day, origins {', '.join(result['origins'])} "
          f"(56 days each):")
    header = f"  {'model':16s} {'WAPE':>7s}"
    header += f" {'x oracle':>9s}" if oracle else ""
    header += f" {'weekly WAPE':>12s}" if weekly else ""
    header += f" {'coverage':>9s} {'width':>6s}"
    print(header)
    scores = {}
    for name, own in rows.groupby("candidate", sort=False):
        scores[name] = wape(own["y"], own["yhat"])
    if oracle:
        first = rows.loc[rows["candidate"] == champion]
        scores["ORACLE"] = wape(first["y"], first[oracle])
    coverage = result["grains"]["store_day"]["coverage"]
    for name, value in scores.items():
        line = f"  {name + (' *' if name == champion else ''):16s} {value:7.4f}"
        if oracle:
            line += f" {value / scores['ORACLE']:9.3f}"
        if weekly:
            own = rows.loc[rows["candidate"] == name]
            line += f" {_weekly_wape(own):12.4f}"
        cov = coverage.get(name)
        line += f" {cov:9.3f}" if cov is not None else f" {'':9s}"
        width = result["grains"]["store_day"].get("interval_width", {}).get(name)
        line += f" {width:6.3f}" if width is not None else ""
        print(line)
    print("  (* champion; coverage: 90% conformal interval, calibrated on the other origins; "
          "width: mean (upper - lower) / forecast)")
    verdict = []
    if oracle:
        ratio = scores[champion] / scores["ORACLE"]
        verdict.append(f"champion / oracle = {ratio:.3f} (goal <= 1.15: "
                       f"{'met' if ratio <= 1.15 else 'NOT met'})")
    verdict.append(f"champion vs {baseline}: {scores[champion]:.4f} vs {scores[baseline]:.4f} "
                   f"({'better' if scores[champion] < scores[baseline] else 'NOT better'})")
    print("  " + "; ".join(verdict))
    category = result["grains"]["store_category_week"]
    print(f"\nstore x category x week: champion {category['champion']}, WAPE "
          + ", ".join(f"{n} {w:.4f}" for n, w in category["wape"].items()))


def _weekly_wape(rows: pd.DataFrame) -> float:
    from liftline.forecast.metrics import wape

    week = rows["date"] - pd.to_timedelta((rows["date"].dt.day_of_week - 5) % 7, unit="D")
    weekly = rows.groupby(["origin", "series_key", week])[["y", "yhat"]].sum()
    return wape(weekly["y"], weekly["yhat"])


# --- (b) Walmart ------------------------------------------------------------------------------


def run_walmart(work: Path, stores: int, reuse: bool = False) -> None:
    from liftline.warehouse import get_engine

    print(ATTRIBUTION)
    if reuse:
        engine = get_engine(f"sqlite:///{work / 'warehouse.db'}")
    else:
        extracts = work / "walmart"
        started = time.perf_counter()
        write_walmart_extracts(extracts, stores)
        print(f"mapped into extracts in {time.perf_counter() - started:.0f} s: {extracts}")
        engine = prepare_warehouse(extracts, work / "warehouse.db")
    # Walmart gives dollars only, mapped to units and revenue alike: one measure is enough.
    result = timed_training(engine, measures=("units",))
    _keep_rows(work, result)
    print_table(result["backtest"].store_day, result, weekly=True)


def write_walmart_extracts(out: Path, stores: int) -> None:
    sales = pd.read_csv(WALMART / "train.csv.gz", parse_dates=["Date"])
    sales = sales.loc[sales["Store"] <= stores]
    features = pd.read_csv(WALMART / "features.csv.gz", parse_dates=["Date"])
    features = features.loc[(features["Store"] <= stores)
                            & (features["Date"] <= sales["Date"].max())]
    info = pd.read_csv(WALMART / "stores.csv")
    info = info.loc[info["Store"] <= stores]
    _write(out / "stores" / "stores.csv", pd.DataFrame({
        "store_id": info["Store"].map(_store), "region": "type_" + info["Type"],
        "country": "US", "format": info["Type"]}))
    departments = np.sort(sales["Dept"].unique())
    _write(out / "products" / "products.csv", pd.DataFrame({
        "sku": [_sku(d) for d in departments],
        "category": [f"dept_{d // 10 * 10:02d}s" for d in departments]}))
    _write_pos(out / "pos", sales)
    _write(out / "promotions" / "promotions.csv", _markdowns(features))
    _write(out / "events" / "events.csv", _holidays(features))


def _write_pos(folder: Path, sales: pd.DataFrame) -> None:
    weekly = sales.assign(units=sales["Weekly_Sales"].clip(lower=0) / 7.0)
    weekly = weekly.loc[weekly["units"] > 0]
    clipped = int((sales["Weekly_Sales"] < 0).sum())
    print(f"pos: {len(weekly):,} store x department weeks spread over 7 days each "
          f"({clipped} negative weeks clipped to 0)")
    for year, part in weekly.groupby(weekly["Date"].dt.year):
        days = part.loc[part.index.repeat(7)].copy()
        days["date"] = days["Date"] - pd.to_timedelta(np.tile(np.arange(6, -1, -1), len(part)),
                                                      unit="D")
        _write(folder / f"pos_{year}.csv.gz", pd.DataFrame({
            "date": days["date"].dt.strftime("%Y-%m-%d"), "store_id": days["Store"].map(_store),
            "sku": days["Dept"].map(_sku), "units": days["units"].round(2),
            "revenue": days["units"].round(2)}))


def _markdowns(features: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for k in range(1, 6):
        column = f"MarkDown{k}"
        found = features.loc[features[column].fillna(0) > 0]
        rows.append(pd.DataFrame({
            "promo_id": [f"MD{k}-{s}-{d:%Y%m%d}" for s, d in zip(found["Store"], found["Date"],
                                                                 strict=True)],
            "start_date": (found["Date"] - pd.Timedelta(days=6)).dt.strftime("%Y-%m-%d"),
            "end_date": found["Date"].dt.strftime("%Y-%m-%d"),
            "discount_pct": "", "store_id": found["Store"].map(_store),
            "promo_type": f"markdown{k}", "cost": found[column].round(2),
            "status": "completed"}))
    return pd.concat(rows, ignore_index=True)


def _holidays(features: pd.DataFrame) -> pd.DataFrame:
    weeks = features.loc[features["IsHoliday"], "Date"].drop_duplicates()
    days = pd.DataFrame({"week": weeks.repeat(7).to_numpy()})
    days["date"] = days["week"] - pd.to_timedelta(np.tile(np.arange(6, -1, -1), len(weeks)),
                                                  unit="D")
    return pd.DataFrame({"date": days["date"].dt.strftime("%Y-%m-%d"),
                         "name": days["week"].dt.month.map(HOLIDAYS).fillna("Holiday"),
                         "kind": "holiday", "country": "US"})


def _store(number: int) -> str:
    return f"W{int(number):02d}"


def _sku(department: int) -> str:
    return f"DEPT-{int(department):02d}"


def _write(path: Path, frame: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


if __name__ == "__main__":
    main()
