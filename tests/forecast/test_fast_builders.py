"""The vectorised builders give exactly what the straightforward pandas versions gave.

Each reference below is the earlier implementation, kept here as the definition of the result.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from liftline.forecast.frames import HOLIDAY_AFTER, days_after_holidays


def _days_after_holidays_reference(named, dates):
    dates = pd.DatetimeIndex(dates)
    by_name: dict[str, list[pd.Timestamp]] = {}
    for day, names in named.items():
        for name in names:
            by_name.setdefault(name, []).append(day)
    out = {}
    for name, days in by_name.items():
        since = np.full(len(dates), -1)
        for offset in range(HOLIDAY_AFTER, -1, -1):
            since[(dates - pd.Timedelta(days=offset)).isin(days)] = offset
        out[name] = since
    return out


def test_days_after_holidays_equals_the_pandas_reference():
    rng = np.random.default_rng(3)
    dates = pd.date_range("2023-01-01", periods=400, freq="D")
    named = {pd.Timestamp(day): list(rng.choice(["Easter", "Black Friday", "Fair"],
                                                rng.integers(1, 3), replace=False))
             for day in rng.choice(dates, 40, replace=False)}
    named[dates[0] - pd.Timedelta(days=2)] = ["Eve"]  # before the first date: offset 2 on it
    for subset in (dates, dates[50:120], pd.Series(dates[::3])):
        expected = _days_after_holidays_reference(named, subset)
        found = days_after_holidays(named, subset)
        assert found.keys() == expected.keys()
        for name in expected:
            np.testing.assert_array_equal(found[name], expected[name])
    assert (days_after_holidays(named, dates)["Eve"][:3] == [2, 3, -1]).all()
