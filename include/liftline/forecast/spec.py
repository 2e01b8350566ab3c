"""The forecast spec, `models/sales_forecast.yaml`, as a small frozen dataclass.

Code reads every threshold from here (DESIGN.md, "Declarative where it helps"). A missing key
takes the default below, so a spec written for an older version still loads; an unknown or
misspelt key is an error naming it (liftline.modeling.read_spec).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liftline import settings
from liftline.modeling import Lifecycle, SpecError, lifecycle_of, read_spec, reject_unknown

SPEC_FILE = "sales_forecast.yaml"
CANDIDATES = ("seasonal_naive", "prophet", "lightgbm", "ensemble")
GRAINS = ("store_day", "store_category_week")
MEASURES = ("units", "revenue")  # what is forecast: quantities, or turnover in the extract's money


@dataclass(frozen=True)
class ForecastSpec:
    """Everything the forecast stage reads from its YAML spec."""

    version: int = 1
    horizon_days: int = 56
    measures: tuple[str, ...] = MEASURES
    grains: dict[str, dict[str, Any]] = field(default_factory=lambda: {g: {} for g in GRAINS})
    min_history_days: int = 91
    min_history_any_days: int = 7
    fallback: str = "lightgbm"
    candidates: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {name: {} for name in CANDIDATES})
    backtest: dict[str, Any] = field(default_factory=lambda: {
        "origins": 3, "spacing_days": 28, "min_train_days": 182})
    intervals: dict[str, Any] = field(default_factory=lambda: {
        "level": 0.9, "horizon_buckets": [7, 14, 28, 56], "coverage_tolerance": 0.05})
    champion: dict[str, Any] = field(default_factory=lambda: {
        "metric": "wape", "must_beat": "seasonal_naive"})
    newsvendor: dict[str, Any] = field(default_factory=lambda: {
        "underage": "margin", "overage": "unit_cost", "default_critical_ratio": 0.5})
    alerts: dict[str, Any] = field(default_factory=lambda: {"forecast_drop": {
        "weeks": 4, "threshold_pct": 20, "min_last_year_units": 1, "severity": "warning"}})
    model: str = "sales_forecast"
    lifecycle: Lifecycle = field(default_factory=Lifecycle)

    @property
    def level(self) -> float:
        return float(self.intervals.get("level", 0.9))

    @property
    def buckets(self) -> list[int]:
        return [int(b) for b in self.intervals.get("horizon_buckets", [self.horizon_days])]

    @property
    def baseline(self) -> str:
        return str(self.champion.get("must_beat", "seasonal_naive"))

    def params(self, candidate: str) -> dict[str, Any]:
        """The constructor parameters of `candidate` (an empty dict if the spec names none)."""
        return dict(self.candidates.get(candidate) or {})

    def grain(self, name: str) -> dict[str, Any]:
        return dict(self.grains.get(name) or {})

    def drop_rule(self) -> dict[str, Any]:
        return dict(self.alerts.get("forecast_drop") or {})


def spec_path() -> Path:
    return settings.project_root() / "models" / SPEC_FILE


def load_spec(path: Path | str | None = None) -> ForecastSpec:
    """Read the spec (default: models/sales_forecast.yaml); one-line errors on bad content."""
    path = Path(path) if path is not None else spec_path()
    raw = read_spec(path, "forecast spec")
    reject_unknown(raw, ForecastSpec.__dataclass_fields__, path)
    defaults = ForecastSpec()
    for section in _FIXED_SECTIONS:
        reject_unknown(raw.get(section), getattr(defaults, section), path, section)
    reject_unknown(raw.get("grains"), GRAINS, path, "grains")
    reject_unknown((raw.get("alerts") or {}).get("forecast_drop"),
                   defaults.alerts["forecast_drop"], path, "alerts.forecast_drop")
    values = {**raw, "lifecycle": lifecycle_of(raw, path)}
    if "measures" in raw:
        values["measures"] = _measures(raw["measures"], path)
    spec = ForecastSpec(**values)
    _check(spec, path)
    return spec


def _measures(raw: Any, path: Path) -> tuple[str, ...]:
    found = [raw] if isinstance(raw, str) else list(raw or [])
    unknown = [m for m in found if m not in MEASURES]
    if unknown or not found:
        raise SpecError(f"{path}: measures must name one or both of {list(MEASURES)}, got "
                        f"{raw!r}")
    return tuple(dict.fromkeys(found))


# Sections whose keys are fixed (the defaults above name them all).
_FIXED_SECTIONS = ("backtest", "intervals", "champion", "newsvendor", "alerts")


def _check(spec: ForecastSpec, path: Path) -> None:
    unknown = sorted(name for name, params in spec.candidates.items()
                     if name not in CANDIDATES and "members" not in (params or {}))
    if unknown:
        raise SpecError(f"{path}: unknown candidate(s) {unknown}; known: {list(CANDIDATES)}")
    if spec.baseline not in spec.candidates:
        raise SpecError(f"{path}: champion.must_beat {spec.baseline!r} is not a candidate")
    if spec.fallback not in spec.candidates:
        raise SpecError(f"{path}: fallback {spec.fallback!r} is not a candidate")
    if not 0 < spec.level < 1:
        raise SpecError(f"{path}: intervals.level must be in (0, 1), got {spec.level}")
    if int(spec.backtest.get("origins", 0)) < 1:
        raise SpecError(f"{path}: backtest.origins must be at least 1")
    if spec.buckets[-1] < spec.horizon_days:
        raise SpecError(f"{path}: the last horizon bucket must reach horizon_days")
