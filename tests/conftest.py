"""Shared fixtures: every `engine` test runs on SQLite and, when configured, on PostgreSQL.

PostgreSQL runs only with LIFTLINE_TEST_POSTGRES_URL set (e.g.
postgresql+psycopg://postgres@127.0.0.1:5432/test); each test then gets its own schema, selected
through the connection's search_path, so tests and concurrent runs never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import settings
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool

from liftline.warehouse import create_schema, dispose_engines, get_engine, normalize_url

# Property tests draw the same examples on every run, so CI is repeatable; run with
# HYPOTHESIS_PROFILE=explore to draw new ones (and add any failure as an @example).
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

POSTGRES_URL = os.environ.get("LIFTLINE_TEST_POSTGRES_URL", "").strip()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--services", action="store_true",
        help="also run the scenarios that start real Airflow services (scheduler, API server, "
             "Celery workers): about 10 minutes; `make test-services` and CI run them")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The scenarios under real Airflow services take longer than the rest of the suite together:
    # `make test` stays quick and says how to run them; CI runs them as a step of their own.
    if config.getoption("--services"):
        return
    skip = pytest.mark.skip(reason="starts Airflow services: run `make test-services` "
                                   "(or pytest --services)")
    for item in items:
        if "services" in item.keywords:
            item.add_marker(skip)

DIALECTS = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(
                not POSTGRES_URL, reason="set LIFTLINE_TEST_POSTGRES_URL to run PostgreSQL tests"
            ),
        ],
    ),
]


@pytest.fixture(params=DIALECTS)
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    """An empty warehouse database (no tables) on each dialect."""
    if request.param == "sqlite":
        yield get_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
        dispose_engines()
        return
    base = normalize_url(POSTGRES_URL)
    schema = f"liftline_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, poolclass=NullPool)
    quoted = admin.dialect.identifier_preparer.quote_identifier(schema)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {quoted}")
    try:
        yield get_engine(base.update_query_dict({"options": f"-csearch_path={schema}"}))
    finally:
        dispose_engines()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {quoted} CASCADE")
        admin.dispose()


@pytest.fixture
def warehouse(engine: Engine) -> Engine:
    """`engine` with the Liftline schema created."""
    create_schema(engine)
    return engine


@pytest.fixture(autouse=True)
def _registry_per_test(tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Model artifacts of each test go to a folder of its own, never to ./.liftline."""
    monkeypatch.setenv("LIFTLINE_REGISTRY_URL", str(tmp_path_factory.mktemp("registry")))
