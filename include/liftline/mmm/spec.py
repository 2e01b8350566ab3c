"""The model spec (models/mmm.yaml) as typed, validated settings.

`load_spec()` reads the project's models/mmm.yaml; a user's file (or a dict of overrides, as the
tests use for small budgets) is merged over it key by key, so a copy need only name what it
changes. Every problem is one line naming the key and what would be valid.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liftline import modeling, settings

GRANULARITIES = ("global", "country", "segment", "country_segment")
TARGETS = ("revenue", "revenue_pos", "revenue_erp")
ADSTOCKS = ("geometric", "weibull")
DEFAULT_TYPE = "default"
TYPE_KEYS = ("theta", "alpha")  # of a channel_types entry; alpha is optional
ALPHA_RANGE = (0.05, 10.0)  # valid Hill alpha bounds


# The one spec error of every model stage: the message (one line) names the file and the key.
SpecError = modeling.SpecError


def default_spec_path() -> Path:
    return settings.project_root() / "models" / "mmm.yaml"


Bounds = tuple[float, float]


@dataclass(frozen=True)
class MMMSpec:
    model_name: str
    seed: int
    target: str
    granularity: str
    max_weeks: int
    min_weeks: int
    min_active_weeks: int
    controls_include: tuple[str, ...] | None  # None: all
    controls_exclude: tuple[str, ...]
    controls_max_missing_share: float
    adstock: str
    weibull_l_max: int
    weibull_shape: Bounds
    weibull_scale: Bounds
    type_theta: Mapping[str, Bounds]
    type_alpha: Mapping[str, Bounds]  # only the types that name their own alpha
    channel_types: Mapping[str, str]
    alpha: Bounds  # hill.alpha: the alpha bounds of a type that names none
    gamma: Bounds
    ridge_lambda: Bounds
    optimizer_name: str
    budget: int
    trials: int
    batch: int
    weight_rssd: float
    weight_lift: float
    weight_lift_roi: float
    lift_roi_tolerance: float
    lift_calibration_weight: float
    lift_default_relative_se: float
    stable_within: float
    cv_train_weeks: int
    cv_test_weeks: int
    cv_window: str
    grade_excellent: float
    grade_good: float
    grade_acceptable: float
    baseline_tolerance_tested: float
    bootstrap_resamples: int
    bootstrap_block_weeks: int
    bootstrap_hyperparameters: str
    bootstrap_near_optimal_within: float
    interval: float
    fourier_order: int
    trend: bool
    curve_points: int
    curve_max_multiplier: float
    zone_efficient: float
    zone_saturated: float
    budget_bounds: Bounds
    target_mroi: float
    target_bounds: Bounds
    source: str = "models/mmm.yaml"
    lifecycle: modeling.Lifecycle = modeling.Lifecycle()

    def channel_type(self, channel: str) -> str:
        """The channel's type by the spec's name mapping (case-insensitive), else "default"."""
        return self.channel_types.get(str(channel).strip().lower(), DEFAULT_TYPE)

    def theta_bounds(self, channel: str) -> Bounds:
        return self.type_theta.get(self.channel_type(channel), self.type_theta[DEFAULT_TYPE])

    def alpha_bounds(self, channel: str) -> Bounds:
        """Hill alpha bounds of the channel's type, else the global hill.alpha."""
        return self.type_alpha.get(self.channel_type(channel), self.alpha)

    def grade(self, cv_mape: float) -> str:
        """excellent / good / acceptable / poor by the spec's CV MAPE thresholds."""
        if math.isnan(cv_mape):
            return "poor"
        for name, limit in (("excellent", self.grade_excellent), ("good", self.grade_good),
                            ("acceptable", self.grade_acceptable)):
            if cv_mape < limit:
                return name
        return "poor"

    def zone(self, mroi: float) -> str:
        """efficient (> efficient), saturated (< saturated), else diminishing."""
        if mroi > self.zone_efficient:
            return "efficient"
        if mroi < self.zone_saturated:
            return "saturated"
        return "diminishing"


def load_spec(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None
              ) -> MMMSpec:
    """The spec: models/mmm.yaml, with `path` (a user's copy) and then `overrides` merged over."""
    base_path = default_spec_path()
    raw = _read_yaml(base_path)
    source = str(base_path)
    if path is not None and Path(path).resolve() != base_path.resolve():
        raw = merge(raw, _read_yaml(Path(path)))
        source = str(path)
    if overrides:
        raw = merge(raw, overrides)
    return spec_from_dict(raw, source)


def merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `extra` merged over it, mapping by mapping (lists and scalars replace)."""
    out = copy.deepcopy(dict(base))
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    return modeling.read_spec(path, "MMM spec")


def spec_from_dict(raw: Mapping[str, Any], source: str = "<dict>") -> MMMSpec:
    """Validate a spec mapping (all keys present, as in models/mmm.yaml)."""
    r = _Reader(raw, source)
    types = r.get("channel_types")
    if not isinstance(types, Mapping) or DEFAULT_TYPE not in types:
        raise SpecError(f"{source}: channel_types needs a `default` entry with theta bounds")
    for name, entry in types.items():
        extra = sorted(map(str, set(entry) - set(TYPE_KEYS))) if isinstance(entry, Mapping) else []
        if extra:
            raise SpecError(f"{source}: channel_types.{name} has unknown key(s) "
                            f"{', '.join(extra)}; expected {' and '.join(TYPE_KEYS)}")
    type_theta = {str(name): r.bounds(f"channel_types.{name}.theta", 0.0, 0.999)
                  for name in types}
    type_alpha = {str(name): r.bounds(f"channel_types.{name}.alpha", *ALPHA_RANGE)
                  for name, entry in types.items() if "alpha" in entry}
    mapping = r.get("channels") or {}
    unknown = sorted({str(t) for t in mapping.values()} - set(type_theta))
    if unknown:
        raise SpecError(f"{source}: channels map to unknown type(s) {', '.join(unknown)}; "
                        f"define them under channel_types ({', '.join(sorted(type_theta))})")
    include = r.get("data.controls.include")
    r.choice("transforms.saturation", ("hill",))  # the one saturation there is, named
    spec = MMMSpec(
        model_name=str(r.get("model_name")),
        seed=int(r.get("seed")),
        target=r.choice("target", TARGETS),
        granularity=r.choice("granularity", GRANULARITIES),
        max_weeks=r.integer("data.max_weeks", 10),
        min_weeks=r.integer("data.min_weeks", 8),
        min_active_weeks=r.integer("data.min_active_weeks", 1),
        controls_include=None if include in (None, "all") else tuple(map(str, include)),
        controls_exclude=tuple(map(str, r.get("data.controls.exclude") or ())),
        controls_max_missing_share=r.number("data.controls.max_missing_share", 0.0, 1.0),
        adstock=r.choice("transforms.adstock", ADSTOCKS),
        weibull_l_max=r.integer("transforms.weibull.l_max", 2),
        weibull_shape=r.bounds("transforms.weibull.shape", 0.05, 20.0),
        weibull_scale=r.bounds("transforms.weibull.scale", 0.001, 1.0),
        type_theta=type_theta,
        type_alpha=type_alpha,
        channel_types={str(k).strip().lower(): str(v) for k, v in mapping.items()},
        alpha=r.bounds("hill.alpha", *ALPHA_RANGE),
        gamma=r.bounds("hill.gamma", 0.001, 1.0),
        ridge_lambda=r.bounds("ridge.lambda", 1e-12, 1e3),
        optimizer_name=r.choice("search.optimizer", ("TwoPointsDE",)),
        budget=r.integer("search.budget", 1),
        trials=r.integer("search.trials", 1),
        batch=r.integer("search.batch", 1),
        weight_rssd=r.number("search.objective.decomp_rssd", 0.0, 100.0),
        weight_lift=r.number("search.objective.lift", 0.0, 100.0),
        weight_lift_roi=r.number("search.objective.lift_roi", 0.0, 100.0),
        lift_roi_tolerance=r.number("search.objective.lift_roi_tolerance", 0.0, 10.0),
        lift_calibration_weight=r.number("calibration.weight", 0.0, 1e6),
        lift_default_relative_se=r.number("calibration.default_relative_se", 0.001, 10.0),
        stable_within=r.number("search.stable_within", 0.0, 10.0),
        cv_train_weeks=r.integer("cv.train_weeks", 4),
        cv_test_weeks=r.integer("cv.test_weeks", 1),
        cv_window=r.choice("cv.window", ("expanding", "sliding")),
        grade_excellent=r.number("quality.excellent", 0.0, 10.0),
        grade_good=r.number("quality.good", 0.0, 10.0),
        grade_acceptable=r.number("quality.acceptable", 0.0, 10.0),
        baseline_tolerance_tested=r.number("quality.baseline_tolerance_when_tested", 0.0, 1.0),
        bootstrap_resamples=r.integer("bootstrap.resamples", 100),
        bootstrap_block_weeks=r.integer("bootstrap.block_weeks", 1),
        bootstrap_hyperparameters=r.choice("bootstrap.hyperparameters",
                                           ("near_optimal", "chosen")),
        bootstrap_near_optimal_within=r.number("bootstrap.near_optimal_within", 0.0, 10.0),
        interval=r.number("bootstrap.interval", 0.5, 0.999),
        fourier_order=r.integer("seasonality.fourier_order", 0),
        trend=bool(r.get("seasonality.trend")),
        curve_points=r.integer("response_curves.points", 3),
        curve_max_multiplier=r.number("response_curves.max_multiplier", 1.0, 100.0),
        zone_efficient=r.number("zones.efficient", 0.0, 1e6),
        zone_saturated=r.number("zones.saturated", 0.0, 1e6),
        budget_bounds=r.bounds("optimizer.bounds", -1.0, 100.0, allow_equal=True),
        target_mroi=r.number("optimizer.target_mroi", 0.0, 1e6),
        target_bounds=r.bounds("optimizer.target_bounds", -1.0, 100.0),
        source=source,
        lifecycle=modeling.lifecycle_of(raw, source),
    )
    r.reject_unread(free=("channel_types", "channels", "lifecycle"))
    if not spec.grade_excellent <= spec.grade_good <= spec.grade_acceptable:
        raise SpecError(f"{source}: quality thresholds must grow: excellent <= good <= acceptable")
    if spec.zone_saturated > spec.zone_efficient:
        raise SpecError(f"{source}: zones.saturated must not exceed zones.efficient")
    if spec.budget_bounds[0] > 0 or spec.budget_bounds[1] < 0:
        raise SpecError(f"{source}: optimizer.bounds must contain 0 (current spend), e.g. "
                        "[-0.3, 0.3]")
    return spec


class _Reader:
    """Dotted-key access to the raw mapping with one-line errors."""

    def __init__(self, raw: Mapping[str, Any], source: str):
        self.raw, self.source = raw, source
        self.read: set[str] = set()

    def reject_unread(self, free: tuple[str, ...]) -> None:
        """A key the spec never reads is a misspelling or a setting that does nothing: say so."""
        def walk(node: Mapping[str, Any], prefix: str) -> None:
            for key, value in node.items():
                path = f"{prefix}{key}"
                if path in self.read or path in free:
                    continue
                if not any(r.startswith(path + ".") for r in self.read):
                    raise SpecError(f"{self.source}: unknown key {path!r} (see models/mmm.yaml "
                                    "for the valid settings)")
                if isinstance(value, Mapping):
                    walk(value, path + ".")
        walk(self.raw, "")

    def get(self, dotted: str) -> Any:
        self.read.add(dotted)
        node: Any = self.raw
        for part in dotted.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise SpecError(f"{self.source}: missing setting {dotted!r} (see models/mmm.yaml)")
            node = node[part]
        return node

    def number(self, key: str, low: float, high: float) -> float:
        value = self.get(key)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise SpecError(f"{self.source}: {key} = {value!r} is not a number") from None
        if not low <= number <= high:
            raise SpecError(f"{self.source}: {key} = {number} is outside [{low}, {high}]")
        return number

    def integer(self, key: str, low: int) -> int:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise SpecError(f"{self.source}: {key} = {value!r} must be an integer >= {low}")
        return value

    def choice(self, key: str, options: tuple[str, ...]) -> str:
        value = self.get(key)
        if value not in options:
            raise SpecError(f"{self.source}: {key} = {value!r}; expected one of "
                            f"{', '.join(options)}")
        return value

    def bounds(self, key: str, low: float, high: float, allow_equal: bool = False) -> Bounds:
        value = self.get(key)
        ok = isinstance(value, list | tuple) and len(value) == 2
        try:
            lo, hi = (float(v) for v in value) if ok else (None, None)
        except (TypeError, ValueError):
            ok = False
        if not ok or lo is None or not (low <= lo <= hi <= high) or (lo == hi and not allow_equal):
            raise SpecError(f"{self.source}: {key} = {value!r} must be [lower, upper] with "
                            f"{low} <= lower < upper <= {high}")
        return lo, hi
