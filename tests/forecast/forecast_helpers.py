"""Shared by the forecast tests' fixtures and tests (a module: `conftest` is not importable
reliably when several test folders have one)."""

import os
import shutil
import time
from pathlib import Path

from feature_helpers import SETTLED  # tests/features is on sys.path (see the conftests)

SALES_TABLES = ("feat_calendar", "feat_sales_daily", "feat_sales_store_daily")


def deliver(world: Path, home: Path, sources: tuple[str, ...]) -> None:
    """Copy the named extracts into landing/, dated long enough ago to count as settled."""
    settled = time.time() - SETTLED
    for source in sources:
        if (world / source).is_dir():
            shutil.copytree(world / source, home / "landing" / source)
            for path in (home / "landing" / source).iterdir():
                os.utime(path, (settled, settled))
