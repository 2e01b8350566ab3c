"""Writing a scoring run: ml_sales_forecast per grain and the forecast_drop alerts, atomically.

Delete-then-insert keyed by (run_id, grain) inside one write transaction, with the alerts in
the same transaction: rerunning a task for the same run leaves exactly what one run leaves,
and an alert exists only if the forecast it is about was committed.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from sqlalchemy import Connection, Engine

from liftline.warehouse import replace_partition, table, write_transaction

from .base import Log


def write_forecasts(engine: Engine, run_id: str, frames: dict[str, pd.DataFrame],
                    after: Callable[[Connection], int] | None = None,
                    log: Log = print) -> dict[str, int]:
    """Replace this run's rows of each grain; `after(conn)` runs in the same transaction."""
    forecast = table("ml_sales_forecast")
    written = {}
    with write_transaction(engine) as conn:
        for grain, frame in frames.items():
            key = {"run_id": run_id, "grain": grain}
            written[grain] = replace_partition(conn, forecast, frame.assign(**key), key)
        if after is not None:
            written["alerts"] = after(conn)
    return written
