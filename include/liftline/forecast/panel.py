"""Dense per-series arrays (one slot per day) and the point-in-time window statistics on them.

`Panel` holds, for one series, every day from its first history day to its last known day
(history and, at prediction time, future): units where the day was a trading day (NaN
otherwise), the drivers, and the closure flags. Window means are cumulative-sum differences
over trading days, so a statistic "as of origin o" can only read indices <= o.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .frames import KEY, TARGET, days_after_holidays, dense_days, holiday_names, named_days


@dataclass
class Panel:
    key: str
    dates: np.ndarray  # datetime64[ns], consecutive days
    units: np.ndarray  # trading-day units, NaN elsewhere (and on every future day)
    trading: np.ndarray
    closed: np.ndarray
    share: np.ndarray
    depth: np.ndarray
    ended: np.ndarray
    promo_count: np.ndarray
    until: np.ndarray
    since: np.ndarray
    events: np.ndarray
    holiday: np.ndarray
    names: list[list[str]]
    spend: np.ndarray
    fmt: str
    country: str
    last_history: int  # index of the last history day (the origin when forecasting)

    def __post_init__(self) -> None:
        filled = np.where(self.trading, np.nan_to_num(self.units), 0.0)
        self._cum = np.concatenate([[0.0], np.cumsum(filled)])
        self._cnt = np.concatenate([[0], np.cumsum(self.trading.astype("int64"))])
        spend = np.nan_to_num(self.spend)
        self._cum_spend = np.concatenate([[0.0], np.cumsum(spend)])
        self._cum_spend_n = np.concatenate([[0], np.cumsum(~np.isnan(self.spend))])
        self._cum_share = np.concatenate([[0.0], np.cumsum(self.share)])

    def __len__(self) -> int:
        return len(self.dates)

    def mean(self, start, end, min_days: int = 1) -> np.ndarray:
        """Mean trading-day units over days [start, end] (inclusive, clipped at 0)."""
        total, count = _window(self._cum, self._cnt, start, end)
        return np.where(count >= min_days, total / np.maximum(count, 1), np.nan)

    def spend_mean(self, start, end) -> np.ndarray:
        total, count = _window(self._cum_spend, self._cum_spend_n, start, end)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    def share_mean(self, start, end) -> np.ndarray:
        start = np.clip(np.asarray(start), 0, len(self))
        end = np.clip(np.asarray(end) + 1, 0, len(self))
        days = np.maximum(end - start, 1)
        return np.where(end > start, (self._cum_share[end] - self._cum_share[start]) / days, 0.0)

    def at(self, values: np.ndarray, index, fill=np.nan) -> np.ndarray:
        """values[index] where 0 <= index < len, else `fill`."""
        index = np.asarray(index)
        inside = (index >= 0) & (index < len(self))
        out = np.full(index.shape, fill, dtype="float64")
        out[inside] = values[index[inside]]
        return out

    def first_trading(self) -> int:
        found = np.flatnonzero(self.trading[: self.last_history + 1])
        return int(found[0]) if len(found) else self.last_history


def holiday_offsets(panel: Panel) -> dict[str, np.ndarray]:
    """Per holiday name, each day's days since it (0..HOLIDAY_AFTER, else -1)."""
    return days_after_holidays(named_days(panel.dates, panel.names), panel.dates)


def moved_holidays(panel: Panel, year: int = 364) -> np.ndarray:
    """True on the holiday-window days whose holiday does not fall `year` days later.

    A day `offset` days after a day named `name` is "moved" when the day `year` days on is not
    `offset` days after `name` too: Black Friday or Christmas a year on fall on other days
    than last year's plus 52 weeks, while a holiday week that recurs on the same weekdays
    (Walmart's) stays where it is. Days `year` on that lie past the panel (calendar unknown)
    count as moved.
    """
    out = np.zeros(len(panel), dtype=bool)
    for since in holiday_offsets(panel).values():
        later = np.full(len(panel), -1)
        later[: max(len(panel) - year, 0)] = since[year:]
        out |= (since >= 0) & (later != since)
    return out


def without_moved_holidays(panel: Panel) -> Panel:
    """The panel with its moved holidays' windows treated as non-trading.

    Seasonal statistics read a year back would otherwise carry last year's Black Friday to
    this year's same weekday, days away from where it falls now; the holiday features place
    it instead. Holidays that recur 52 weeks on stay in: the year-ago read is right for them.
    """
    plain = panel.trading & ~moved_holidays(panel)
    return replace(panel, trading=plain, units=np.where(plain, panel.units, np.nan))


def _window(cum: np.ndarray, cnt: np.ndarray, start, end) -> tuple[np.ndarray, np.ndarray]:
    n = len(cum) - 1
    start = np.clip(np.asarray(start), 0, n)
    end = np.clip(np.asarray(end) + 1, 0, n)
    end = np.maximum(end, start)
    return cum[end] - cum[start], cnt[end] - cnt[start]


def build_panels(history: pd.DataFrame, future: pd.DataFrame | None = None) -> dict[str, Panel]:
    """One Panel per series from a marked history (closed/trading columns) and future."""
    frames = [history.assign(_future=False)]
    if future is not None and len(future):
        frames.append(future.assign(_future=True, trading=False))
    both = pd.concat(frames, ignore_index=True).sort_values([KEY, "date"], kind="mergesort")
    both = dense_days(both.drop(columns=["horizon"], errors="ignore"))
    both["trading"] = both["trading"].astype("boolean").fillna(False).astype(bool)
    both["closed"] = both["closed"].astype("boolean").fillna(False).astype(bool)
    both["_future"] = both["_future"].astype("boolean").fillna(True).astype(bool)
    panels = {}
    for key, rows in both.groupby(KEY, sort=True):
        panels[key] = _panel(key, rows)
    return panels


def _panel(key: str, rows: pd.DataFrame) -> Panel:
    trading = rows["trading"].to_numpy(dtype=bool) & ~rows["_future"].to_numpy(dtype=bool)
    units = rows[TARGET].to_numpy(dtype="float64") if TARGET in rows else np.full(len(rows),
                                                                                   np.nan)
    history_index = np.flatnonzero(~rows["_future"].to_numpy(dtype=bool))
    return Panel(
        key=key,
        dates=rows["date"].to_numpy(dtype="datetime64[ns]"),
        units=np.where(trading, units, np.nan),
        trading=trading,
        closed=rows["closed"].to_numpy(dtype=bool),
        share=rows["promo_share"].fillna(0.0).to_numpy(dtype="float64"),
        depth=rows["promo_depth"].fillna(0.0).to_numpy(dtype="float64"),
        ended=rows["promo_ended"].fillna(0.0).to_numpy(dtype="float64"),
        promo_count=rows["promo_count"].fillna(0).to_numpy(dtype="float64"),
        until=rows["days_until_promo"].to_numpy(dtype="float64"),
        since=rows["days_since_promo"].to_numpy(dtype="float64"),
        events=rows["event_count"].fillna(0).to_numpy(dtype="float64"),
        holiday=rows["is_holiday"].to_numpy(dtype=bool),
        names=_parsed_names(rows["holiday_name"].fillna("").to_numpy()),
        spend=np.where(rows["_future"].to_numpy(dtype=bool), np.nan,
                       rows["media_spend"].to_numpy(dtype="float64")),
        fmt=str(rows["format"].iloc[-1]),
        country=str(rows["country"].iloc[-1]),
        last_history=int(history_index[-1]) if len(history_index) else -1,
    )


def _parsed_names(values: np.ndarray) -> list[list[str]]:
    """Each day's holiday and event names, each distinct string parsed once (a panel holds
    years of days and a few dozen distinct strings)."""
    parsed = {value: holiday_names(value) for value in set(values)}
    return [parsed[value] for value in values]
