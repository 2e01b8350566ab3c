"""Fixtures for DAG tests.

Airflow reads its configuration once, on first import, so in-process tests (the DagBag) get an
Airflow home of their own before anything imports airflow; pipeline runs go through the
`liftline run` command in a subprocess, as a user starts them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from liftline import settings

DAGS = settings.project_root() / "dags"


@pytest.fixture(scope="session")
def dagbag(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """The DAGs folder parsed as Airflow 3's DAG processor parses it."""
    home = tmp_path_factory.mktemp("airflow_home")
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    # BundleDagBag puts the folder on sys.path as the DAG processor and workers do, so DAGs can
    # import the liftline_airflow package beside them (a plain DagBag does not).
    from airflow.dag_processing.dagbag import BundleDagBag

    yield BundleDagBag(dag_folder=DAGS, bundle_path=DAGS, bundle_name="dags-folder")
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 14-day small world, shared by the scenarios under real Airflow services."""
    from liftline.synth import generate

    out = tmp_path_factory.mktemp("world") / "w"
    generate(out, scale="small", days=14, progress=False)
    return out


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory, world: Path) -> Path:
    """The LIFTLINE_HOME of `liftline run` on `world`'s files, in process on SQLite: what every
    scenario under real Airflow services must also leave."""
    from airflow_procs import run_in_process

    home = tmp_path_factory.mktemp("reference")
    run_in_process(world, home)
    return home
