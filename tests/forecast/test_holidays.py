"""A shopping event that moves on the calendar: its days (and the days after it, which carry no
name) are forecast where it falls this year, not where it fell 364 days ago."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic import START, split, store_days

from liftline.forecast import LightGBMForecaster, ProphetForecaster
from liftline.forecast.panel import build_panels, moved_holidays, without_moved_holidays

EVENTS = (pd.Timestamp("2024-11-22"), pd.Timestamp("2025-11-28"))  # Fridays, 371 days apart
LIFT = 1.6  # the event's day and the 3 days after it


def _with_events(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for day in EVENTS:
        weekend = frame["date"].between(day, day + pd.Timedelta(days=3))
        frame.loc[weekend, ["units", "expected"]] *= LIFT
        frame.loc[frame["date"] == day, ["holiday_name", "event_count"]] = ["Black Friday", 1]
    return frame


def _panel(frame: pd.DataFrame):
    prepared = LightGBMForecaster(n_estimators=5).fit(frame).history_  # closed/trading marked
    return build_panels(prepared)["ST-0001"]


def test_a_holiday_that_moves_is_left_out_of_the_year_ago_statistics_with_its_weekend():
    panel = _panel(_with_events(store_days(stores=1, days=740, seed=3)))
    moved = pd.DatetimeIndex(panel.dates[moved_holidays(panel)])
    # Both windows: 2024's recurs 371 days on, not 364; 2025's year on is past the calendar.
    assert list(moved) == [d + pd.Timedelta(days=k) for d in EVENTS for k in range(4)]
    plain = without_moved_holidays(panel)
    assert not plain.trading[moved_holidays(panel)].any()
    assert np.isnan(plain.units[moved_holidays(panel)]).all()
    assert plain.trading.sum() == panel.trading.sum() - 8


def test_a_holiday_that_recurs_fifty_two_weeks_on_stays_in():
    frame = store_days(stores=1, days=740, seed=3)
    for day in (pd.Timestamp("2024-11-22"), pd.Timestamp("2024-11-22") + pd.Timedelta(days=364)):
        frame.loc[frame["date"] == day, "holiday_name"] = "Black Friday"
    panel = _panel(frame)
    moved = pd.DatetimeIndex(panel.dates[moved_holidays(panel)])
    assert list(moved) == [pd.Timestamp("2025-11-21") + pd.Timedelta(days=k) for k in range(4)]


@pytest.mark.parametrize("model", [ProphetForecaster(), LightGBMForecaster(n_estimators=200)],
                         ids=lambda m: m.name)
def test_an_event_is_forecast_on_this_years_date_and_not_on_last_years(model):
    frame = _with_events(store_days(stores=2, days=740, noise=0.03, seed=4))
    origin = pd.Timestamp("2025-11-01")
    assert origin > START + pd.Timedelta(days=600)
    history, future = split(frame, origin)
    found = model.fit(history).predict(future).merge(frame, on=["series_key", "date"])
    ratio = found["yhat"] / found["expected"]

    this_year = found["date"].between(EVENTS[1], EVENTS[1] + pd.Timedelta(days=3))
    a_year_on = found["date"].between(EVENTS[0] + pd.Timedelta(days=364),
                                      EVENTS[0] + pd.Timedelta(days=367))
    assert this_year.sum() == 8 and a_year_on.sum() == 8
    # This year's event days, the unnamed ones after the Friday included, carry the lift ...
    assert ratio[this_year].between(0.85, 1.15).all(), ratio[this_year].round(2).tolist()
    # ... and the same weekdays a year after last year's event do not.
    assert ratio[a_year_on].between(0.85, 1.15).all(), ratio[a_year_on].round(2).tolist()
