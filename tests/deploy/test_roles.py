"""The compose stack's roles do what README "Run in production" says, asked of the FAB auth
manager itself: airflow-init's script (docker/airflow_access.py) runs on a scratch SQLite
metadata database, then each role's user is checked for what it may see and change.

Runs in subprocesses: Airflow reads its configuration once per process, and the rest of the
suite runs Airflow in-process with the simple auth manager.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ACCESS = REPO / "docker" / "airflow_access.py"
AIRFLOW = Path(sys.executable).parent / "airflow"

# What each role's user may do, as the FAB auth manager answers it.
ASK = """
import json, sys
sys.path.insert(0, sys.argv[1])
from airflow.api_fastapi.auth.managers.models.resource_details import (
    DagAccessEntity, DagDetails)
from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager
from airflow_access import ADMIN, ANALYST, MANAGER

dag = DagDetails(id="ingest_extracts")
with get_application_builder() as appbuilder:
    sm = appbuilder.sm
    manager = FabAuthManager()
    manager.appbuilder = appbuilder
    answers = {}
    for role in (ANALYST, MANAGER, ADMIN):
        name = "probe-" + role.lower()
        user = sm.find_user(username=name) or sm.add_user(
            name, "Probe", role, name + "@example.com", sm.find_role(role), "probe-password")
        answers[role] = {
            "read runs": manager.is_authorized_dag(
                method="GET", access_entity=DagAccessEntity.RUN, details=dag, user=user),
            "read logs": manager.is_authorized_dag(
                method="GET", access_entity=DagAccessEntity.TASK_LOGS, details=dag, user=user),
            "trigger": manager.is_authorized_dag(
                method="POST", access_entity=DagAccessEntity.RUN, details=dag, user=user),
            "clear": manager.is_authorized_dag(
                method="PUT", access_entity=DagAccessEntity.TASK_INSTANCE, details=dag,
                user=user),
            "edit variables": manager.is_authorized_variable(method="PUT", user=user),
            "edit connections": manager.is_authorized_connection(method="PUT", user=user),
        }
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory) -> dict[str, str]:
    if not AIRFLOW.exists():
        pytest.skip(f"no airflow executable beside {sys.executable}")
    pytest.importorskip("airflow.providers.fab", reason="apache-airflow-providers-fab missing")
    home = tmp_path_factory.mktemp("fab_home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__AUTH_MANAGER":
            "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_ADMIN_USERNAME": "first-admin",
        "AIRFLOW_ADMIN_EMAIL": "admin@example.com",
        "AIRFLOW_ADMIN_PASSWORD": "first-password",
    })
    _run([str(AIRFLOW), "db", "migrate"], env)
    return env


def _run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{command[:3]} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def first_and_second_init(airflow_env) -> tuple[str, str]:
    """airflow_access.py's output on a fresh database, then on the next `docker compose up`."""
    return tuple(_run([sys.executable, str(ACCESS)], airflow_env) for _ in range(2))


@pytest.fixture(scope="module")
def answers(airflow_env, first_and_second_init) -> dict[str, dict[str, bool]]:
    out = _run([sys.executable, "-c", ASK, str(ACCESS.parent)], airflow_env)
    return json.loads(out.strip().splitlines()[-1])


def test_init_creates_the_roles_and_the_first_admin_once(first_and_second_init):
    first, second = first_and_second_init
    assert "admin 'first-admin' created" in first
    assert "admin 'first-admin' exists: left unchanged" in second
    for output in (first, second):
        roles = output.strip().splitlines()[-1]
        assert {"Analyst", "Manager", "Admin"} <= set(roles.removeprefix("roles: ").split(", "))


def test_analysts_see_runs_and_logs_but_change_nothing(answers):
    assert answers["Analyst"] == {"read runs": True, "read logs": True, "trigger": False,
                                  "clear": False, "edit variables": False,
                                  "edit connections": False}


def test_managers_trigger_clear_and_edit_variables_but_not_connections(answers):
    assert answers["Manager"] == {"read runs": True, "read logs": True, "trigger": True,
                                  "clear": True, "edit variables": True,
                                  "edit connections": False}


def test_admins_may_do_everything(answers):
    assert all(answers["Admin"].values())


def test_init_without_the_admin_settings_says_which_are_missing(airflow_env):
    env = {**airflow_env, "AIRFLOW_ADMIN_PASSWORD": ""}
    done = subprocess.run([sys.executable, str(ACCESS)], env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == (
        "AIRFLOW_ADMIN_PASSWORD not set: add to .env (see .env.example)")
