"""Fixtures: a short synthetic world ingested into a warehouse (SQLite template, PostgreSQL)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from feature_helpers import WORLD_DAYS, day, deliver_world, ingest_all, make_world
from sqlalchemy import Engine

from liftline.warehouse import create_schema, dispose_engines, get_engine


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> Path:
    """The small world's first 150 days as extracts, with its truth."""
    return make_world(tmp_path_factory.mktemp("world") / "world")


@pytest.fixture(scope="session")
def ingested_template(world: Path, tmp_path_factory) -> Path:
    """A SQLite warehouse file holding the world ingested (copied, never used directly)."""
    home = tmp_path_factory.mktemp("template_home")
    path = home / "warehouse.db"
    engine = get_engine(f"sqlite:///{path}")
    create_schema(engine)
    deliver_world(world, home)
    ingest_all(home, engine)
    dispose_engines()
    return path


@pytest.fixture
def ingested(ingested_template: Path, tmp_path: Path) -> Engine:
    """A fresh SQLite warehouse with the world ingested and no features built."""
    path = tmp_path / "warehouse.db"
    shutil.copyfile(ingested_template, path)
    yield get_engine(f"sqlite:///{path}")
    dispose_engines()


@pytest.fixture
def ingested_any(warehouse: Engine, world: Path, tmp_path: Path) -> Engine:
    """The world ingested into `warehouse` (SQLite and, when configured, PostgreSQL)."""
    home = tmp_path / "home"
    deliver_world(world, home)
    ingest_all(home, warehouse)
    return warehouse


@pytest.fixture(scope="module")
def next_day(tmp_path_factory) -> Path:
    """The day after the world, delivered as a day-by-day pipeline would get it."""
    return make_world(tmp_path_factory.mktemp("next") / "world", days=1, start=day(WORLD_DAYS))
