"""Fixtures: a 150-day slice of the small world ingested, with the sales and promotion
feature tables built (once per session; each test gets its own SQLite copy)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "forecast"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "alerts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_slack import FakeSlack  # noqa: E402
from feature_helpers import copy_warehouse, make_world  # noqa: E402
from forecast_helpers import SALES_TABLES, build_featured_template  # noqa: E402
from lift_helpers import PROMO_SOURCES  # noqa: E402

from liftline.warehouse import dispose_engines  # noqa: E402


@pytest.fixture(scope="session")
def promo_world(tmp_path_factory) -> Path:
    return make_world(tmp_path_factory.mktemp("promo_world") / "world")


@pytest.fixture(scope="session")
def promo_template(promo_world: Path, tmp_path_factory) -> Path:
    """A SQLite warehouse with the world ingested and the sales and promotion tables built."""
    return build_featured_template(promo_world, tmp_path_factory.mktemp("promo_template"),
                                   PROMO_SOURCES, (*SALES_TABLES, "feat_promo_effectiveness"))


@pytest.fixture
def promo_warehouse(promo_template: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("LIFTLINE_HOME", str(tmp_path / "home"))
    engine = copy_warehouse(promo_template, tmp_path / "warehouse.db")
    yield engine
    dispose_engines()


@pytest.fixture
def fake_slack():
    fake = FakeSlack().start()
    try:
        yield fake
    finally:
        fake.stop()
