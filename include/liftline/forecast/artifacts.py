"""The forecast's training result in the model registry: one model per region.

Model `sales_forecast/<region>` (or `sales_forecast/all`) for the units forecast and
`sales_forecast/<region>/revenue` for the revenue forecast: each measure has its own backtest,
champion and calibration, so each is promoted on its own merit. The artifact is the training result
as JSON (`training.json`): which candidate is champion per grain, every candidate's backtest
metrics and conformal calibration. JSON rather than a pickled model: the champion is refitted
at scoring time on the data up to the scoring as-of (seconds), so the result only has to say
*which* candidate, with which parameters, and how wrong it was: small, diffable, readable by
the report.

Promotion is decided on the store x day grain's backtest WAPE. The champion's configuration is
backtested in every training run (it is one of the candidates), so a challenger is compared
with it on the same origins; the same configuration retrained is a refresh of the champion.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from liftline import registry
from liftline.modeling import profile_inputs, spec_hash

from .conformal import ResidualQuantiles
from .spec import ForecastSpec

ALL_REGIONS = "all"
MODEL_NAME = "sales_forecast"
ARTIFACT_FILE = "training.json"
DECIDING_GRAIN = "store_day"
# The store-day inputs whose drift the monitor watches (feat_sales_store_daily columns).
# Not media_spend: one value per country and day, so a month holds a few dozen values and
# ordinary months already stray far from the long run (tripled spend was caught in 6 of 78
# checks on the small world); a spend extract that stops raises stale_source instead.
PROFILED_INPUTS = ("units", "promo_sku_share", "promo_max_discount", "event_count")


def region_slug(region: str | None) -> str:
    if region in (None, ""):
        return ALL_REGIONS
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(region)) or ALL_REGIONS


def registry_name(region: str | None, measure: str = "units") -> str:
    """sales_forecast/<region> (units, the original model) or sales_forecast/<region>/revenue."""
    name = f"{MODEL_NAME}/{region_slug(region)}"
    return name if measure == "units" else f"{name}/{measure}"


def measure_of(name: str) -> str:
    """The measure a registry model name forecasts (the inverse of registry_name)."""
    parts = name.split("/")
    return parts[2] if len(parts) > 2 else "units"


def save_training(engine: Engine, result: dict[str, Any], spec: ForecastSpec, log,
                  inputs: dict[str, Any] | None = None) -> registry.Version:
    """Register `result` as a version of its region's model; champion if it earns it.
    `inputs`: the training window's input profile (`input_profile`), kept in the card."""
    name = registry_name(result.get("region"), result.get("measure", "units"))
    current = registry.champion(engine, name)
    challenger = _deciding(result)
    champion_config = _deciding(current.load(ARTIFACT_FILE)) if current else None
    candidates = result["grains"].get(DECIDING_GRAIN, {}).get("candidates", {})
    metric = str(spec.champion.get("metric", "wape"))
    same_window = (candidates.get(champion_config["champion"], {}).get("metrics", {})
                   .get(metric) if champion_config else None)
    refresh = champion_config is not None and champion_config == challenger
    baseline = candidates.get(spec.baseline, {}).get("metrics", {}).get(metric)
    card = registry.ModelCard(
        model=name, family=MODEL_NAME, run_id=result["run_id"], metric=metric,
        score=candidates.get(challenger["champion"], {}).get("metrics", {}).get(metric),
        baseline=spec.baseline,
        baseline_score=None if challenger["champion"] == spec.baseline else baseline,
        backtest_window={"origins": result.get("origins", []),
                         "horizon_days": spec.horizon_days},
        data_start=result.get("data_start"), data_end=result.get("as_of"),
        metrics=_headline(result), params=challenger,
        spec_hash=spec_hash(result.get("params", {})), inputs=inputs or {})
    return registry.register(engine, card, {ARTIFACT_FILE: result}, same_window,
                             spec.lifecycle, log, refresh=refresh)


def input_profile(store_days: pd.DataFrame, stores: list[str], measure: str = "units"
                  ) -> dict[str, Any]:
    """The training window's store-day inputs of `stores`, profiled for the drift monitor
    (the measure's own column of feat_sales_store_daily in place of units)."""
    history = store_days.loc[~store_days["is_future"] & store_days["store_id"].isin(stores)]
    inputs = tuple(measure if name == "units" else name for name in PROFILED_INPUTS)
    return profile_inputs(history, inputs, table="feat_sales_store_daily",
                          scope={"store_id": list(stores), "is_future": [False]})


def load_champion(engine: Engine, region: str | None, as_of: Any = None,
                  measure: str = "units") -> dict[str, Any] | None:
    """The champion training result serving `region`'s `measure` at `as_of`, or None."""
    found = registry.champion(engine, registry_name(region, measure), as_of)
    if found is None:
        return None
    result = found.load(ARTIFACT_FILE)
    result["version"] = found.version
    return result


def calibration_of(artifact: dict[str, Any], grain: str, candidate: str
                   ) -> ResidualQuantiles | None:
    found = artifact.get("grains", {}).get(grain, {}).get("candidates", {}).get(candidate)
    if not found or "calibration" not in found:
        return None
    return ResidualQuantiles.from_dict(found["calibration"])


def _deciding(result: dict[str, Any]) -> dict[str, Any]:
    """What a version *is*: its champion candidate per grain and that candidate's params."""
    champions = {g: found.get("champion") for g, found in result.get("grains", {}).items()}
    params = result.get("params", {})
    return {"champion": champions.get(DECIDING_GRAIN), "champions": champions,
            "params": {name: params.get(name) for name in sorted(set(champions.values()))
                       if name}}


def _headline(result: dict[str, Any]) -> dict[str, Any]:
    """Champion and its backtest WAPE and coverage per grain: what a registry reader wants."""
    out = {}
    for grain, found in result.get("grains", {}).items():
        champion = found.get("champion")
        metrics = found.get("candidates", {}).get(champion, {}).get("metrics", {})
        out[grain] = {"champion": champion, **{k: metrics.get(k) for k in ("wape", "coverage")}}
    return out
