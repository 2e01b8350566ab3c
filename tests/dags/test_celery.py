"""The DAGs distributed over two Celery workers, as the compose stack runs them, on loopback.

The API server, scheduler, DAG processor and two Celery workers (one machine, two names) run
with the CeleryExecutor, a Redis broker, and PostgreSQL for both Airflow's metadata (and Celery's
results) and the Liftline warehouse, each a fresh database dropped afterwards. A 14-day small
world lands in landing/, then the DAGs are unpaused and left to their schedules: ingest's clock
picks the delivery up (its latest tick runs at once), the rest follows on Assets (train_models
and monitor_models also run their own latest tick, on what is there). The process harness
(tests/airflow_procs.py) is the LocalExecutor scenario's (test_scheduler.py).

It checks that mapped tasks ran on both workers (the task instances' hostnames; every task on
this scenario's queue), that every DAG run succeeded, and that the warehouse holds what
`liftline run` leaves in process on SQLite: the same rows, floats within
airflow_procs.FLOAT_REL_TOL / FLOAT_ABS_TOL. Every process is stopped by its process group in a
`finally`. Skips only where Redis or PostgreSQL do not answer on loopback.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from dataclasses import dataclass

import pytest
from airflow_procs import (
    AIRFLOW,
    CORE_SERVICES,
    FLOAT_ABS_TOL,
    FLOAT_REL_TOL,
    celery_environment,
    celery_worker,
    deliver_then_deploy,
    describe,
    first_difference,
    forget_queue,
    new_stack,
    postgres_base_url,
    postgres_database,
    redis_answers,
    redis_url,
    snapshot,
)

pytestmark = [pytest.mark.slow, pytest.mark.services, pytest.mark.postgres]

TIMEOUT_S = 1200  # for the whole scenario: about 5 minutes on 2 idle cores, 2-3x that when busy
WORKERS = ("worker-a", "worker-b")


@dataclass
class Distributed:
    runs: list[dict]  # every DAG run, oldest first
    tasks: dict[str, dict[str, dict]]  # run id + dag id -> task label -> task instance
    queue: str
    warehouse: dict[str, list[tuple]]  # snapshot() of the PostgreSQL warehouse
    pids: list[int]  # of every process the scenario started
    seconds: float


@pytest.fixture(scope="module")
def distributed(tmp_path_factory, world) -> Distributed:
    if not AIRFLOW.exists():
        pytest.skip(f"no airflow executable beside {sys.executable}")
    if not postgres_base_url():
        pytest.skip("set LIFTLINE_TEST_POSTGRES_URL to run the Celery scenario")
    broker = redis_url()
    if why := redis_answers(broker):
        pytest.skip(why)
    root = tmp_path_factory.mktemp("celery")
    queue = f"liftline_test_{uuid.uuid4().hex[:10]}"
    started = time.monotonic()
    deadline = started + TIMEOUT_S
    with postgres_database("liftline_celery_meta") as metadata, \
            postgres_database("liftline_celery_wh") as warehouse_url:
        stack = new_stack(root, metadata, warehouse_url=warehouse_url,
                          extra_env=celery_environment(metadata, broker, queue))
        try:
            stack.start((*CORE_SERVICES, *(celery_worker(w, root, queue) for w in WORKERS)))
            stack.wait_until_serving(deadline)
            deliver_then_deploy(stack, world, deadline)
            runs = stack.runs()
            tasks = {r["dag_run_id"] + r["dag_id"]: stack.task_instances(r) for r in runs}
        except BaseException:
            stack.print_log_tails()
            raise
        finally:
            stack.stop()
            forget_queue(broker, queue)
        outputs = snapshot(warehouse_url)
    seconds = time.monotonic() - started
    print(f"\ncelery scenario: {seconds:.0f} s, {len(runs)} DAG runs: {describe(runs)}")
    return Distributed(runs, tasks, queue, outputs,
                       [p.pid for p in stack.procs.values()], seconds)


def test_every_dag_run_succeeds(distributed):
    assert {r["dag_id"] for r in distributed.runs} >= {
        "ingest_extracts", "build_features", "train_models", "score_models", "monitor_models"}
    for run in distributed.runs:
        states = {label: ti["state"] for label, ti in
                  distributed.tasks[run["dag_run_id"] + run["dag_id"]].items()}
        assert run["state"] == "success", (run["dag_id"], states)
        assert set(states.values()) <= {"success", "skipped"}, (run["dag_id"], states)


def test_mapped_tasks_ran_on_both_workers(distributed):
    every = [ti for tis in distributed.tasks.values() for ti in tis.values()
             if ti["state"] == "success"]
    mapped = [ti for ti in every if (ti.get("map_index") is not None and ti["map_index"] >= 0)]
    hosts = {ti["hostname"] for ti in mapped}
    assert hosts == set(WORKERS), sorted(
        (ti["task_id"], ti["map_index"], ti["hostname"]) for ti in mapped)
    # Every task went through the scenario's own queue, to one of its two workers.
    assert {ti["queue"] for ti in every} == {distributed.queue}
    assert {ti["hostname"] for ti in every} <= set(WORKERS)


def test_the_outputs_equal_liftline_run_on_sqlite(distributed, reference):
    want = snapshot(f"sqlite:///{reference / 'warehouse.db'}")
    assert want["sales_forecast"] and want["promo_lift"] and want["ingest_log"]
    for part in want:
        difference = first_difference(distributed.warehouse[part], want[part])
        assert difference is None, (
            f"{part} differs (floats within rel {FLOAT_REL_TOL}, abs {FLOAT_ABS_TOL}): "
            f"{difference}")


def test_every_process_it_started_is_gone(distributed):
    for pid in distributed.pids:
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)  # the group of each service: the service and all it forked
