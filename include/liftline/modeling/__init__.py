"""What every model stage shares: one strict spec loader, one as-of resolver, one estimator
interface, and the lifecycle settings each spec carries.

A model stage (forecast, promo, mmm, customers) is the same shape: a YAML spec in `models/`
read by `read_spec`, an `Estimator` with `fit`/`predict`, a baseline it must beat, a walk-forward
backtest, a registered artifact (`liftline.registry`), scoring from the champion, and
monitoring of its inputs (the training input profile kept in the card: `profile_inputs`) and
realised accuracy (`liftline.monitor`).
"""

from .asof import parse_as_of, resolve_as_of
from .estimator import Estimator
from .profile import MIN_BLOCK_ROWS, WINDOW_DAYS, column_psi, profile_inputs, psi
from .spec import (
    Lifecycle,
    SectionedSpec,
    SpecError,
    lifecycle_of,
    read_spec,
    reject_unknown,
    spec_hash,
)

__all__ = [
    "MIN_BLOCK_ROWS",
    "WINDOW_DAYS",
    "Estimator",
    "Lifecycle",
    "SectionedSpec",
    "SpecError",
    "column_psi",
    "lifecycle_of",
    "parse_as_of",
    "profile_inputs",
    "psi",
    "read_spec",
    "reject_unknown",
    "resolve_as_of",
    "spec_hash",
]
