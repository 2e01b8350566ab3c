"""`liftline demo --days N`: after the history, N more days delivered one at a time.

A live system receives one day of extracts at a time and its scheduled DAGs run after each
delivery. The replay does the same with the demo world: the world runs on past its default
history and the same seed gives the same world, so a one-day slice after the history
(`generate(start=day, days=1)`) is the next day of the world the history came from. Each slice is
generated into `live_staging/`, copied into `landing/` (and kept in `demo_world/` beside the
history, so that folder holds everything delivered), then the chain runs quietly (its log is in
`$LIFTLINE_HOME/airflow/logs/`) and the day is told in one line read back from the warehouse.

Training follows train_models' schedule, not `liftline run`'s "train everything": a day whose
date is a Sunday is followed by the weekly retrain (Monday 00:00 UTC) of every family; on other
days only the families `liftline.registry.due_for_training` names train, as the feature-triggered
run does, and train_models does not run when none is due.

Live days are delivered without injected faults: the history already shows quarantine, and a
fault batch every day would be ten bad files a day, not the odd bad delivery of a real source.
"""

from __future__ import annotations

import io
import shutil
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import IO

from sqlalchemy import Engine

from liftline.evaluate import truth_folder
from liftline.registry import FAMILY_SPECS, due_for_training

from .main import deliver_world
from .run import CHAIN, run_pipeline
from .summary import RunSummary, summarize_run

TRAIN_DAG = "train_models"
WEEKLY_RETRAIN_AFTER = 6  # date.weekday() of Sunday: the Monday 00:00 UTC cron follows it
KEPT_TRUTH = ("faults.json",)  # describes the faults of the history delivery: kept as written


class LiveError(ValueError):
    """The live days asked for cannot be delivered; the message says what to ask instead."""


@dataclass(frozen=True)
class LiveDay:
    """What one day's delivery and runs did."""

    day: date
    files_delivered: int
    summary: RunSummary
    seconds: float
    trained: tuple[str, ...] = ()

    def line(self) -> str:
        s = self.summary
        trained = f"  trained: {trained_text(self.trained)}" if self.trained else ""
        return (f"{self.day} {self.day:%a}  {self.files_delivered:>3} files "
                f"({len(s.files)} new)  {s.rows_loaded:>7,} rows loaded  "
                f"{s.rows_quarantined:>4,} quarantined  alerts: {alerts_text(s.alerts_by_kind)}"
                f"  champions: {champions_text(s.new_champions)}{trained}  "
                f"{self.seconds:.1f} s")


def summarize_day(engine: Engine, day: date, files_delivered: int, run_ids: Sequence[str],
                  seconds: float, trained: Sequence[str] = ()) -> LiveDay:
    """The day's line, read back from the warehouse by the run ids of its DAG runs."""
    return LiveDay(day, files_delivered, summarize_run(engine, run_ids), seconds, tuple(trained))


def alerts_text(by_kind: Counter) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(by_kind.items())) or "none"


def trained_text(families: Sequence[str]) -> str:
    return "all" if set(families) == set(FAMILY_SPECS) else ", ".join(families)


def champions_text(models: Sequence[str]) -> str:
    """New champions by family: `sales_forecast (4)` for four regional forecasts."""
    families = Counter(name.split("/")[0] for name in models)
    return ", ".join(f"{family} ({n})" if n > 1 else family
                     for family, n in sorted(families.items())) or "none"


def live_days(world_facts: dict, count: int) -> list[date]:
    """The `count` days after the world's delivered window; LiveError past the world's end."""
    if count <= 0:
        return []
    first = date.fromisoformat(str(world_facts["window"]["last"])) + timedelta(days=1)
    last = first + timedelta(days=count - 1)
    world_end = date.fromisoformat(str(world_facts["world_last_day"]))
    if last > world_end:
        room = max((world_end - first).days + 1, 0)
        raise LiveError(f"the {world_facts['scale']} world ends on {world_end}: after this "
                        f"history there is room for --days {room} at most (or use fewer "
                        "--history-days)")
    return [first + timedelta(days=i) for i in range(count)]


def families_to_train(engine: Engine, day: date) -> list[str]:
    """The families train_models trains after `day`'s delivery; empty: it does not run."""
    if day.weekday() == WEEKLY_RETRAIN_AFTER:
        return list(FAMILY_SPECS)
    return list(due_for_training(engine, as_of=day))


def replay_live_days(engine: Engine, days: Sequence[date], *, home: Path, world: Path,
                     scale: str, seed: int, out: IO[str]) -> list[LiveDay]:
    """Deliver `days` one at a time and run the chain after each; one line per day to `out`."""
    staging = home / "live_staging"
    results = []
    for day in days:
        start = time.perf_counter()
        generate_day(staging, day, scale, seed)
        delivered = deliver_world(staging, home / "landing")
        deliver_world(staging, world)
        trained = families_to_train(engine, day)
        chain = [dag for dag in CHAIN if dag != TRAIN_DAG or trained]
        outcomes = run_pipeline(chain=chain, out=io.StringIO(),
                                dag_conf={TRAIN_DAG: {"models": trained}})
        result = summarize_day(engine, day, delivered, [o.run_id for o in outcomes if o.run_id],
                               time.perf_counter() - start, trained)
        out.write(result.line() + "\n")
        out.flush()
        results.append(result)
    shutil.rmtree(staging, ignore_errors=True)
    return results


def generate_day(out: Path, day: date, scale: str, seed: int) -> None:
    from liftline.synth import generate

    with warnings.catch_warnings():
        # The slice's printed facts divide by its revenue, which is 0 on a day every store is
        # closed; the facts are not shown here and the extracts are right.
        warnings.simplefilter("ignore", RuntimeWarning)
        generate(out, scale=scale, seed=seed, start=day, days=1, faults=False, progress=False)


def extend_truth(world: Path, world_facts: dict, last: date, scale: str, seed: int,
                 staging: Path) -> None:
    """Rewrite `world`'s ground truth for its whole delivered span, history and live days.

    Truths do not add up slice by slice (a promotion's realised lift and status depend on the
    span's last day), so the span is generated again; only its truth is kept.
    """
    from liftline.synth import generate

    first = date.fromisoformat(str(world_facts["window"]["first"]))
    generate(staging, scale=scale, seed=seed, start=first, days=(last - first).days + 1,
             faults=False, progress=False)
    target = truth_folder(world)
    for path in truth_folder(staging).iterdir():
        if path.name not in KEPT_TRUTH:
            shutil.copy2(path, target / path.name)
    shutil.rmtree(staging, ignore_errors=True)
