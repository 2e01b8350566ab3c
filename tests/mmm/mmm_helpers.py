"""MMM test helpers: a small spec (tiny search budgets) for fast fits."""

from __future__ import annotations

from liftline.mmm import load_spec
from liftline.mmm.spec import merge

SMALL = {
    "search": {"budget": 200, "trials": 2, "batch": 50},
    "bootstrap": {"resamples": 100},
    "cv": {"train_weeks": 52, "test_weeks": 13},
    "data": {"min_weeks": 65},
}


def small_spec(**extra):
    """The shipped spec with small search budgets, and `extra` merged over it."""
    return load_spec(overrides=merge(SMALL, extra))


def quiet(_: str) -> None:
    pass
