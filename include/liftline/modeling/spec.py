"""Reading a model spec (`models/<model>.yaml`): strict about keys, one-line errors.

Every stage reads its YAML through `read_spec`, then checks its sections with
`reject_unknown`, so a misspelt key (`horizon_day:`) is an error naming the key, the file and the
keys that would be valid, never a setting silently ignored. `lifecycle_of` reads the section
every spec shares: how a challenger must beat the champion, how often to retrain, when a
champion is stale, and the drift and decay thresholds monitoring uses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import yaml


class SpecError(ValueError):
    """A model spec is unusable; the message (one line) names the file and the key."""


def read_spec(path: Path | str, what: str) -> dict[str, Any]:
    """The YAML mapping at `path`; `what` names the spec in errors ("forecast spec")."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SpecError(f"{what} {path} not found: restore models/{path.name}") from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SpecError(f"{what} {path} is not valid YAML: {first}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SpecError(f"{what} {path} must be a mapping of keys, not {type(raw).__name__}")
    return raw


def reject_unknown(values: Mapping[str, Any] | None, known: Iterable[str], path: Path | str,
                   section: str = "") -> None:
    """Raise a SpecError naming the first key of `values` that is not in `known`."""
    known = sorted(known)
    for key in values or {}:
        if key not in known:
            where = f"{section}.{key}" if section else str(key)
            raise SpecError(f"{path}: unknown key {where!r}; valid keys here: "
                            f"{', '.join(known)}")


class SectionedSpec:
    """A spec dataclass whose settings come in sections, each a mapping with defaults.

    Subclasses are frozen dataclasses with `version`, `name`, `lifecycle` and one mapping
    field per name in `SECTIONS`; `load` reads the YAML strictly into one.
    """

    SECTIONS: ClassVar[tuple[str, ...]] = ()

    def section(self, name: str) -> dict[str, Any]:
        """A section with the defaults filled in for keys the YAML leaves out."""
        defaults = getattr(type(self)(), name) if name in self.SECTIONS else {}
        return {**defaults, **(getattr(self, name) or {})}

    @classmethod
    def load(cls, path: Path | str, what: str) -> Any:
        """The spec at `path`: unknown top-level or section keys, or a section that is not a
        mapping, are one-line SpecErrors; `what` names the spec in them."""
        path = Path(path)
        raw = read_spec(path, what)
        reject_unknown(raw, ("name", "version", "lifecycle", *cls.SECTIONS), path)
        defaults = cls()
        for section in cls.SECTIONS:
            if raw.get(section) is not None and not isinstance(raw[section], dict):
                raise SpecError(f"{path}: {section} must be a mapping of settings")
            reject_unknown(raw.get(section), getattr(defaults, section), path, section)
        values = {key: raw[key] for key in ("name", "version", *cls.SECTIONS) if key in raw}
        return cls(**values, lifecycle=lifecycle_of(raw, path))


def spec_hash(values: Mapping[str, Any]) -> str:
    """A short stable hash of a spec's settings: model cards say which spec trained them."""
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Lifecycle:
    """The `lifecycle:` section of every model spec (defaults below)."""

    # A challenger replaces the champion only when its backtest error, on the same window, is
    # at least this fraction lower (0.01: 1% better).
    promotion_margin: float = 0.01
    retrain_every_days: int = 7  # training is due when the newest version is this old
    max_age_days: int = 21  # a champion older than this raises `stale_model`
    drift_psi: float = 0.25  # population stability index above which `drift` is raised
    degraded_margin: float = 0.25  # realised error this fraction above the backtest's


_LIFECYCLE_KEYS = tuple(f.name for f in fields(Lifecycle))


def lifecycle_of(raw: Mapping[str, Any], path: Path | str) -> Lifecycle:
    """The spec's lifecycle settings, defaults filled in; unknown keys are errors."""
    section = raw.get("lifecycle") or {}
    if not isinstance(section, Mapping):
        raise SpecError(f"{path}: lifecycle must be a mapping of settings")
    reject_unknown(section, _LIFECYCLE_KEYS, path, "lifecycle")
    try:
        found = Lifecycle(**{k: type(getattr(Lifecycle, k))(v) for k, v in section.items()})
    except (TypeError, ValueError):
        raise SpecError(f"{path}: lifecycle settings must be numbers") from None
    if found.promotion_margin < 0 or found.promotion_margin >= 1:
        raise SpecError(f"{path}: lifecycle.promotion_margin must lie in [0, 1)")
    if found.retrain_every_days < 1 or found.max_age_days < 1:
        raise SpecError(f"{path}: lifecycle.retrain_every_days and max_age_days must be >= 1")
    return found
