"""The service-satisfaction spec, `models/satisfaction.yaml`, as a small frozen dataclass.

A missing key takes the default below; an unknown or misspelt key is a one-line error naming it
(liftline.modeling.read_spec / reject_unknown).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liftline import settings
from liftline.alerts import SEVERITIES
from liftline.modeling import Lifecycle, SectionedSpec, SpecError

SPEC_FILE = "satisfaction.yaml"
MODEL_KINDS = ("auto", "lightgbm", "logistic")
RISK_LEVELS = ("high", "medium", "low")


@dataclass(frozen=True)
class SatisfactionSpec(SectionedSpec):
    """Everything the satisfaction stage reads from its YAML spec."""

    SECTIONS = ("model", "risk_levels", "digest")

    version: int = 1
    model: dict[str, Any] = field(default_factory=lambda: {
        "kind": "auto", "use_hours_open": True, "holdout_weeks": 13, "calibration_weeks": 13,
        "settle_days": 7, "max_open_days": 14, "min_labelled": 200, "min_scored_rows": 20,
        "num_leaves": 7, "learning_rate": 0.03, "n_estimators": 300, "min_child_samples": 20,
        "regularization": 1.0, "seed": 7})
    risk_levels: dict[str, Any] = field(default_factory=lambda: {
        "high": 0.65, "medium": 0.4, "low": 0.0})
    digest: dict[str, Any] = field(default_factory=lambda: {
        "levels": ["high"], "repeat_contact_only": True, "max_listed": 25,
        "severity": "warning"})
    name: str = "satisfaction"
    lifecycle: Lifecycle = field(default_factory=Lifecycle)

    def risk_level(self, p: float) -> str:
        """The highest level whose threshold `p` reaches (the lowest level otherwise)."""
        levels = self.section("risk_levels")
        for level in RISK_LEVELS:
            if p >= float(levels[level]):
                return level
        return RISK_LEVELS[-1]


def spec_path() -> Path:
    return settings.project_root() / "models" / SPEC_FILE


def load_spec(path: Path | str | None = None) -> SatisfactionSpec:
    """Read the spec (default: models/satisfaction.yaml); one-line errors on bad content."""
    path = Path(path) if path is not None else spec_path()
    spec = SatisfactionSpec.load(path, "satisfaction spec")
    _check(spec, path)
    return spec


def _check(spec: SatisfactionSpec, path: Path) -> None:
    model = spec.section("model")
    if model["kind"] not in MODEL_KINDS:
        raise SpecError(f"{path}: model.kind {model['kind']!r} is not one of {MODEL_KINDS}")
    for key in ("holdout_weeks", "calibration_weeks", "max_open_days"):
        if not _number(model[key]) or int(model[key]) < 1:
            raise SpecError(f"{path}: model.{key} must be a whole number >= 1")
    levels = spec.section("risk_levels")
    if not all(_number(levels[k]) and 0 <= float(levels[k]) <= 1 for k in RISK_LEVELS):
        raise SpecError(f"{path}: risk_levels high, medium and low must be probabilities in "
                        "[0, 1]")
    if not float(levels["high"]) >= float(levels["medium"]) >= float(levels["low"]):
        raise SpecError(f"{path}: risk_levels must satisfy high >= medium >= low, got "
                        f"{levels['high']}, {levels['medium']}, {levels['low']}")
    digest = spec.section("digest")
    unknown = [level for level in digest["levels"] if level not in RISK_LEVELS]
    if unknown:
        raise SpecError(f"{path}: digest.levels {unknown} are not risk levels {RISK_LEVELS}")
    if digest["severity"] not in SEVERITIES:
        raise SpecError(f"{path}: digest.severity {digest['severity']!r} is not one of "
                        f"{SEVERITIES}")
    if not isinstance(digest["max_listed"], int) or digest["max_listed"] < 1:
        raise SpecError(f"{path}: digest.max_listed must be a whole number >= 1")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
