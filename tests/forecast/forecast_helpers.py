"""Shared by the forecast tests' fixtures and tests (a module: `conftest` is not importable
reliably when several test folders have one)."""

import os
import shutil
import time
from pathlib import Path

from feature_helpers import SETTLED, build_tables, ingest_all  # tests/features is on sys.path

from liftline.warehouse import create_schema, dispose_engines, get_engine

SALES_TABLES = ("feat_calendar", "feat_sales_daily", "feat_sales_store_daily")


def deliver(world: Path, home: Path, sources: tuple[str, ...]) -> None:
    """Copy the named extracts into landing/, dated long enough ago to count as settled."""
    settled = time.time() - SETTLED
    for source in sources:
        if (world / source).is_dir():
            shutil.copytree(world / source, home / "landing" / source)
            for path in (home / "landing" / source).iterdir():
                os.utime(path, (settled, settled))


def build_featured_template(world: Path, home: Path, sources: tuple[str, ...],
                      tables: tuple[str, ...]) -> Path:
    """A SQLite warehouse in `home` with `sources` of `world` ingested and `tables` built (a
    session's template: tests copy it rather than use it)."""
    path = home / "warehouse.db"
    engine = get_engine(f"sqlite:///{path}")
    create_schema(engine)
    deliver(world, home, sources)
    ingest_all(home, engine)
    build_tables(engine, tables)
    dispose_engines()
    return path
