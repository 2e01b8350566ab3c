"""Time and size of the HTML report on a world whose models have run.

Not a test: prints numbers. The goal (1-year medium world, 2 cores): the report built in under
30 s and weighing under 10 MB. Each measured build runs in its own process (imports and plotly.js
loading included, as `liftline report` pays them) against a copy of the warehouse, so the
prepared state is only read.

    python benchmarks/bench_report.py --home /tmp/report-medium --repeat 3
    python benchmarks/bench_report.py --work /tmp/bench_report    # prepares the world first

Preparing (timed and printed, not part of the goal): `liftline generate --scale medium --days
365` into <work>/landing, then `liftline run` with LIFTLINE_HOME=<work>.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BUILD = r"""
import json, resource, sys, time
started = time.perf_counter()
from liftline.report import write_report
from liftline.warehouse import get_engine
path = write_report(get_engine(sys.argv[1]), out=sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - started, "bytes": path.stat().st_size,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def environment(home: Path) -> dict[str, str]:
    env = dict(os.environ, LIFTLINE_HOME=str(home))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "include"),
                                                      env.get("PYTHONPATH")]))
    env.pop("LIFTLINE_WAREHOUSE_URL", None)
    return env


def liftline(home: Path, *args: str) -> None:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "liftline.cli.main", *args], env=environment(home),
                   check=True, stdout=subprocess.DEVNULL)
    print(f"  liftline {' '.join(args)}: {time.perf_counter() - started:.1f} s")


def prepare(work: Path, scale: str, days: int) -> Path:
    if (work / "warehouse.db").exists():
        print(f"reusing the prepared world in {work}")
        return work
    print(f"preparing a {days}-day {scale} world in {work} (not timed for the goal)")
    work.mkdir(parents=True, exist_ok=True)
    liftline(work, "generate", "--out", str(work / "landing"), "--scale", scale, "--days",
             str(days), "--quiet")
    liftline(work, "run")
    return work


def build_once(db: Path, out: Path) -> dict:
    found = subprocess.run([sys.executable, "-c", BUILD, f"sqlite:///{db}", str(out)],
                           env=environment(out.parent), capture_output=True, text=True,
                           check=True)
    return json.loads(found.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="a LIFTLINE_HOME whose `liftline run` is done")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_report"),
                        help="where to prepare a world when --home is not given")
    parser.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    home = args.home or prepare(args.work, args.scale, args.days)
    scratch = Path(args.work) / "runs"
    scratch.mkdir(parents=True, exist_ok=True)
    db = scratch / "warehouse.db"
    shutil.copyfile(home / "warehouse.db", db)  # the prepared state is only ever read
    runs = [build_once(db, scratch / f"report-{i}.html") for i in range(args.repeat)]
    seconds = statistics.median(r["seconds"] for r in runs)
    megabytes = statistics.median(r["bytes"] for r in runs) / 1e6
    print(f"report of {home}: {len(runs)} builds, each in a fresh process")
    print("  seconds  " + ", ".join(f"{r['seconds']:.2f}" for r in runs))
    print(f"  build    median {seconds:.2f} s (goal < 30 s)")
    print(f"  size     median {megabytes:.2f} MB (goal < 10 MB)")
    print(f"  peak RSS median {statistics.median(r['peak_mb'] for r in runs):.0f} MB")
    print(f"  page     {scratch / 'report-0.html'}")


if __name__ == "__main__":
    main()
