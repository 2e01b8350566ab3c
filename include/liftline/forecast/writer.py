"""Writing a scoring run: ml_sales_forecast per grain and the forecast_drop alerts, atomically.

Delete-then-insert keyed by (run_id, grain, measure) inside one write transaction, with the alerts in
the same transaction: rerunning a task for the same run leaves exactly what one run leaves,
and an alert exists only if the forecast it is about was committed.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from sqlalchemy import Connection, Engine

from liftline.warehouse import replace_partition, table, write_transaction

from .base import Log


def write_forecasts(engine: Engine, run_id: str,
                    frames: dict[str | tuple[str, str], pd.DataFrame],
                    after: Callable[[Connection], int] | None = None,
                    log: Log = print) -> dict:
    """Replace this run's rows of each (grain, measure); a plain grain key means units.
    `after(conn)` runs in the same transaction. Returns rows written per key, and `alerts`."""
    forecast = table("ml_sales_forecast")
    written: dict = {}
    with write_transaction(engine) as conn:
        for name, frame in frames.items():
            grain, measure = name if isinstance(name, tuple) else (name, "units")
            key = {"run_id": run_id, "grain": grain, "measure": measure}
            written[name] = replace_partition(conn, forecast, frame.assign(**key), key)
        if after is not None:
            written["alerts"] = after(conn)
    return written
