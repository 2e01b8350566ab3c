"""The model card kept with every registered version: what it is, what it was trained on,
how good it was, and with which code.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.metadata
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from typing import Any

from liftline import settings

LIBRARIES = ("pandas", "numpy", "scikit-learn", "lightgbm", "prophet", "nevergrad", "SQLAlchemy")


@dataclass
class ModelCard:
    """Everything a reader needs to trust (or question) one version of a model."""

    model: str  # registry name, e.g. sales_forecast/north, promo_lift, mmm/DE/all
    family: str  # sales_forecast | promo_lift | mmm | ...
    run_id: str  # the training run (an Airflow run id); the version is not it
    metric: str  # the backtest error that decides promotion (lower is better)
    score: float | None  # this version's backtest `metric`
    baseline: str  # the naive model it must beat
    baseline_score: float | None  # the baseline's `metric` on the same backtest
    backtest_window: dict[str, Any]  # what the backtest covered (origins, holdout dates)
    data_start: str | None = None
    data_end: str | None = None  # the training as-of: no fact after it was read
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    spec_hash: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)  # training-window input profiles
    version: str = ""  # set by the registry
    trained_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(
        tzinfo=None).isoformat(timespec="seconds"))
    git_revision: str | None = field(default_factory=lambda: git_revision())
    libraries: dict[str, str] = field(default_factory=lambda: library_versions())
    promotion: dict[str, Any] = field(default_factory=dict)  # decision and reason

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelCard:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in values.items() if k in known})


@functools.cache
def git_revision() -> str | None:
    """The checkout's commit (with `-dirty` when it has changes), or None outside git."""
    root = settings.project_root()
    try:
        found = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty",
                                "--abbrev=12"], capture_output=True, text=True, timeout=5,
                               check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip() or None


@functools.cache
def library_versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found
