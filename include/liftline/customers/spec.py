"""The customer-segments spec, `models/customer_segments.yaml`, as a small frozen dataclass.

A missing key takes the default below; an unknown or misspelt key is a one-line error naming
it (liftline.modeling.read_spec / reject_unknown).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liftline import settings
from liftline.modeling import Lifecycle, SectionedSpec, SpecError

SPEC_FILE = "customer_segments.yaml"
FAMILY = "customer_segments"
VALUE_KINDS = ("auto", "bgnbd", "lightgbm")
# The feat_customer columns segments may cluster on (each with its transform: segments.py).
CLUSTER_FEATURES = ("recency_days", "frequency", "monetary", "avg_order_value", "tenure_days",
                    "product_breadth", "spend_trend", "crm_opportunities", "crm_won",
                    "service_contacts", "income", "age")


@dataclass(frozen=True)
class SegmentSpec(SectionedSpec):
    """Everything the customer-segments stage reads from its YAML spec."""

    SECTIONS = ("segments", "value")

    version: int = 1
    segments: dict[str, Any] = field(default_factory=lambda: {
        "features": ["recency_days", "frequency", "monetary", "tenure_days"],
        "k_min": 3, "k_max": 8, "min_stability": 0.75, "resamples": 3, "fit_sample": 20000,
        "score_sample": 4000, "min_customers": 50, "match_distance": 1.5, "k_switch_margin": 0.05,
        "seed": 7})
    value: dict[str, Any] = field(default_factory=lambda: {
        "horizon_days": 182, "kind": "auto", "min_buyers": 50, "objective": "tweedie",
        "num_leaves": 15, "learning_rate": 0.05, "n_estimators": 300, "min_child_samples": 20,
        "seed": 11})
    name: str = FAMILY
    lifecycle: Lifecycle = field(default_factory=Lifecycle)


def spec_path() -> Path:
    return settings.project_root() / "models" / SPEC_FILE


def load_spec(path: Path | str | None = None) -> SegmentSpec:
    """Read the spec (default: models/customer_segments.yaml); one-line errors on bad content."""
    path = Path(path) if path is not None else spec_path()
    spec = SegmentSpec.load(path, "customer-segments spec")
    _check(spec, path)
    return spec


def _check(spec: SegmentSpec, path: Path) -> None:
    seg = spec.section("segments")
    features = seg["features"]
    if not isinstance(features, list) or not features:
        raise SpecError(f"{path}: segments.features must be a non-empty list of columns")
    unknown = [f for f in features if f not in CLUSTER_FEATURES]
    if unknown:
        raise SpecError(f"{path}: segments.features {unknown} are not clusterable; choose from "
                        f"{', '.join(CLUSTER_FEATURES)}")
    try:
        k_min, k_max = int(seg["k_min"]), int(seg["k_max"])
        stability = float(seg["min_stability"])
        horizon = int(spec.section("value")["horizon_days"])
    except (TypeError, ValueError):
        raise SpecError(f"{path}: segments.k_min/k_max/min_stability and value.horizon_days "
                        "must be numbers") from None
    if not 2 <= k_min <= k_max:
        raise SpecError(f"{path}: segments.k_min and k_max must satisfy 2 <= k_min <= k_max, "
                        f"got {k_min} and {k_max}")
    if not 0 <= stability <= 1:
        raise SpecError(f"{path}: segments.min_stability must lie in [0, 1], got {stability}")
    if horizon < 1:
        raise SpecError(f"{path}: value.horizon_days must be >= 1, got {horizon}")
    kind = spec.section("value")["kind"]
    if kind not in VALUE_KINDS:
        raise SpecError(f"{path}: value.kind {kind!r} is not one of {VALUE_KINDS}")
