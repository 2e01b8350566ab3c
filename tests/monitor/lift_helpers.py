"""Shared by the lift-monitor tests (a module: `conftest` is not importable)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from liftline.promo.lift_table import PREDICTION_COLUMNS, write_rows
from liftline.warehouse import write_transaction

PROMO_SOURCES = ("stores", "products", "pos", "promotions", "events", "spend", "macro",
                 "inventory")


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
