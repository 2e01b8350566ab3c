"""Customer models: service-satisfaction risk (README.md in this folder)."""

from .satisfaction import score_satisfaction, train_satisfaction
from .satisfaction_spec import SatisfactionSpec
from .satisfaction_spec import load_spec as load_satisfaction_spec

__all__ = [
    "SatisfactionSpec",
    "load_satisfaction_spec",
    "score_satisfaction",
    "train_satisfaction",
]
