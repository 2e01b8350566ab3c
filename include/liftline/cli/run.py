"""`liftline run`: the pipeline's DAGs, in dependency order, through Airflow's `dag.test()`.

The same DAG files run here and under a scheduler. Here each DAG runs once, in this process,
without scheduler or executor; `dag.test()` does not trigger asset-scheduled consumers, so the
order is `CHAIN`. A DAG of the chain that is not in the DAGs folder (yet) is skipped with a
message, so the chain can be declared ahead of its DAGs.

Airflow's state lives in `$LIFTLINE_HOME/airflow`: a SQLite metadata DB (created on first use),
`airflow.cfg` and run logs. The runner always uses it, whatever `AIRFLOW_HOME` says, so local runs
never land in a production metadata DB and always run this checkout's `dags/` (or
`LIFTLINE_DAGS_FOLDER`). Connections still come from `AIRFLOW_CONN_*` environment variables
(e.g. `AIRFLOW_CONN_SLACK_API_DEFAULT`) or from that DB.

Differences from a scheduled run, on purpose:
- `settle_seconds` defaults to 0: `liftline run` means "process what is in landing/ now";
  the scheduled DAG keeps 60 s for files still being written.
- Task retries are off: a failure is reported at once (rerun the command) instead of after
  minutes of retry delays.
- Airflow's logging and the tasks' output go to `$LIFTLINE_HOME/airflow/logs/run-<time>-<pid>.log`
  (one file per run, even for runs started together); `verbose` also shows the tasks' own
  output (prints, errors) on the terminal.

Runs started together on one home: the first creates or upgrades the metadata DB while the
others wait for it (`setup.lock`, with a line saying for whom they wait); the ingest of each
source is claimed on the warehouse (liftline.ingest), so the runs never ingest a file twice.

Before Airflow starts, the warehouse must answer a query and there must be something to run on
(a file in landing/ or earlier data): otherwise a one-line setup error (exit 2), not five DAG
"successes" over nothing. After the chain, a summary read back from the warehouse by this run's
DAG run ids (`summary.py`) says what happened, problems first.

The only library module that imports Airflow, and only inside functions after the environment is
set: Airflow reads its configuration once, when first imported.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from liftline import settings
from liftline.warehouse import file_lock, holder_name

from .preflight import connect_warehouse, require_something_to_run
from .summary import summarize_run

# The pipeline's DAGs in dependency order; later stages append theirs here.
CHAIN: tuple[str, ...] = ("ingest_extracts", "build_features", "train_models", "score_models",
                          "monitor_models")

DAGS_FOLDER_ENV = "LIFTLINE_DAGS_FOLDER"

# An Airflow log record below error level, as written to the terminal stream (not task output).
_AIRFLOW_RECORD = re.compile(rb"^\d{4}-\d\d-\d\dT[\d:.]+Z \[(debug|info|warning)\s*\]")


class RunError(Exception):
    """Why the run stopped, in one line; `status` is the exit status (2: setup, 1: a DAG failed)."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


@dataclass
class DagOutcome:
    dag_id: str
    state: str  # success | failed | skipped
    seconds: float | None = None
    failed_task: str | None = None
    reason: str | None = None
    run_id: str | None = None  # the DAG run's id: every warehouse row it wrote carries it

    def line(self) -> str:
        took = "-" if self.seconds is None else f"{self.seconds:.1f}s"
        text = f"{self.dag_id:<16} {self.state:<8} {took:>7}"
        return text + ("  (not in the DAGs folder)" if self.state == "skipped" else "")


@dataclass(frozen=True)
class AirflowPaths:
    home: Path

    @property
    def db(self) -> Path:
        return self.home / "airflow.db"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def marker(self) -> Path:
        return self.home / ".migrated"

    @property
    def setup_lock(self) -> Path:
        """Held while the metadata DB is created or upgraded: a second run waits for it."""
        return self.home / "setup.lock"


def run_log_path(paths: AirflowPaths) -> Path:
    """A log file of this run's own: two runs started in the same second never share one."""
    return paths.logs / f"run-{datetime.now():%Y%m%dT%H%M%S.%f}-{os.getpid()}.log"


def run_pipeline(
    *,
    as_of: date | None = None,
    settle_seconds: float = 0.0,
    full_refresh: bool = False,
    models: Sequence[str] = (),
    verbose: bool = False,
    chain: Sequence[str] = CHAIN,
    out: IO[str] | None = None,
    dag_conf: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[DagOutcome]:
    """Run `chain` in order, printing one line per DAG and then the run's summary to `out`.

    `dag_conf` changes the run conf of single DAGs, e.g. `{"train_models": {"models": [...]}}`
    trains only those families while the rest of the chain covers them all.

    SetupError (preflight) before anything starts when the warehouse cannot be reached or there
    is nothing to run on; RunError when a DAG fails (after the summary of what did happen).
    """
    out = out or sys.stdout
    engine = connect_warehouse()
    require_something_to_run(engine, settings.liftline_home(), settle_seconds)
    dags_folder = find_dags_folder()
    paths = AirflowPaths(settings.liftline_home() / "airflow")
    configure_airflow(paths, dags_folder)
    paths.logs.mkdir(parents=True, exist_ok=True)
    log_path = run_log_path(paths)
    # The params every DAG takes (dags/liftline_airflow/params.py); `models` empty = all.
    conf = {"as_of": as_of.isoformat() if as_of else None, "settle_seconds": settle_seconds,
            "full_refresh": full_refresh, "models": list(models)}

    outcomes: list[DagOutcome] = []
    with airflow_output_to(log_path, verbose, out) as terminal:
        seconds = ensure_migrated(paths, lambda line: _say(terminal, line))
        if seconds is not None:
            _say(terminal, f"airflow metadata DB created in {seconds:.1f}s: {paths.db}")
        dags = load_dags(dags_folder, log_path)
        if not any(dag_id in dags for dag_id in chain):
            raise RunError(f"none of the pipeline's DAGs ({', '.join(chain)}) is in {dags_folder}: "
                           f"set {DAGS_FOLDER_ENV} to the project's dags/ folder", status=2)
        listener = _task_listener(terminal if _is_tty(terminal) and not verbose else None)
        try:
            for dag_id in chain:
                dag_run_conf = {**conf, **(dag_conf or {}).get(dag_id, {})}
                outcome = run_dag(dags[dag_id], dag_run_conf, listener) if dag_id in dags else (
                    DagOutcome(dag_id, "skipped"))
                outcomes.append(outcome)
                listener.clear_progress()
                _say(terminal, outcome.line())
                if outcome.state == "failed":
                    break
        finally:
            # Its terminal closes with this run: a later run in the process must not call it.
            listener.remove()
        _say(terminal, "\n" + summary_text(engine, outcomes, log_path))
    failed = next((o for o in outcomes if o.state == "failed"), None)
    if failed:
        raise RunError(f"{failed.dag_id} failed at task {failed.failed_task}"
                       f"{': ' + failed.reason if failed.reason else ''} (see {log_path})")
    return outcomes


def summary_text(engine: Engine, outcomes: Sequence[DagOutcome], log_path: Path) -> str:
    """The run's summary; if the warehouse cannot be read now, a line saying so instead."""
    run_ids = [o.run_id for o in outcomes if o.run_id]
    failed = [o.dag_id for o in outcomes if o.state == "failed"]
    try:
        return summarize_run(engine, run_ids, log_path=log_path, home=settings.liftline_home(),
                             failed_dags=failed).text()
    except SQLAlchemyError as exc:  # the DAG outcomes above stand; the details go to the log
        traceback.print_exc()
        return (f"summary of this run: unavailable, the warehouse could not be read "
                f"({_one_line(exc)}); see {log_path}")


def _say(stream: IO[str], line: str) -> None:
    stream.write(line + "\n")
    stream.flush()


def find_dags_folder() -> Path:
    """LIFTLINE_DAGS_FOLDER, else the checkout's dags/ (next to include/liftline)."""
    configured = os.environ.get(DAGS_FOLDER_ENV, "").strip()
    if configured:
        folder = Path(configured).expanduser().resolve()
    else:
        folder = settings.project_root() / "dags"
    if not folder.is_dir():
        raise RunError(f"DAGs folder {folder} not found: set {DAGS_FOLDER_ENV} to the project's "
                       "dags/ folder", status=2)
    return folder


def configure_airflow(paths: AirflowPaths, dags_folder: Path) -> None:
    """Point Airflow at $LIFTLINE_HOME/airflow and `dags_folder`; must precede `import airflow`."""
    plugins = dags_folder.parent / "plugins"
    env = {
        "AIRFLOW_HOME": str(paths.home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins if plugins.is_dir() else paths.home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{paths.db}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(paths.logs),
        # The default bundle, whatever the user's config says: dag.test() syncs it to the DB.
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps([{
            "name": "dags-folder",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {},
        }]),
    }
    if "airflow" in sys.modules and os.environ.get("AIRFLOW_HOME") != env["AIRFLOW_HOME"]:
        raise RunError("Airflow was already imported in this process with another configuration: "
                       "run `liftline run` in a fresh process", status=2)
    paths.home.mkdir(parents=True, exist_ok=True)
    os.environ.update(env)


@contextmanager
def airflow_output_to(log_path: Path, verbose: bool, out: IO[str]) -> Iterator[IO[str]]:
    """Send everything written to file descriptors 1 and 2 to `log_path`; yield the terminal.

    Airflow logs through structlog straight to the process's stdout and a task's prints land
    there too, so redirecting the descriptors is the one switch that catches all of it. With
    `verbose`, lines that are not Airflow records below error level are echoed to `out`.
    """
    for stream in (sys.stdout, sys.stderr, out):
        stream.flush()
    saved = os.dup(1), os.dup(2)
    # `out` may itself be fd 1: write the runner's lines through a copy made before redirecting.
    terminal = os.fdopen(os.dup(out.fileno()), "w", buffering=1) if _has_fd(out) else out
    log = open(log_path, "ab")  # noqa: SIM115 - closed in finally, after the descriptors
    tee = _Tee(log, terminal) if verbose else None
    target = tee.write_fd if tee else log.fileno()
    os.dup2(target, 1)
    os.dup2(target, 2)
    try:
        yield terminal
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        if tee:
            tee.close()
        log.close()
        if terminal is not out:
            terminal.close()


def _has_fd(stream: IO[str]) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


class _Tee:
    """A pipe whose lines go to the log, and to the terminal unless they are Airflow chatter."""

    def __init__(self, log: IO[bytes], terminal: IO[str]):
        read_fd, self.write_fd = os.pipe()
        self._reader = os.fdopen(read_fd, "rb")
        self._log, self._terminal = log, terminal
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        for line in self._reader:
            self._log.write(line)
            if not _AIRFLOW_RECORD.match(line):
                self._terminal.write(line.decode(errors="replace"))
                self._terminal.flush()

    def close(self) -> None:
        os.close(self.write_fd)  # fds 1 and 2 were restored: this was the last writer
        self._thread.join()
        self._reader.close()
        self._log.flush()


def ensure_migrated(paths: AirflowPaths, log: Callable[[str], None]) -> float | None:
    """Create or upgrade the metadata DB once per Airflow version; seconds taken, None if current.

    A marker (Airflow version + DB path) avoids asking alembic on every run. Runs started
    together take turns under `setup.lock` (nothing locks Airflow's own migration: a second
    run creating the same tables would fail); a run that waited finds the marker current.
    """
    from airflow import __version__

    stamp = f"{__version__} {paths.db}"
    if _migrated(paths, stamp):
        return None
    from airflow.utils.db import upgradedb

    with file_lock(paths.setup_lock, "Airflow's metadata DB setup", holder_name("liftline run"),
                   log):
        if _migrated(paths, stamp):
            return None
        start = time.perf_counter()
        upgradedb()  # creates a new DB from the models, or applies pending migrations
        paths.marker.write_text(stamp + "\n")
        return time.perf_counter() - start


def _migrated(paths: AirflowPaths, stamp: str) -> bool:
    return (paths.db.exists() and paths.marker.exists()
            and paths.marker.read_text().strip() == stamp)


def load_dags(dags_folder: Path, log_path: Path) -> dict:
    """The DAGs in `dags_folder` by id; RunError naming the first file that does not import."""
    # BundleDagBag (not DagBag) puts the folder on sys.path, as Airflow 3's DAG processor and
    # workers do, so DAG files can import the shared `liftline_airflow` package beside them.
    from airflow.dag_processing.dagbag import BundleDagBag

    bag = BundleDagBag(dag_folder=dags_folder, bundle_path=dags_folder, bundle_name="dags-folder")
    if bag.import_errors:
        file, error = sorted(bag.import_errors.items())[0]
        print(f"import error in {file}:\n{error}", file=sys.stderr)  # into the run log
        last = error.strip().splitlines()[-1] if error.strip() else "unknown error"
        raise RunError(f"{file} does not import: {last} (see {log_path})")
    return bag.dags


def run_dag(dag, conf: dict, listener) -> DagOutcome:  # noqa: ANN001 - an airflow.sdk DAG
    """One `dag.test()` run; its outcome with the first failed task and its error."""
    for task in dag.tasks:
        task.retries = 0
    listener.failures.clear()
    start = time.perf_counter()
    try:
        # A logical date of its own per run: dag.test() replaces an earlier run with the same
        # logical date, and every run with none, which would wipe the run history in the UI.
        run = dag.test(run_conf=conf, logical_date=datetime.now(UTC))
    except Exception as exc:  # Airflow itself broke: the traceback goes to the run log
        traceback.print_exc()
        return DagOutcome(dag.dag_id, "failed", time.perf_counter() - start,
                          failed_task="(airflow)", reason=_one_line(exc))
    seconds = time.perf_counter() - start
    if run.state == "success":
        return DagOutcome(dag.dag_id, "success", seconds, run_id=run.run_id)
    task, reason = listener.failures[0] if listener.failures else (_first_failed(run), None)
    return DagOutcome(dag.dag_id, "failed", seconds, failed_task=task, reason=reason,
                      run_id=run.run_id)


def _task_listener(progress: IO[str] | None):  # noqa: ANN202 - built lazily: hookimpl is Airflow's
    """An Airflow listener recording failed task instances in order, with their error.

    With a `progress` terminal it also keeps one status line up to date as tasks finish, so a
    long ingest shows that it is moving (only on a terminal: logs and pipes get one line per DAG).
    """
    from airflow.listeners import hookimpl
    from airflow.sdk.listener import get_listener_manager

    class TaskListener:
        def __init__(self) -> None:
            self.failures: list[tuple[str, str | None]] = []
            self.finished = 0

        @hookimpl
        def on_task_instance_success(self, previous_state, task_instance) -> None:  # noqa: ANN001
            self.finished += 1
            if progress is not None:
                label = _task_label(task_instance.task_id, task_instance.map_index,
                                    getattr(task_instance, "rendered_map_index", None))
                progress.write(f"\r  {task_instance.dag_id}: {self.finished} task(s) done, "
                               f"last {label}\x1b[K")
                progress.flush()

        @hookimpl
        def on_task_instance_failed(self, previous_state, task_instance, error) -> None:  # noqa: ANN001
            label = _task_label(task_instance.task_id, task_instance.map_index,
                                getattr(task_instance, "rendered_map_index", None))
            self.failures.append((label, _one_line(error) if error else None))

        def clear_progress(self) -> None:
            self.finished = 0
            if progress is not None:
                progress.write("\r\x1b[K")
                progress.flush()

        def remove(self) -> None:
            manager = get_listener_manager()
            if manager.pm.is_registered(self):
                manager.pm.unregister(self)

    listener = TaskListener()
    get_listener_manager().add_listener(listener)
    return listener


def _is_tty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _first_failed(run) -> str:  # noqa: ANN001 - a DagRun
    failed = [ti for ti in run.get_task_instances() if ti.state == "failed"]
    if not failed:
        return "(none: the run did not finish)"
    ti = min(failed, key=lambda t: t.end_date or datetime.max.replace(tzinfo=UTC))
    return _task_label(ti.task_id, ti.map_index, ti.rendered_map_index)


def _task_label(task_id: str, map_index: int | None, rendered: str | None) -> str:
    if map_index is None or map_index < 0:
        return task_id
    return f"{task_id}[{rendered or map_index}]"


def _one_line(error: BaseException | str) -> str:
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
    first = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return first if len(first) <= 240 else first[:237] + "..."
