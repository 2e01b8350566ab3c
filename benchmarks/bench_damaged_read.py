"""Reading a clean CSV with the usual (pandas) reader vs a damaged one line by line.

Not a test: prints numbers. A CSV is read line by line only when it is damaged (bytes that are
not UTF-8, a row with too many fields, cut short), so this is what damage costs, per row.

    python benchmarks/bench_damaged_read.py --rows 500000 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from liftline.contract import source
from liftline.ingest import open_delivery


def write_extract(path: Path, rows: int, damaged: bool) -> None:
    lines = ["date,store_id,sku,units,revenue,unit_price,promo_id,customer_count\n"]
    lines += [f"2024-03-{1 + i % 28:02d},ST-{i % 97},SKU-{i % 1013},{i % 7},{i % 500}.25,"
              f"{i % 13}.5,P{i % 11},{i % 40}\n" for i in range(rows)]
    data = "".join(lines).encode()
    if damaged:  # one Latin-1 byte in the middle row
        middle = data.index(b"ST-", len(data) // 2)
        data = data[:middle] + b"\xe9" + data[middle + 1:]
    path.write_bytes(data)


def seconds_to_read(path: Path) -> tuple[float, int]:
    delivery = open_delivery(path, source("pos"))
    started = time.perf_counter()
    try:
        rows = sum(len(chunk) for chunk in delivery.read())
    except Exception:  # noqa: BLE001 - the usual reader stops at the damage: read line by line
        rows = sum(len(chunk) for chunk in delivery.line_by_line().read())
    return time.perf_counter() - started, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        for damaged in (False, True):
            path = Path(work) / f"pos_{'damaged' if damaged else 'clean'}.csv"
            write_extract(path, args.rows, damaged)
            runs = [seconds_to_read(path) for _ in range(args.repeat)]
            median = statistics.median(s for s, _ in runs)
            print(f"{'damaged (line by line)' if damaged else 'clean (pandas)':<24} "
                  f"{runs[0][1]:>9,} rows  median {median:6.2f} s  "
                  f"{runs[0][1] / median:>10,.0f} rows/s  runs "
                  + ", ".join(f"{s:.2f}" for s, _ in runs))


if __name__ == "__main__":
    main()
