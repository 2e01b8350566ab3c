"""The promotion-lift spec, `models/promo_lift.yaml`, as a small frozen dataclass.

Code reads every threshold from here (DESIGN.md, "Declarative where it helps"). A missing key
takes the default below, so a spec written for an older version still loads; an unknown or
misspelt key is an error naming it (liftline.modeling.read_spec).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liftline import settings
from liftline.modeling import Lifecycle, SectionedSpec, SpecError

SPEC_FILE = "promo_lift.yaml"
BASELINE_METHODS = ("forecast", "pre_period")
MODEL_KINDS = ("auto", "hurdle", "single")


@dataclass(frozen=True)
class PromoSpec(SectionedSpec):
    """Everything the promotion-lift stage reads from its YAML spec."""

    SECTIONS = ("baseline", "model", "monitor", "recommend")

    version: int = 1
    baseline: dict[str, Any] = field(default_factory=lambda: {
        "method": "forecast", "post_days": 14, "share_days": 28, "lookback_days": 56,
        "min_baseline_units": 1.0})
    model: dict[str, Any] = field(default_factory=lambda: {
        "lift_threshold_pct": 2.0, "kind": "auto", "monotone_discount": True,
        "holdout_share": 0.25, "min_train_promos": 12, "interval_level": 0.9,
        "num_leaves": 7, "learning_rate": 0.05, "n_estimators": 300,
        "min_child_samples": 10, "seed": 11})
    monitor: dict[str, Any] = field(default_factory=lambda: {
        "divergence_pp": 5.0, "min_days": 3, "min_baseline_units": 20, "recover_pp": 3.0,
        "alert_window_days": 14, "severity": "warning", "critical_margin": 5000})
    recommend: dict[str, Any] = field(default_factory=lambda: {
        "discounts": [5, 10, 15, 20, 25, 30, 40, 50], "durations": [3, 7, 14, 21, 28],
        "min_discount_pct": 5, "max_discount_pct": 50, "min_days": 3, "max_days": 28,
        "weeks_ahead": 4, "promo_type": "price_discount", "top_skus_per_store": 5,
        "min_incremental_margin": 0})
    name: str = "promo_lift"
    lifecycle: Lifecycle = field(default_factory=Lifecycle)


def spec_path() -> Path:
    return settings.project_root() / "models" / SPEC_FILE


def load_spec(path: Path | str | None = None) -> PromoSpec:
    """Read the spec (default: models/promo_lift.yaml); one-line errors on bad content."""
    path = Path(path) if path is not None else spec_path()
    spec = PromoSpec.load(path, "promotion-lift spec")
    _check(spec, path)
    return spec


def _check(spec: PromoSpec, path: Path) -> None:
    method = spec.section("baseline")["method"]
    if method not in BASELINE_METHODS:
        raise SpecError(f"{path}: baseline.method {method!r} is not one of {BASELINE_METHODS}")
    kind = spec.section("model")["kind"]
    if kind not in MODEL_KINDS:
        raise SpecError(f"{path}: model.kind {kind!r} is not one of {MODEL_KINDS}")
    level = float(spec.section("model")["interval_level"])
    if not 0 < level < 1:
        raise SpecError(f"{path}: model.interval_level must be in (0, 1), got {level}")
    monitor = spec.section("monitor")
    if not 0 <= float(monitor["recover_pp"]) <= float(monitor["divergence_pp"]):
        raise SpecError(f"{path}: monitor.recover_pp must lie between 0 and divergence_pp")
    _check_grid(spec.section("recommend"), path)


def _check_grid(rec: dict[str, Any], path: Path) -> None:
    lo, hi = float(rec["min_discount_pct"]), float(rec["max_discount_pct"])
    bad = [d for d in rec["discounts"] if not lo <= float(d) <= hi]
    if bad:
        raise SpecError(f"{path}: recommend.discounts {bad} lie outside "
                         f"min/max_discount_pct {lo:g}-{hi:g}")
    lo_d, hi_d = int(rec["min_days"]), int(rec["max_days"])
    bad = [d for d in rec["durations"] if not lo_d <= int(d) <= hi_d]
    if bad:
        raise SpecError(f"{path}: recommend.durations {bad} lie outside min/max_days "
                         f"{lo_d}-{hi_d}")
