"""score_forecasts: the 56 days after the as-of date, at both grains, into ml_sales_forecast.

For each store the registry champion of its region (artifacts.py; for a past as-of, the one
trained on data up to it; else the
all-regions training; else the baseline, calibrated by a quick backtest, logged) is refitted
on everything up to the as-of date and forecasts the horizon with its planned drivers. Young
stores get the global fallback model. Intervals come from the champion's backtest residuals,
plan quantities from the newsvendor critical ratio, and stores whose next four weeks fall
more than the spec's threshold below last year get a forecast_drop alert, written in the same
transaction as the forecast.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from .artifacts import calibration_of, load_champion
from .backtest import candidate_metrics, run_backtest, split_at
from .base import Log
from .category import category_forecast, category_history_start, promo_uplift
from .conformal import ResidualQuantiles
from .dataset import Dataset, load_dataset, measured_stores
from .drops import compare_with_last_year, flag_drops, record_drop_alerts
from .frames import KEY
from .newsvendor import plan, series_costs
from .routing import history_days, predict_candidates
from .spec import GRAINS, ForecastSpec, load_spec
from .writer import write_forecasts

UNTRAINED = "untrained"


@dataclass
class Assignment:
    """The stores one training result serves, and its champions and calibrations."""

    label: str  # the region the training served ("all"), or "untrained"
    stores: list[str]
    trained_run_id: str
    champion: dict[str, str]
    calibration: dict[str, dict[str, ResidualQuantiles | None]] = field(default_factory=dict)
    version: str = UNTRAINED  # the registry version that serves these stores

    def calibration_for(self, grain: str, model: str) -> ResidualQuantiles | None:
        return self.calibration.get(grain, {}).get(model)


def score_forecasts(engine: Engine, run_id: str, as_of: date | str | None = None,
                    log: Log = print, spec: ForecastSpec | None = None) -> dict[str, Any]:
    """Forecast every store from the as-of date, in each of the spec's measures, and write
    ml_sales_forecast and alerts (in one transaction)."""
    started = time.perf_counter()
    spec = spec or load_spec()
    data = load_dataset(engine, as_of, log)
    if data is None:
        return {"status": "skipped", "reason": "no sales features", "rows": {}}
    origin = pd.Timestamp(data.as_of)
    everyone = data.store_ids()
    units_stores = (set(data.for_measure("units").measured_store_ids(everyone))
                    if "units" in spec.measures else set())
    frames: dict[tuple[str, str], pd.DataFrame] = {}
    flagged, champions = [], {}
    for measure in spec.measures:
        measured = data.for_measure(measure)
        keys = measured_stores(measured, everyone, "all regions", log)
        if not keys:
            continue
        scored = score_measure(engine, spec, measured, keys, origin, log)
        frames.update({(grain, measure): frame for grain, frame in scored["frames"].items()})
        champions[measure] = scored["champions"]
        # forecast_drop is about units; a store forecast only in revenue is compared in revenue.
        watched = keys if measure == "units" else sorted(set(keys) - units_stores)
        flagged.append(scored["drops"](watched).assign(measure=measure))
    rule = spec.drop_rule()
    drops = _concat(flagged)
    drops = drops if len(drops) else pd.DataFrame(columns=[KEY, "dropping", "measure"])
    written = write_forecasts(
        engine, run_id, frames, log=log,
        after=lambda conn: record_drop_alerts(conn, drops, rule, run_id, "sales_forecast", log))
    seconds = time.perf_counter() - started
    rows = {g: sum(written.get((g, m), 0) for m in champions) for g in GRAINS}
    log(f"sales forecast scoring done in {seconds:.1f} s: "
        + "; ".join(f"{measure}: {written.get(('store_day', measure), 0):,} store-day rows, "
                    f"{written.get(('store_category_week', measure), 0):,} store-category-week "
                    "rows" for measure in champions)
        + f"; {int(drops['dropping'].sum())} stores dropping, {written.get('alerts', 0)} new "
        "alerts")
    return {"status": "scored" if champions else "skipped", "as_of": str(data.as_of),
            "seconds": round(seconds, 1), "rows": rows,
            "rows_by_measure": {m: {g: written.get((g, m), 0) for g in GRAINS}
                                for m in champions},
            "champions": champions.get("units") or next(iter(champions.values()), {}),
            "champions_by_measure": champions,
            "dropping": sorted(drops.loc[drops["dropping"].astype(bool), KEY]),
            "alerts": written.get("alerts", 0)}


def score_measure(engine: Engine, spec: ForecastSpec, data: Dataset, keys: list[str],
                  origin: pd.Timestamp, log: Log) -> dict[str, Any]:
    """One measure's forecast rows per grain, its champions, and its drop comparison."""
    history, future = split_at(data.frame_at(origin), origin, spec.horizon_days)
    history = history.loc[history[KEY].isin(keys)]
    assignments = assign_champions(engine, spec, data, keys, log)
    needed = sorted({m for a in assignments for m in a.champion.values()} | {spec.fallback})
    log(f"sales forecast scoring in {data.measure} as of {data.as_of}: refitting "
        f"{', '.join(needed)} on {history[KEY].nunique()} stores")
    keys = sorted(history[KEY].unique())
    forecasts = predict_candidates(spec, needed, history, future, keys, log,
                                   keys_by_name=_keys_by_model(assignments))
    young = _young(spec, history)
    pricing = Pricing(data.economics(keys), float(spec.newsvendor.get("default_critical_ratio",
                                                                        0.5)))
    store_day = _store_day_rows(spec, assignments, forecasts, young, pricing)
    category = _category_rows(spec, data, assignments, forecasts, young, history, origin,
                              pricing)
    frames = {"store_day": _finish(store_day, spec, origin, data.measure),
              "store_category_week": _finish(category, spec, origin, data.measure)}
    rule = spec.drop_rule()

    def drops(watched: list[str]) -> pd.DataFrame:
        rows = store_day.loc[store_day[KEY].isin(watched)] if len(store_day) else store_day
        if rows.empty:
            return pd.DataFrame()
        return flag_drops(compare_with_last_year(rows, history, origin,
                                                 int(rule.get("weeks", 4))), rule)

    champions = {a.label: {**a.champion, "version": a.version} for a in assignments}
    return {"frames": frames, "champions": champions, "drops": drops}


def assign_champions(engine: Engine, spec: ForecastSpec, data: Dataset, keys: list[str],
                     log: Log) -> list[Assignment]:
    """Group stores `keys` by the training result that serves them (region, all, or none)."""
    stores = data.stores.loc[data.stores["store_id"].isin(keys)]
    measure = data.measure
    groups: dict[str, tuple[dict | None, list[str]]] = {}
    for region, rows in stores.groupby(stores["region"].fillna(""), sort=True):
        artifact = (load_champion(engine, region or None, data.as_of, measure)
                    or load_champion(engine, None, data.as_of, measure))
        serving = artifact["version"] if artifact else UNTRAINED
        groups.setdefault(serving, (artifact, []))[1].extend(rows["store_id"])
    out = []
    for artifact, keys in groups.values():
        if artifact is None:
            out.append(_untrained(spec, data, sorted(keys), log))
            continue
        champion = {g: artifact["grains"].get(g, {}).get("champion", spec.baseline)
                    for g in GRAINS}
        calibration = {g: {name: calibration_of(artifact, g, name)
                           for name in {champion[g], spec.fallback}} for g in GRAINS}
        label = artifact.get("region") or "all"
        out.append(Assignment(label, sorted(keys), artifact["run_id"], champion, calibration,
                              artifact["version"]))
        log(f"stores {', '.join(sorted(keys)[:5])}{' ...' if len(keys) > 5 else ''}: champion "
            f"{champion['store_day']} (store x day), {champion['store_category_week']} "
            f"(category x week) in {measure}, version {artifact['version']}")
    return out


def _untrained(spec: ForecastSpec, data: Dataset, keys: list[str], log: Log) -> Assignment:
    log(f"no sales forecast training found for {len(keys)} stores ({data.measure}): the "
        f"{spec.baseline} baseline forecasts them, with intervals from a quick backtest (run the training)")
    names = [spec.baseline, spec.fallback]
    backtest = run_backtest(spec, data, names, keys, lambda _: None)
    calibration: dict[str, dict[str, ResidualQuantiles | None]] = {}
    for grain in GRAINS:
        rows = backtest.grain(grain)
        calibration[grain] = {}
        for name in names:
            own = rows.loc[rows["candidate"] == name] if not rows.empty else rows
            calibration[grain][name] = (candidate_metrics(own, spec)["calibration"]
                                        if len(own) else None)
    return Assignment(UNTRAINED, keys, UNTRAINED, {g: spec.baseline for g in GRAINS},
                      calibration)


def _keys_by_model(assignments: list[Assignment]) -> dict[str, list[str]]:
    keys: dict[str, set[str]] = {}
    for a in assignments:
        for champion in a.champion.values():
            keys.setdefault(champion, set()).update(a.stores)
    return {name: sorted(stores) for name, stores in keys.items()}


@dataclass
class Pricing:
    economics: pd.DataFrame
    default_ratio: float


def _young(spec: ForecastSpec, history: pd.DataFrame) -> set[str]:
    ages = history_days(history)
    return set(ages.index[ages < spec.min_history_days])


def _store_day_rows(spec: ForecastSpec, assignments: list[Assignment],
                    forecasts: dict[str, pd.DataFrame], young: set[str],
                    pricing: Pricing) -> pd.DataFrame:
    parts = []
    for a in assignments:
        champion = a.champion["store_day"]
        rows = forecasts[champion].loc[forecasts[champion][KEY].isin(a.stores)].copy()
        rows["model_name"] = np.where(rows[KEY].isin(young), spec.fallback, champion)
        rows = rows.assign(store_id=rows[KEY], category=None, period_days=1,
                           closed_days=rows["closed"].astype(int),
                           is_young_series=rows[KEY].isin(young))
        rows = _intervals_and_plan(rows, a, "store_day", pricing)
        parts.append(rows.assign(trained_run_id=a.trained_run_id, version=a.version))
    return _concat(parts)


def _category_rows(spec: ForecastSpec, data: Dataset, assignments: list[Assignment],
                   forecasts: dict[str, pd.DataFrame], young: set[str],
                   history: pd.DataFrame, origin: pd.Timestamp, pricing: Pricing
                   ) -> pd.DataFrame:
    grain = spec.grain("store_category_week")
    categories = data.category_days(category_history_start(
        origin, int(grain.get("share_weeks", 8))))
    if categories.empty:
        return pd.DataFrame()
    exposure = data.category_exposure_at(origin)
    parts = []
    for a in assignments:
        champion = a.champion["store_category_week"]
        store_rows = forecasts[champion].loc[forecasts[champion][KEY].isin(a.stores)]
        uplift = promo_uplift(history.loc[history[KEY].isin(a.stores)])
        weekly = category_forecast(store_rows, categories, exposure, origin,
                                   int(grain.get("share_weeks", 8)),
                                   bool(grain.get("seasonal_share", True)), uplift)
        weekly["closed"] = weekly["closed_days"] >= weekly["period_days"]
        weekly["model_name"] = np.where(weekly["store_id"].isin(young), spec.fallback, champion)
        weekly["is_young_series"] = weekly["store_id"].isin(young)
        weekly = _intervals_and_plan(weekly, a, "store_category_week", pricing)
        parts.append(weekly.assign(trained_run_id=a.trained_run_id, version=a.version))
    return _concat(parts)


def _intervals_and_plan(rows: pd.DataFrame, a: Assignment, grain: str, pricing: Pricing
                        ) -> pd.DataFrame:
    """Conformal interval and newsvendor plan per row, by the calibration of its model."""
    costs = series_costs(pricing.economics, rows[KEY], grain)
    parts = []
    for model, group in rows.groupby("model_name", sort=False):
        calibration = a.calibration_for(grain, str(model))
        if calibration is None:
            parts.append(group.assign(yhat_lower=np.nan, yhat_upper=np.nan,
                                      plan_qty=group["yhat"], critical_ratio=np.nan,
                                      expected_underage_cost=np.nan,
                                      expected_overage_cost=np.nan))
            continue
        lower, upper = calibration.interval(group["yhat"], group["horizon"], group[KEY])
        planned = plan(group.assign(yhat_lower=lower, yhat_upper=upper), calibration, costs,
                       pricing.default_ratio)
        parts.append(planned.drop(columns=["underage", "overage"]))
    out = _concat(parts)
    closed = out["closed"].astype(bool)
    zeroed = ["yhat", "yhat_lower", "yhat_upper", "plan_qty", "expected_underage_cost",
              "expected_overage_cost"]
    out.loc[closed, zeroed] = 0.0
    return out


def _finish(rows: pd.DataFrame, spec: ForecastSpec, origin: pd.Timestamp, measure: str
            ) -> pd.DataFrame:
    if rows.empty:
        return rows
    out = rows.copy()
    out["measure"] = measure
    out["model_version"] = out["version"].astype(str)
    out["as_of_date"] = origin.date()
    out["horizon_days"] = out["horizon"].astype(int)
    out["interval_level"] = spec.level
    out["created_at"] = datetime.now(UTC).replace(tzinfo=None)
    return out[[KEY, "date", "model_name", "model_version", "yhat", "yhat_lower", "yhat_upper",
                "store_id", "category", "as_of_date", "horizon_days", "period_days",
                "closed_days", "is_young_series", "interval_level", "plan_qty",
                "critical_ratio", "expected_underage_cost", "expected_overage_cost",
                "trained_run_id", "created_at", "measure"]].sort_values([KEY, "date"]).reset_index(
        drop=True)


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
