"""Which days a series is closed: known closures, and closures learned from its own history.

A closed day is forecast as 0 and left out of every model's training data. Three sources:

- `is_closed`: a closure announced in `events` (kind `closure`), past or planned;
- a weekday the series did not trade on in (nearly) all of its last weeks (Sunday trading laws);
- a holiday or event whose last occurrence in the history sold nothing (Christmas Day, a
  national day): learned by name, so a real calendar needs no closed/open flag.

Past days that sold nothing although the series usually sells plenty are gaps or unannounced
closures: not "demand was zero", so they are not trained on either (`trading` is False).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .frames import KEY, TARGET, holiday_names

# A zero is implausible as demand (not a closure or a gap) when the series' typical day sells
# more than this many units: P(Poisson(5) = 0) < 1%.
ZERO_IS_GAP_ABOVE = 5.0


@dataclass
class ClosureCalendar:
    """Closed weekdays and closed holiday names per series, learned from history."""

    weeks: int = 8
    closed_share: float = 0.75
    weekdays: dict[str, set[int]] = field(default_factory=dict)
    holidays: dict[str, set[str]] = field(default_factory=dict)
    typical: dict[str, float] = field(default_factory=dict)

    def learn(self, history: pd.DataFrame) -> ClosureCalendar:
        for key, rows in history.groupby(KEY, sort=False):
            self.typical[key] = _typical_units(rows)
            self.weekdays[key] = _closed_weekdays(rows, self.weeks, self.closed_share)
            self.holidays[key] = _closed_holidays(rows, self.weekdays[key])
        return self

    def closed(self, frame: pd.DataFrame) -> np.ndarray:
        """True on the rows expected closed (known or learned)."""
        known = frame["is_closed"].to_numpy(dtype=bool)
        dow = frame["date"].dt.day_of_week.to_numpy()
        keys = frame[KEY].to_numpy()
        names = frame["holiday_name"].to_numpy()
        learned = np.zeros(len(frame), dtype=bool)
        for i in range(len(frame)):
            key = keys[i]
            if dow[i] in self.weekdays.get(key, ()) or names[i] and any(n in self.holidays.get(key, ()) for n in holiday_names(names[i])):
                learned[i] = True
        return known | learned

    def trading(self, history: pd.DataFrame, closed: np.ndarray) -> np.ndarray:
        """True on past rows a model may learn demand from (open, observed, not a gap)."""
        units = history[TARGET].to_numpy(dtype="float64")
        typical = history[KEY].map(self.typical).fillna(0.0).to_numpy(dtype="float64")
        gap = (units == 0) & (typical > ZERO_IS_GAP_ABOVE)
        return ~closed & ~np.isnan(units) & ~gap


def _typical_units(rows: pd.DataFrame) -> float:
    recent = rows.loc[~rows["is_closed"], TARGET].dropna().tail(91)
    recent = recent[recent > 0]
    return float(recent.median()) if len(recent) else 0.0


def _closed_weekdays(rows: pd.DataFrame, weeks: int, share: float) -> set[int]:
    last = rows["date"].max()
    recent = rows.loc[(rows["date"] > last - pd.Timedelta(days=7 * weeks))
                      & ~rows["is_closed"] & rows[TARGET].notna()]
    closed = set()
    for dow, values in recent.groupby(recent["date"].dt.day_of_week)[TARGET]:
        if len(values) >= min(4, weeks) and (values == 0).mean() >= share:
            closed.add(int(dow))
    # A series that never trades is not "closed every day": leave it to the models.
    return closed if len(closed) < 7 else set()


def _closed_holidays(rows: pd.DataFrame, closed_weekdays: set[int]) -> set[str]:
    # An occurrence on a closed weekday (Christmas Eve on a Sunday) says nothing of the holiday.
    named = rows.loc[(rows["holiday_name"] != "") & ~rows["is_closed"] & rows[TARGET].notna()
                     & ~rows["date"].dt.day_of_week.isin(list(closed_weekdays))]
    last_units: dict[str, float] = {}
    for names, units in zip(named["holiday_name"], named[TARGET], strict=True):
        for name in holiday_names(names):
            last_units[name] = units  # rows are in date order: the last occurrence wins
    return {name for name, units in last_units.items() if units == 0}
