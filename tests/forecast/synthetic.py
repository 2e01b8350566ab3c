"""Small synthetic store-day frames with known structure, for estimator tests (no warehouse)."""

from __future__ import annotations

import numpy as np
import pandas as pd

WEEKLY = np.array([0.9, 0.9, 0.95, 1.0, 1.1, 1.3, 0.85])  # Mon..Sun
START = pd.Timestamp("2024-01-01")  # a Monday


def store_days(stores: int = 3, days: int = 400, noise: float = 0.1, seed: int = 0,
               level: float = 200.0, closed_sunday: tuple[int, ...] = (),
               promo_every: int = 0, promo_lift: float = 1.0,
               start: pd.Timestamp = START) -> pd.DataFrame:
    """Units = level x weekday profile x (1 + lift x promo share) x (1 + N(0, noise)).

    `closed_sunday`: indices of stores that never trade on Sundays. `promo_every`: every
    that many days a 5-day promotion covering half the SKUs (share 0.5).
    """
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=days, freq="D")
    parts = []
    for s in range(stores):
        share = np.zeros(days)
        if promo_every:
            for first in range(promo_every, days, promo_every):
                share[first:first + 5] = 0.5
        mean = level * (1 + 0.5 * s) * WEEKLY[dates.day_of_week] * (1 + promo_lift * share)
        units = np.maximum(mean * (1 + rng.normal(0, noise, days)), 0).round()
        closed = np.zeros(days, dtype=bool)
        if s in closed_sunday:
            closed = dates.day_of_week == 6
            units = np.where(closed, 0, units)
        parts.append(pd.DataFrame({
            "series_key": f"ST-{s + 1:04d}", "store_id": f"ST-{s + 1:04d}", "date": dates,
            "units": units, "expected": np.where(closed, 0.0, mean),
            "promo_sku_share": share, "promo_max_discount": np.where(share > 0, 20.0, np.nan),
            "promo_count": (share > 0).astype(int), "is_closed": False, "is_holiday": False,
            "event_count": 0, "holiday_name": "", "format": "super", "country": "DE",
        }))
    return pd.concat(parts, ignore_index=True)


def split(frame: pd.DataFrame, origin: pd.Timestamp, horizon: int = 56
          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    history = frame.loc[frame["date"] <= origin]
    future = frame.loc[(frame["date"] > origin)
                       & (frame["date"] <= origin + pd.Timedelta(days=horizon))]
    return history, future
