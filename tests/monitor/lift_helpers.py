"""Shared by the lift-monitor tests (a module: `conftest` is not importable)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from liftline.promo.lift_table import PREDICTION_COLUMNS, write_rows
from liftline.warehouse import write_transaction

SETTLED = 300


def deliver_sources(world: Path, home: Path, sources: tuple[str, ...]) -> None:
    """Copy the named extracts into landing/, dated long enough ago to count as settled."""
    settled = time.time() - SETTLED
    for source in sources:
        if (world / source).is_dir():
            shutil.copytree(world / source, home / "landing" / source)
            for path in (home / "landing" / source).iterdir():
                os.utime(path, (settled, settled))


def truth_promotions(world: Path) -> pd.DataFrame:
    frame = pd.read_csv(world / "_truth" / "promotions.csv", parse_dates=["start_date",
                                                                           "end_date"])
    return frame


def seed_predictions(engine: Engine, predictions: pd.DataFrame) -> None:
    """Write frozen predictions (promo_id, start_date, end_date, predicted_lift_pct)."""
    frame = predictions.assign(prediction_kind="frozen", model_version="test",
                               predicted_at=pd.Timestamp("2026-01-01"))
    with write_transaction(engine) as conn:
        write_rows(conn, frame, PREDICTION_COLUMNS, "seed")
