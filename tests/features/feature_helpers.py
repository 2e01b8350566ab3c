"""Feature test helpers: a short synthetic world, delivered and ingested for real.

Ingest runs the same code as production (validation included), so the feature builders see
exactly what a user's warehouse would hold. Worlds are generated once per session and ingested
into a fresh warehouse per test (SQLite copies of a template are cheap; PostgreSQL ingests).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, Float, Integer, inspect

from liftline.contract import SOURCES
from liftline.features import build_table
from liftline.ingest import DIMENSION_SOURCES, ingest_source
from liftline.synth import generate
from liftline.synth.config import EPOCH
from liftline.warehouse import FEATURE_TABLES, dispose_engines, get_engine, read_frame, table

SETTLED = 300
WORLD_SEED = 7
WORLD_DAYS = 150  # long enough for 28-day windows, promotion pre-periods and seasons of ERP


def make_world(out: Path, days: int = WORLD_DAYS, start: date = EPOCH) -> Path:
    """Generate a small world (10 stores x 20 SKUs, 2 countries) slice into `out`."""
    generate(out, scale="small", seed=WORLD_SEED, start=start, days=days, progress=False)
    return out


def deliver_world(world: Path, home: Path) -> None:
    """Copy every extract of `world` into home/landing/<source>/, settled."""
    for source in SOURCES:
        src_dir = world / source
        if not src_dir.is_dir():
            continue
        dest = home / "landing" / source
        dest.mkdir(parents=True, exist_ok=True)
        for path in sorted(src_dir.iterdir()):
            target = dest / path.name
            if target.exists():  # a later slice's file of the same name: a new delivery
                target = dest / f"{path.stem}.{time.time_ns()}{''.join(path.suffixes)}"
            shutil.copyfile(path, target)
            landed = time.time() - SETTLED
            os.utime(target, (landed, landed))


def ingest_all(home: Path, engine: Engine) -> None:
    """Ingest everything in landing/, dimensions first, as the ingest DAG does."""
    order = list(DIMENSION_SOURCES) + [s for s in SOURCES if s not in DIMENSION_SOURCES]
    for source in order:
        result = ingest_source(source, home=home, engine=engine, log=lambda _: None,
                               settle_seconds=60, run_id="test_ingest")
        for outcome in result.files:
            assert outcome.status in ("loaded", "partial", "duplicate"), outcome.line()


def feature_frame(engine: Engine, name: str) -> pd.DataFrame:
    """A feature table sorted by its primary key, without run_id, for comparisons."""
    tbl = table(name)
    frame = read_frame(engine, tbl).drop(columns=["run_id"])
    for column in tbl.columns:
        # An all-NULL numeric column comes back as object None: make it NaN like the others.
        if isinstance(column.type, Float | Integer) and frame[column.name].dtype == object:
            frame[column.name] = pd.to_numeric(frame[column.name]).astype("float64")
    key = [c.name for c in tbl.primary_key.columns]
    return frame.sort_values(key, kind="mergesort").reset_index(drop=True)


def assert_same_tables(left: Engine, right: Engine, names=FEATURE_TABLES) -> None:
    """Every feature table equal on both warehouses (floats to 1e-9 relative)."""
    for name in names:
        a, b = feature_frame(left, name), feature_frame(right, name)
        assert len(a) == len(b), f"{name}: {len(a)} vs {len(b)} rows"
        pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-9, atol=1e-9,
                                      obj=name)


def copy_warehouse(source: Engine | Path, target: Path) -> Engine:
    """A consistent copy of a SQLite warehouse (what a live engine holds in its WAL included)."""
    path = source if isinstance(source, Path) else Path(source.url.database)
    with closing(sqlite3.connect(path)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    return get_engine(f"sqlite:///{target}")


def built_copy(template: Path, directory: Path, build) -> Path:
    """A copy of the warehouse at `template` in `directory`, after `build(engine)` ran on it."""
    path = directory / "warehouse.db"
    shutil.copyfile(template, path)
    build(get_engine(f"sqlite:///{path}"))
    dispose_engines()
    return path


def feature_frames(path: Path, names) -> dict[str, pd.DataFrame]:
    """Each named feature table of the SQLite warehouse at `path`."""
    engine = get_engine(f"sqlite:///{path}")
    frames = {name: feature_frame(engine, name) for name in names}
    dispose_engines()
    return frames


def build_tables(engine: Engine, names, run_id: str = "r1", **kwargs) -> dict:
    """Build feature tables `names` in order, quietly; their BuildOutcomes by name."""
    kwargs.setdefault("log", lambda _: None)
    return {name: build_table(engine, name, run_id=run_id, **kwargs) for name in names}


def day(offset: int) -> date:
    return EPOCH + timedelta(days=offset)


def has_table(engine: Engine, name: str) -> bool:
    return inspect(engine).has_table(name)
