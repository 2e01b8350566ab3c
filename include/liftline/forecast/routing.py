"""Fit the candidates once per origin and route each series to the model that can serve it.

A series needs `min_history_any_days` of trading history to get any forecast. Younger than the
spec's `min_history_days` it is forecast by the global `fallback` model (LightGBM learns from
every series, so a store open for 30 days still gets a forecast), whatever the candidate; the
log says so. Per-series candidates fit only the series being forecast; the global model learns
from every series in the history. A candidate that fails is replaced by the baseline, logged.
"""

from __future__ import annotations

import time

import pandas as pd

from .base import Forecaster, Log
from .candidates import BASE_CLASSES, combine, make_forecaster
from .frames import KEY, TARGET
from .spec import ForecastSpec

OUTPUT = [KEY, "date", "horizon", "closed", "yhat"]


def history_days(history: pd.DataFrame) -> pd.Series:
    """Days from each series' first sale to its last history day."""
    sold = history.loc[history[TARGET].fillna(0) > 0]
    first = sold.groupby(KEY)["date"].min()
    last = history.groupby(KEY)["date"].max()
    return (last - first.reindex(last.index)).dt.days.fillna(-1).astype(int) + 1


def members_of(spec: ForecastSpec, name: str) -> list[str]:
    params = spec.params(name)
    if name == "ensemble" or "members" in params:
        return list(params.get("members", ["prophet", "lightgbm"]))
    return [name]


def predict_candidates(spec: ForecastSpec, names: list[str], history: pd.DataFrame,
                       future: pd.DataFrame, keys: list[str], log: Log = print,
                       quiet: bool = False, keys_by_name: dict[str, list[str]] | None = None
                       ) -> dict[str, pd.DataFrame]:
    """{candidate: forecast frame} for the `future` rows of series `keys`.

    `keys_by_name` narrows the series each candidate must forecast (scoring: only the stores
    it is champion for), so a per-series model is not fitted where it is not needed.
    """
    say = (lambda _: None) if quiet else log
    ages = history_days(history)
    keys = [k for k in keys if k in ages.index]
    too_young = [k for k in keys if ages[k] < spec.min_history_any_days]
    for key in too_young:
        say(f"{key}: {max(ages[key], 0)} days of sales history (< {spec.min_history_any_days}): "
            "no forecast")
    keys = [k for k in keys if k not in too_young]
    young = [k for k in keys if ages[k] < spec.min_history_days]
    for key in young:
        say(f"{key}: only {ages[key]} days of history (< {spec.min_history_days}): forecast "
            f"by the global {spec.fallback} model, whatever the champion")
    mature = [k for k in keys if k not in young]
    usable = history.loc[history[KEY].isin(ages.index[ages >= spec.min_history_any_days])]
    future = future.loc[future[KEY].isin(keys)]
    needed = {m for name in names for m in members_of(spec, name)}
    if young:
        needed.add(spec.fallback)
    wanted = _wanted_by_model(spec, names, keys, young, keys_by_name)
    base = {}
    for name in sorted(needed, key=lambda n: list(BASE_CLASSES).index(n)):
        serve = wanted[name]
        base[name] = _fit_predict(spec, name, usable, future.loc[future[KEY].isin(serve)],
                                  [k for k in mature if k in serve], serve, say)
    if any(frame is None for frame in base.values()):
        fallback = base.get(spec.baseline)
        if fallback is None:
            fallback = _fit_predict(spec, spec.baseline, usable, future, keys, keys, say)
        base = {n: (f if f is not None else fallback) for n, f in base.items()}
    if young:
        base = {n: (f if n == spec.fallback else _route_young(f, base[spec.fallback], young))
                for n, f in base.items()}
    out = {}
    for name in names:
        members = [base[m] for m in members_of(spec, name)]
        frame = members[0].copy()
        if len(members) > 1:
            weights = spec.params(name).get("weights")
            frame["yhat"] = combine([_aligned(m, frame)["yhat"].to_numpy() for m in members],
                                    weights)
        if keys_by_name is not None:
            frame = frame.loc[frame[KEY].isin(keys_by_name.get(name, []))]
        out[name] = frame.reset_index(drop=True)
    return out


def _wanted_by_model(spec: ForecastSpec, names: list[str], keys: list[str], young: list[str],
                     keys_by_name: dict[str, list[str]] | None) -> dict[str, list[str]]:
    """The series each base model must forecast."""
    models = set(BASE_CLASSES)
    if keys_by_name is None:
        return {m: keys for m in models}
    wanted: dict[str, set[str]] = {m: set() for m in models}
    for name in names:
        for member in members_of(spec, name):
            wanted[member] |= set(keys_by_name.get(name, [])) & set(keys)
    wanted[spec.fallback] |= set(young)
    return {m: sorted(v) for m, v in wanted.items()}


def _aligned(member: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """`member`'s rows in the order of `like` (same series and dates)."""
    return like[[KEY, "date"]].merge(member, on=[KEY, "date"], how="left")


def _fit_predict(spec: ForecastSpec, name: str, history: pd.DataFrame, future: pd.DataFrame,
                 mature: list[str], keys: list[str], log: Log) -> pd.DataFrame | None:
    started = time.perf_counter()
    model: Forecaster = make_forecaster(name, spec.params(name), horizon_days=spec.horizon_days)
    serve = keys if model.is_global else mature
    fit_on = history if model.is_global else history.loc[history[KEY].isin(serve)]
    wanted = future.loc[future[KEY].isin(serve)]
    if wanted.empty:
        return empty_forecast()
    try:
        model.fit(fit_on)
        frame = model.predict(wanted)[OUTPUT]
    except Exception as exc:  # a failed candidate must not fail the run
        log(f"{name} failed ({type(exc).__name__}: {str(exc)[:200]}); its series get the "
            f"{spec.baseline} forecast in this run")
        return None
    for note in model.notes_:
        log(f"{name}: {note}")
    log(f"{name}: fitted on {fit_on[KEY].nunique()} series, forecast {wanted[KEY].nunique()} "
        f"({time.perf_counter() - started:.1f} s)")
    return frame


def empty_forecast() -> pd.DataFrame:
    return pd.DataFrame({KEY: pd.Series(dtype=object), "date": pd.Series(dtype="datetime64[ns]"),
                         "horizon": pd.Series(dtype="int64"), "closed": pd.Series(dtype=bool),
                         "yhat": pd.Series(dtype="float64")})


def _route_young(frame: pd.DataFrame, fallback: pd.DataFrame, young: list[str]) -> pd.DataFrame:
    kept = frame.loc[~frame[KEY].isin(young)]
    routed = fallback.loc[fallback[KEY].isin(young)]
    out = pd.concat([kept, routed], ignore_index=True)
    return out.sort_values([KEY, "date"], kind="mergesort").reset_index(drop=True)

