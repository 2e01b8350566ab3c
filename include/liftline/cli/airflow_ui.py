"""`liftline airflow`: the Airflow UI on this machine, with the project's DAGs and plugins.

Starts `airflow standalone` (api-server, scheduler, DAG processor and triggerer in one command,
LocalExecutor) on the same Airflow home and metadata database as `liftline run`
($LIFTLINE_HOME/airflow), so the runs `liftline run` and `liftline demo` made are in the UI
beside the scheduled ones. Airflow's own output goes to a log file; the terminal gets the URL,
the login and where the report page is, then waits until Ctrl-C stops every process it started.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import suppress
from pathlib import Path
from typing import IO

from liftline import settings

from .run import AirflowPaths, RunError, configure_airflow, find_dags_folder

USER = "admin"
READY_TIMEOUT_S = 300  # a first start migrates the metadata database: a minute or two
TAIL_LINES = 30
LOG_SERVER_PORTS = (8793, 8794)  # the scheduler's and the triggerer's, by default


def serve_airflow(port: int, out: IO[str] = sys.stdout) -> int:
    """Run Airflow standalone until interrupted; the exit status of the command."""
    airflow = Path(sys.executable).with_name("airflow")
    if not airflow.exists():
        raise RunError(f"no airflow executable beside {sys.executable}: run `make install`",
                       status=2)
    require_free_port(port)
    paths = AirflowPaths(settings.liftline_home() / "airflow")
    configure_airflow(paths, find_dags_folder())
    env = standalone_environment(port)
    paths.logs.mkdir(parents=True, exist_ok=True)
    log_path = paths.logs / "standalone.log"
    # A `kill` (or a service manager's stop) must stop Airflow too: make it unwind like Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    out.write(f"starting Airflow on port {port} (its output: {log_path}) ...\n")
    out.flush()
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([str(airflow), "standalone"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        if not wait_until_serving(proc, port):
            out.write(f"Airflow did not start; the last lines of {log_path}:\n"
                      f"{tail(log_path)}\n")
            return 1
        out.write(ready_text(port, paths.home) + "\n")
        out.flush()
        return proc.wait()
    except KeyboardInterrupt:
        out.write("\nstopping Airflow ...\n")
        return 0
    finally:
        stop(proc)


def require_free_port(port: int) -> None:
    """A one-line error now rather than an api-server that dies among Airflow's logs. Airflow's
    own log servers take 8793 and 8794."""
    if port in LOG_SERVER_PORTS:
        raise RunError(f"port {port} is Airflow's log server port: choose another --port",
                       status=2)
    with socket.socket() as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            raise RunError(f"port {port} is in use: stop what uses it or pass --port",
                           status=2) from None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def standalone_environment(port: int) -> dict[str, str]:
    """This process's environment (configure_airflow has set Airflow's part) plus the port;
    LIFTLINE_HOME made absolute, so the tasks see the same home whatever their directory."""
    base = f"http://localhost:{port}"
    return {**os.environ,
            "LIFTLINE_HOME": str(settings.liftline_home()),
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": base,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def wait_until_serving(proc: subprocess.Popen, port: int) -> bool:
    """True once the api-server answers its health check; False if Airflow exits or times out."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        health = f"http://127.0.0.1:{port}/api/v2/monitor/health"
        with (suppress(urllib.error.URLError, ConnectionError, TimeoutError),
              urllib.request.urlopen(health, timeout=5) as response):
            if response.status == 200:
                return True
        time.sleep(2)
    return False


def ready_text(port: int, home: Path) -> str:
    password_file = home / "simple_auth_manager_passwords.json.generated"
    return "\n".join([
        f"Airflow UI:      http://localhost:{port}",
        f"log in as:       {USER}, password: {admin_password(password_file)}",
        f"Liftline report: http://localhost:{port}/liftline/latest "
        "(also under Plugins > Liftline report in the UI)",
        "Ctrl-C stops Airflow.",
    ])


def admin_password(password_file: Path) -> str:
    """The password Airflow generated for the admin user (kept in its home, not printed to
    any log by Liftline), or where to find it."""
    with suppress(OSError, ValueError):
        return str(json.loads(password_file.read_text())[USER])
    return f"see {password_file}"


def tail(path: Path, lines: int = TAIL_LINES) -> str:
    with suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "(no output)"


def stop(proc: subprocess.Popen) -> None:
    """End Airflow and every process it started (its own process group)."""
    for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        if proc.poll() is not None:
            return
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait_s)
