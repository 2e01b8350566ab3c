"""The production stack's files agree with the project, checked without a Docker engine.

docker-compose.yaml is read as YAML and held against requirements.txt, the Dockerfile, the
repository's folders, README "Run in production", .env.example and Airflow's own list of
configuration options, so a change on either side that breaks the stack fails here first.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yaml"

AIRFLOW_SERVICES = {"airflow-init", "airflow-apiserver", "airflow-scheduler",
                    "airflow-dag-processor", "airflow-triggerer", "airflow-worker"}
# ${NAME}, ${NAME:-default}, ${NAME:?message}: compose's interpolation forms.
VARIABLE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET|_KEY$|BASIC_AUTH")
CREDENTIALS_IN_URL = re.compile(r"://(?P<user>[^:/@\s]*):(?P<password>[^@/\s]*)@")
PLACEHOLDER = "change-me"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict]:
    return compose["services"]


@pytest.fixture(scope="module")
def airflow_version() -> str:
    pins = re.findall(r"^apache-airflow==(\S+)\s*$", (REPO / "requirements.txt").read_text(),
                      flags=re.MULTILINE)
    assert len(pins) == 1, "requirements.txt must pin apache-airflow exactly once"
    return pins[0]


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the KEY=value form
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def _defaults_applied(text: str) -> str:
    """`text` as compose would expand it with no variable set (defaults only)."""
    return VARIABLE.sub(lambda m: m["arg"] if m["op"] in (":-", "-") else "", text)


def _only_references(text: str) -> bool:
    """True when `text` holds nothing but ${VAR} references whose default, if any, is empty."""
    return VARIABLE.sub(
        lambda m: "" if m["op"] in (None, ":?", "?") or not m["arg"] else "\0", text).strip() == ""


def _strings(node) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return [node] if isinstance(node, str) else []


def _env_example() -> dict[str, str]:
    pairs = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip().strip('"')
    return pairs


def _production_section() -> str:
    readme = (REPO / "README.md").read_text()
    match = re.search(r"^## Run in production\n(.*?)(?=^## )", readme, re.DOTALL | re.MULTILINE)
    assert match, 'README.md has no "## Run in production" section'
    return match[1]


# --- the image -----------------------------------------------------------------------------

def test_dockerfile_extends_the_official_image_of_the_pinned_airflow(airflow_version):
    froms = re.findall(r"^FROM\s+(\S+)", (REPO / "Dockerfile").read_text(), flags=re.MULTILINE)
    assert froms == [f"apache/airflow:{airflow_version}-python3.11"]


def test_compose_image_is_tagged_with_the_pinned_airflow_and_built_here(compose, airflow_version):
    common = compose["x-airflow-common"]
    assert _defaults_applied(common["image"]).endswith(f":{airflow_version}-python3.11")
    assert common["build"]["context"] == "."


def test_dockerfile_installs_the_requirements_and_the_package():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"pip install .*\"apache-airflow==\$\{AIRFLOW_VERSION\}\"", dockerfile)
    assert "-r /tmp/liftline-requirements.txt" in dockerfile
    assert "pip install --no-cache-dir --no-deps -e ." in dockerfile
    # Importable for every user the containers run as, root (airflow-init) included.
    assert re.search(r"^ENV PYTHONPATH=/opt/airflow/include\b", dockerfile, flags=re.MULTILINE)
    # pip runs as the image's airflow user, as the official image requires.
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.MULTILINE)
    last_pip = dockerfile.rindex("pip install")
    assert users and dockerfile.rindex("USER airflow") < last_pip
    assert dockerfile.rfind("USER root") < dockerfile.rindex("USER airflow")


# --- the services ----------------------------------------------------------------------------

def test_the_stack_has_every_role(services):
    assert AIRFLOW_SERVICES | {"postgres", "redis", "flower"} <= set(services)
    assert services["flower"]["profiles"] == ["flower"]


def test_every_service_has_a_healthcheck(services):
    for name, service in services.items():
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: {check['test']}"


def test_airflow_services_start_after_init_and_healthy_dependencies(services):
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        needs = services[name]["depends_on"]
        assert needs["airflow-init"]["condition"] == "service_completed_successfully", name
        assert needs["redis"]["condition"] == needs["postgres"]["condition"] == "service_healthy"
    # Workers run tasks through the Task Execution API: it must be up first.
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == \
        "service_healthy"


def test_workers_can_be_scaled(services):
    worker = services["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert worker["command"] == "celery worker"


def test_executor_is_celery_with_redis_broker_and_postgres_results(services):
    for name in AIRFLOW_SERVICES:
        env = _environment(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
        assert "@redis:6379/" in env["AIRFLOW__CELERY__BROKER_URL"]
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://")
        assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith(".FabAuthManager")


def test_execution_api_points_at_the_api_server_service(services):
    url = _environment(services["airflow-worker"])["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
    host, port = re.match(r"http://([^:/]+):(\d+)/execution/$", url).groups()
    assert host in services
    assert any(mapping.endswith(f":{port}") for mapping in services[host]["ports"])


def test_liftline_reads_the_warehouse_database_the_init_script_creates(services):
    env = _environment(services["airflow-worker"])
    url = _defaults_applied(env["LIFTLINE_WAREHOUSE_URL"])
    assert url.startswith("postgresql+psycopg://liftline:@postgres:5432/liftline")
    postgres_env = _environment(services["postgres"])
    assert _defaults_applied(postgres_env["LIFTLINE_DB_NAME"]) == "liftline"
    init = (REPO / "docker/postgres/01-liftline-databases.sh").read_text()
    assert "LIFTLINE_DB_NAME" in init and "AIRFLOW_DB_NAME" in init
    assert env["LIFTLINE_HOME"] == "/opt/liftline"


def test_bind_mounted_paths_exist_or_are_made_by_the_documented_steps(services):
    documented = {Path(p).as_posix().removeprefix("./") for line in
                  re.findall(r"^\s*mkdir -p (.+)$", _production_section(), flags=re.MULTILINE)
                  for p in line.split()}
    binds = set()
    for service in services.values():
        for volume in service.get("volumes", []):
            source = _defaults_applied(volume if isinstance(volume, str) else volume["source"])
            source = source.split(":")[0]
            if source.startswith((".", "/")):
                binds.add(Path(source).as_posix().removeprefix("./"))
    assert {"dags", "plugins", "include", "models", "expectations", "landing"} <= binds
    for source in binds:
        assert (REPO / source).exists() or source in documented, (
            f"{source} is bind-mounted but neither in the repository nor made by a "
            "`mkdir -p` in README 'Run in production'")


def test_named_volumes_are_declared(compose, services):
    used = {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])
            if isinstance(v, str) and not v.startswith((".", "/", "$"))}
    assert used == set(compose["volumes"])


# --- secrets -------------------------------------------------------------------------------

def test_no_secret_is_written_in_the_compose_file(compose):
    for service_name, service in compose["services"].items():
        for key, value in _environment(service).items():
            if SECRET_NAME.search(key):
                assert _only_references(value), f"{service_name}.{key} holds a literal"
    for text in _strings(compose):
        for match in CREDENTIALS_IN_URL.finditer(text):
            assert _only_references(match["password"]), f"a password literal in {text}"
        for password in re.findall(r'"password":\s*"([^"]*)"', text):  # connections as JSON
            assert _only_references(password), f"a password literal in {text}"
    for name, service in compose["services"].items():
        command = service.get("command")
        if isinstance(command, list) and "--requirepass" in command:
            assert _only_references(command[command.index("--requirepass") + 1]), name


def test_slack_token_comes_from_env(services):
    conn = _environment(services["airflow-worker"])["AIRFLOW_CONN_SLACK_API_DEFAULT"]
    assert json.loads(_defaults_applied(conn)) == {"conn_type": "slack", "password": ""}
    assert "${SLACK_BOT_TOKEN" in conn


def test_env_example_holds_only_placeholders_and_every_required_variable():
    example = _env_example()
    for key, value in example.items():
        if SECRET_NAME.search(key):
            assert value == "" or PLACEHOLDER in value, f".env.example: {key} is not a placeholder"
    required = {m["name"] for m in VARIABLE.finditer(COMPOSE.read_text()) if m["op"] == ":?"}
    assert required <= set(example), f"not in .env.example: {sorted(required - set(example))}"
    used = {m["name"] for m in VARIABLE.finditer(COMPOSE.read_text())}
    assert set(example) - {"COMPOSE_PROFILES"} <= used, "unused .env.example entries"


def test_env_is_never_committed():
    ignored = (REPO / ".gitignore").read_text().splitlines()
    assert ".env" in ignored
    assert ".env" in (REPO / ".dockerignore").read_text().splitlines()


def test_init_refuses_placeholders_before_touching_anything():
    script = (REPO / "docker/airflow-init.sh").read_text()
    assert script.index(PLACEHOLDER) < script.index("airflow db migrate")
    assert script.index("airflow db migrate") < script.index("airflow_access.py")
    assert "create_schema" in script


# --- Airflow's configuration ------------------------------------------------------------------

def _known_options(tmp_path: Path) -> dict[str, list[str]]:
    """Airflow's configuration description (core and installed providers), in a fresh process
    so this test's Airflow home and the suite's in-process Airflow stay apart."""
    code = ("import json; from airflow.configuration import conf; "
            "print(json.dumps({s: sorted(d.get('options', {})) "
            "for s, d in conf.configuration_description.items()}))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env["AIRFLOW_HOME"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_airflow_option_set_exists(services, tmp_path):
    known = _known_options(tmp_path)
    assert "celery" in known and "fab" in known, "the celery and fab providers are not installed"
    for name, service in services.items():
        for key in _environment(service):
            if key.startswith("AIRFLOW__"):
                section, _, option = key.removeprefix("AIRFLOW__").lower().partition("__")
                assert option in known.get(section, []), f"{name}: {key} is no Airflow option"


LOAD_STACK_CLASSES = """
from importlib import import_module
from airflow.configuration import conf
from airflow.executors.executor_loader import ExecutorLoader
print([type(executor).__name__ for executor in ExecutorLoader.init_executors()])
module, _, name = conf.get("core", "auth_manager").rpartition(".")
print(getattr(import_module(module), name).__name__)
# What the workers and their health check load: the Celery app, its result backend included.
from airflow.providers.celery.executors.celery_executor import app
print(app.main)
"""


def test_the_executor_and_auth_manager_the_stack_names_load(services, tmp_path):
    """The installed set (requirements.txt) can run what the compose file asks for: a provider
    that no longer imports with a newer dependency fails here, not in every container."""
    stack = _environment(services["airflow-worker"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({"AIRFLOW_HOME": str(tmp_path),
                "AIRFLOW__CORE__EXECUTOR": stack["AIRFLOW__CORE__EXECUTOR"],
                "AIRFLOW__CORE__AUTH_MANAGER": stack["AIRFLOW__CORE__AUTH_MANAGER"]})
    done = subprocess.run([sys.executable, "-c", LOAD_STACK_CLASSES], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = done.stdout.splitlines()  # Airflow's warnings go to stdout as well
    for line in ("['CeleryExecutor']", "FabAuthManager",
                 "airflow.providers.celery.executors.celery_executor"):
        assert line in printed, done.stdout[-3000:]


# --- the real thing, where the docker CLI has compose ------------------------------------------

def test_docker_compose_accepts_the_file():
    docker = shutil.which("docker")
    if not docker or subprocess.run([docker, "compose", "version"], capture_output=True,
                                    timeout=30).returncode != 0:
        pytest.skip("no `docker compose` here (the engine itself is not needed)")
    for profiles in ([], ["--profile", "flower", "--profile", "cli"]):
        done = subprocess.run([docker, "compose", "--env-file", ".env.example", *profiles,
                               "config", "-q"], cwd=REPO, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
