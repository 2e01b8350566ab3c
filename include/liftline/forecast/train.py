"""train_forecasts: backtest every candidate for one region's stores and pick the champions.

Called by the training DAG (a mapped task per region) and by `liftline run`. It reads the
feature tables, walks the backtest origins, scores every candidate at both grains, calibrates
conformal intervals on the backtest residuals, picks the champion per grain (lowest WAPE,
and only if it beats the seasonal-naive baseline), prices forecast errors with the newsvendor
costs, and registers all of it as a version in the model registry (artifacts.py), which
becomes champion only if it earns it. The forecasts themselves are written by scoring.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from liftline.warehouse import read_frame, table

from .artifacts import input_profile, region_slug, save_training
from .backtest import Backtest, candidate_metrics, run_backtest
from .base import Log
from .conformal import ResidualQuantiles
from .dataset import Dataset, load_dataset, measured_stores
from .frames import KEY
from .inputs import has_table
from .newsvendor import backtest_costs, series_costs
from .spec import GRAINS, ForecastSpec, load_spec


def train_forecasts(engine: Engine, run_id: str, region: str | None = None, log: Log = print,
                    spec: ForecastSpec | None = None, as_of: date | str | None = None,
                    keep_backtest: bool = False) -> dict[str, Any]:
    """Backtest, pick champions and save them for `region` (None: every store), per measure.

    Returns a summary (status, champions, WAPE and coverage per candidate and grain, costs,
    the artifact's path) of the units forecast (of revenue when no store has units), with
    every measure's own summary under `measures`; `keep_backtest=True` adds the Backtest rows
    (benchmarks).
    """
    started = time.perf_counter()
    spec = spec or load_spec()
    where = f"region {region}" if region else "all regions"
    data = load_dataset(engine, as_of, log)
    if data is None:
        return {"status": "skipped", "region": region, "reason": "no sales features"}
    keys = data.store_ids(region)
    if not keys:
        log(f"sales forecast training for {where} skipped: no store in {where}")
        return {"status": "skipped", "region": region, "reason": f"no store in {where}"}
    found = {}
    for measure in spec.measures:
        measured = data.for_measure(measure)
        served = measured_stores(measured, keys, where, log)
        if served:
            found[measure] = train_measure(engine, run_id, region, spec, measured, served, log,
                                           keep_backtest)
    if not found:
        return {"status": "skipped", "region": region,
                "reason": f"no store in {where} has {' or '.join(spec.measures)}"}
    seconds = time.perf_counter() - started
    log(f"sales forecast training for {where} done in {seconds:.1f} s ("
        + ", ".join(f"{m}: version {s['version']} ({s['registry_status']})"
                    for m, s in found.items()) + ")")
    summary = dict(found.get("units") or next(iter(found.values())))
    summary["seconds"] = round(seconds, 1)
    summary["measures"] = found
    # A new champion in any measure means scoring has something new to serve.
    summary["champion_changed"] = any(m["champion_changed"] for m in found.values())
    return summary


def train_measure(engine: Engine, run_id: str, region: str | None, spec: ForecastSpec,
                  data: Dataset, keys: list[str], log: Log, keep_backtest: bool
                  ) -> dict[str, Any]:
    """Backtest, champions and registry version of one measure's forecast."""
    started = time.perf_counter()
    names = list(spec.candidates)
    log(f"sales forecast training in {data.measure} for "
        f"{f'region {region}' if region else 'all regions'}: {len(keys)} stores, as of "
        f"{data.as_of}, candidates {', '.join(names)}")
    backtest = run_backtest(spec, data, names, keys, log)
    if not backtest.origins:
        log("sales forecast: too little history for a backtest; the champion is the "
            f"{spec.baseline} baseline, without calibrated intervals")
    grains = {grain: evaluate_grain(spec, data, backtest, grain, keys, log) for grain in GRAINS}
    artifact = _artifact(spec, data, backtest, grains, run_id, region, keys)
    version = save_training(engine, artifact, spec, log,
                            input_profile(data.store_days, keys, data.measure))
    seconds = time.perf_counter() - started
    log(f"sales forecast training in {data.measure} done in {seconds:.1f} s: version "
        f"{version.version} ({version.status})")
    summary = _summary(artifact, version, seconds)
    if keep_backtest:
        summary["backtest"] = backtest
    return summary


def training_regions(engine: Engine) -> list[str]:
    """The regions to train separately (a DAG maps one task over them).

    "" stands for "every store" (region=None): it is the only entry when no store has a
    region (or nothing is built yet: that task then logs why it skips), and it is added when
    some stores lack one, so they are served too.
    """
    feat = "feat_sales_store_daily"
    if not has_table(engine, feat):
        return [""]
    stores = read_frame(engine, select(table(feat).c.store_id, table(feat).c.region).distinct())
    regions = sorted({str(r) for r in stores["region"].dropna() if str(r)})
    if stores.empty or not regions:
        return [""]
    return regions + ([""] if stores["region"].isna().any() else [])


def evaluate_grain(spec: ForecastSpec, data: Dataset, backtest: Backtest, grain: str,
                   keys: list[str], log: Log) -> dict[str, Any]:
    """Metrics and calibration of every candidate at `grain`, and its champion."""
    rows = backtest.grain(grain)
    if rows.empty:
        return {"champion": spec.baseline, "candidates": {}, "costs": {}}
    candidates = {}
    for name, own in rows.groupby("candidate", sort=False):
        found = candidate_metrics(own, spec)
        candidates[name] = {"metrics": found["metrics"],
                            "calibration": found["calibration"].to_dict()}
    champion = choose_champion(candidates, spec, grain, log)
    champion_rows = rows.loc[rows["candidate"] == champion]
    calibration = ResidualQuantiles.from_dict(candidates[champion]["calibration"])
    costs = series_costs(data.economics(keys), champion_rows[KEY], grain)
    default_ratio = float(spec.newsvendor.get("default_critical_ratio", 0.5))
    priced = backtest_costs(champion_rows, calibration, costs, default_ratio)
    _log_costs(grain, priced, log)
    return {"champion": champion, "candidates": candidates, "costs": priced}


def choose_champion(candidates: dict[str, dict], spec: ForecastSpec, grain: str,
                    log: Log) -> str:
    """Lowest backtest WAPE; it must beat the baseline, else the baseline is champion."""
    metric = str(spec.champion.get("metric", "wape"))
    baseline = spec.baseline
    scored = {name: c["metrics"][metric] for name, c in candidates.items()
              if pd.notna(c["metrics"].get(metric))}
    for name, c in candidates.items():
        m = c["metrics"]
        log(f"  {grain:20s} {name:15s} WAPE {m['wape']:.4f}  MAPE {m['mape']:.4f}  RMSE "
            f"{m['rmse']:.1f}  bias {m['bias']:+.4f}  coverage {m['coverage']:.3f} "
            f"(nominal {spec.level:.2f})")
        tolerance = float(spec.intervals.get("coverage_tolerance", 0.05))
        if pd.notna(m["coverage"]) and abs(m["coverage"] - spec.level) > tolerance:
            log(f"  {grain} {name}: backtest coverage {m['coverage']:.3f} is outside "
                f"{spec.level:.2f} +- {tolerance:.2f}")
    if not scored:
        return baseline
    best = min(scored, key=scored.get)
    if best != baseline and baseline in scored and not scored[best] < scored[baseline]:
        best = baseline
    if best != baseline and baseline not in scored:
        log(f"  {grain}: no {baseline} backtest to compare with; keeping {best}")
    verdict = ("beats" if best != baseline else "is") + f" the {baseline} baseline"
    log(f"  {grain}: champion {best} (WAPE {scored[best]:.4f}) {verdict}"
        + (f" ({scored[baseline]:.4f})" if baseline in scored and best != baseline else ""))
    return best


def _log_costs(grain: str, priced: dict, log: Log) -> None:
    if not priced.get("known"):
        log(f"  {grain}: {priced.get('note', 'no unit economics')}")
        return
    point, planned = priced["point_forecast"], priced["plan_qty"]
    log(f"  {grain}: forecast-error cost per day, stocking the forecast "
        f"{point['total_per_day']:,.0f} (under {point['underage_per_day']:,.0f}, over "
        f"{point['overage_per_day']:,.0f}); stocking the plan quantity "
        f"{planned['total_per_day']:,.0f}")


def _artifact(spec: ForecastSpec, data: Dataset, backtest: Backtest, grains: dict,
              run_id: str, region: str | None, keys: list[str]) -> dict[str, Any]:
    return {
        "model": "sales_forecast",
        "measure": data.measure,
        "spec_version": spec.version,
        "run_id": run_id,
        "region": region,
        "region_slug": region_slug(region),
        "trained_at": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
        "as_of": str(data.as_of),
        "data_start": str(data.first_date().date()),
        "origins": [str(o.date()) for o in backtest.origins],
        "stores": keys,
        "params": {name: spec.params(name) for name in spec.candidates},
        "interval_level": spec.level,
        "notes": data.notes,
        "grains": grains,
    }


def _summary(artifact: dict, version, seconds: float) -> dict[str, Any]:  # noqa: ANN001
    grains = {}
    for grain, found in artifact["grains"].items():
        grains[grain] = {
            "champion": found["champion"],
            "wape": {n: c["metrics"]["wape"] for n, c in found["candidates"].items()},
            "coverage": {n: c["metrics"]["coverage"] for n, c in found["candidates"].items()},
            "interval_width": {n: c["metrics"].get("interval_width")
                               for n, c in found["candidates"].items()},
            "costs": found.get("costs", {}),
        }
    return {"status": "trained", "region": artifact["region"], "run_id": artifact["run_id"],
            "measure": artifact["measure"],
            "stores": len(artifact["stores"]), "origins": artifact["origins"],
            "seconds": round(seconds, 1), "artifact": version.artifact_uri,
            "version": version.version, "registry_status": version.status,
            "champion_changed": version.status == "champion"
            and version.run_id == artifact["run_id"],
            "promotion": version.metrics.get("promotion", {}).get("reason"), "grains": grains}
