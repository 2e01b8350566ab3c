"""Generation time and peak memory of the synthetic world, per scale.

Not a test: prints numbers. Each run is a fresh process (so peak RSS is that run's own);
the median of --repeat runs is reported.

    python benchmarks/bench_generate.py --scale small --repeat 3
    python benchmarks/bench_generate.py --scale medium --repeat 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile

CHILD = """
import json, resource, sys, time
from liftline.synth import generate
t = time.perf_counter()
s = generate(sys.argv[1], scale=sys.argv[2], seed=int(sys.argv[3]), progress=True)
print(json.dumps({"seconds": time.perf_counter() - t,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "pos_rows": s.rows.get("pos", 0), "inventory_rows": s.rows.get("inventory", 0)}))
"""


def run_once(scale: str, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run([sys.executable, "-c", CHILD, out, scale, str(seed)],
                              capture_output=True, text=True, check=True)
        size = subprocess.run(["du", "-sm", out], capture_output=True, text=True).stdout.split()[0]
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["disk_mb"] = int(size)
        return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="small", choices=["small", "medium", "large"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    runs = [run_once(args.scale, args.seed) for _ in range(args.repeat)]
    for i, r in enumerate(runs, 1):
        print(f"run {i}: {r['seconds']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB, "
              f"POS rows {r['pos_rows']:,}, inventory rows {r['inventory_rows']:,}, "
              f"disk {r['disk_mb']} MB")
    print(f"{args.scale}: median {statistics.median(r['seconds'] for r in runs):.1f} s, "
          f"median peak RSS {statistics.median(r['peak_rss_mb'] for r in runs):.0f} MB "
          f"over {len(runs)} run(s)")


if __name__ == "__main__":
    main()
