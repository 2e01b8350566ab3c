"""Fixtures: the small world's first 150 days ingested, with the sales feature tables built.

Reuses the feature tests' helpers (tests/features/feature_helpers.py) for the world, and
delivers only the sources forecasting reads, so the session set-up stays short. Each test
gets its own copy of the warehouse and its own LIFTLINE_HOME (model artifacts).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from feature_helpers import (  # noqa: E402
    copy_warehouse,
    make_world,
)
from forecast_helpers import SALES_TABLES, build_featured_template  # noqa: E402

from liftline.forecast.spec import ForecastSpec, load_spec  # noqa: E402
from liftline.warehouse import dispose_engines  # noqa: E402

SOURCES = ("stores", "products", "pos", "promotions", "events", "spend", "macro")


@pytest.fixture(scope="session")
def forecast_world(tmp_path_factory) -> Path:
    return make_world(tmp_path_factory.mktemp("forecast_world") / "world")


@pytest.fixture(scope="session")
def featured_template(forecast_world: Path, tmp_path_factory) -> Path:
    """A SQLite warehouse with the world ingested and the sales feature tables built."""
    return build_featured_template(forecast_world, tmp_path_factory.mktemp("forecast_template"), SOURCES,
                                   SALES_TABLES)


@pytest.fixture
def featured(featured_template: Path, tmp_path: Path, monkeypatch):
    """A private copy of the featured warehouse, with LIFTLINE_HOME in tmp_path."""
    monkeypatch.setenv("LIFTLINE_HOME", str(tmp_path / "home"))
    engine = copy_warehouse(featured_template, tmp_path / "warehouse.db")
    yield engine
    dispose_engines()


@pytest.fixture
def small_spec() -> ForecastSpec:
    """The shipped spec, shortened for a 150-day world and a test budget (units only; the
    revenue forecast has its own tests, test_measures.py)."""
    spec = load_spec()
    lightgbm = {**spec.params("lightgbm"), "n_estimators": 60}
    return dataclasses.replace(
        spec,
        min_history_days=60,
        measures=("units",),
        candidates={"seasonal_naive": spec.params("seasonal_naive"), "lightgbm": lightgbm},
        backtest={"origins": 2, "spacing_days": 14, "min_train_days": 60},
    )


class Log(list):
    """A log callable that keeps its lines."""

    def __call__(self, line: str) -> None:
        self.append(line)

    def text(self) -> str:
        return "\n".join(self)


@pytest.fixture
def log() -> Log:
    return Log()
