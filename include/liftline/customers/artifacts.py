"""The customer models in the model registry, both of family `customer_segments`:

- `customer_segments`: the named K-means segments (`segments.json`: features, scaling,
  centroids, names). Promotion is decided on the unexplained share of next-period revenue
  variance on the time-split backtest; the baseline is the RFM-quintile grouping with the same
  number of groups, and the champion is re-scored on the same window by assigning the backtest
  snapshot to its centroids. The champion's configuration refitted on a newer snapshot is a
  refresh: it replaces the champion once it beats the baseline (weekly refits keep the names).
- `customer_segments/value`: the expected-revenue model that won the backtest (`value.json`: BG/NBD +
  Gamma-Gamma parameters, or a LightGBM booster as a model string). Promotion is decided on
  the backtest RMSE of the 6-month revenue per customer; the baseline is "same as last
  period". The same kind retrained under the same spec is a refresh of the champion.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Engine

from liftline import registry
from liftline.modeling import profile_inputs, spec_hash

from .segments import SegmentModel
from .spec import FAMILY, SegmentSpec
from .value import BgNbdValue, BoostedValue, value_model_from_dict, value_model_json

SEGMENTS_MODEL = "customer_segments"
VALUE_MODEL = "customer_segments/value"  # nested: the family (and its spec) is customer_segments
SEGMENTS_FILE = "segments.json"
VALUE_FILE = "value.json"
PROFILED_INPUTS = ("recency_days", "frequency", "monetary", "avg_order_value", "tenure_days",
                   "product_breadth", "spend_trend")


def register_segments(engine: Engine, run_id: str, model: SegmentModel, spec: SegmentSpec,
                      as_of: Any, metrics: dict[str, Any], snapshot: pd.DataFrame,
                      log=print) -> registry.Version:  # noqa: ANN001
    section = spec.section("segments")
    config = {"features": list(section["features"]), "spec": spec_hash(section)}
    current = registry.champion(engine, SEGMENTS_MODEL)
    # The champion's configuration refitted on a newer snapshot replaces it once it beats
    # the RFM baseline: segments should follow the customers, and the names carry over.
    refresh = current is not None and {k: current.card().params.get(k) for k in config} == config
    card = registry.ModelCard(
        model=SEGMENTS_MODEL, family=FAMILY, run_id=run_id, metric="unexplained_revenue_share",
        score=metrics.get("unexplained_share"), baseline="rfm_quintiles",
        baseline_score=metrics.get("rfm_unexplained_share"),
        backtest_window={k: metrics.get(k) for k in ("backtest_cut", "backtest_end",
                                                     "backtest_customers")},
        data_start=metrics.get("data_start"), data_end=str(as_of)[:10],
        metrics=metrics, params={**config, "k": model.k_, "names": model.names_},
        spec_hash=config["spec"], inputs=_profile(snapshot))
    return registry.register(engine, card, {SEGMENTS_FILE: model.to_dict()},
                             metrics.get("champion_unexplained_share"), spec.lifecycle, log,
                             refresh=refresh)


def register_value(engine: Engine, run_id: str, model: BgNbdValue | BoostedValue,
                   spec: SegmentSpec, as_of: Any, metrics: dict[str, Any],
                   snapshot: pd.DataFrame, log=print) -> registry.Version:  # noqa: ANN001
    section = spec.section("value")
    config = {"kind": model.name, "spec": spec_hash(section)}
    current = registry.champion(engine, VALUE_MODEL)
    champion_config = current.card().params if current else None
    candidates = metrics.get("candidates", {})
    same_window = (candidates.get(champion_config.get("kind"), {}).get("rmse")
                   if champion_config else None)
    card = registry.ModelCard(
        model=VALUE_MODEL, family=FAMILY, run_id=run_id, metric="rmse_6m",
        score=metrics.get("rmse"), baseline="same_as_last_period",
        baseline_score=metrics.get("baseline_rmse"),
        backtest_window={k: metrics.get(k) for k in ("backtest_cut", "backtest_end",
                                                     "backtest_customers")},
        data_start=metrics.get("data_start"), data_end=str(as_of)[:10],
        metrics=metrics, params=config, spec_hash=config["spec"], inputs=_profile(snapshot))
    return registry.register(engine, card, {VALUE_FILE: value_model_json(model)}, same_window,
                             spec.lifecycle, log, refresh=champion_config == config)


def load_segments(engine: Engine, as_of: Any = None) -> tuple[SegmentModel, str] | None:
    """The champion segment model at `as_of` (default: now) and its version, or None."""
    found = registry.champion(engine, SEGMENTS_MODEL, as_of)
    if found is None:
        return None
    return SegmentModel.from_dict(found.load(SEGMENTS_FILE)), found.version


def load_value(engine: Engine, as_of: Any = None
               ) -> tuple[BgNbdValue | BoostedValue, str] | None:
    found = registry.champion(engine, VALUE_MODEL, as_of)
    if found is None:
        return None
    return value_model_from_dict(found.load(VALUE_FILE)), found.version


def _profile(snapshot: pd.DataFrame) -> dict[str, Any]:
    if snapshot.empty:
        return {}
    return profile_inputs(snapshot, PROFILED_INPUTS, table="feat_customer",
                          date_column="as_of_date")
