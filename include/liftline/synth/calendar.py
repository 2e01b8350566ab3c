"""Holidays, shopping events and their demand effects, per country and category."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from liftline.synth.config import NATIONAL_DAYS, SUNDAY_CLOSED, Category


def easter_sunday(year: int) -> date:
    """Gregorian Easter (anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month = (h + ell - 7 * m + 114) // 31
    day = (h + ell - 7 * m + 114) % 31 + 1
    return date(year, month, day)


def black_friday(year: int) -> date:
    nov1 = date(year, 11, 1)
    first_friday = nov1 + timedelta(days=(4 - nov1.weekday()) % 7)
    return first_friday + timedelta(weeks=3)


@dataclass(frozen=True)
class Holiday:
    day: date
    name: str
    kind: str  # "holiday" (public) or "event" (shopping event)
    closed: bool


def country_holidays(country: str, years: range) -> list[Holiday]:
    out: list[Holiday] = []
    for y in years:
        easter = easter_sunday(y)
        nat_m, nat_d = NATIONAL_DAYS[country]
        out += [
            Holiday(date(y, 1, 1), "New Year's Day", "holiday", True),
            Holiday(easter - timedelta(days=2), "Good Friday", "holiday", False),
            Holiday(easter, "Easter Sunday", "holiday", True),
            Holiday(easter + timedelta(days=1), "Easter Monday", "holiday", True),
            Holiday(date(y, 5, 1), "Labour Day", "holiday", True),
            Holiday(date(y, nat_m, nat_d), "National Day", "holiday", True),
            Holiday(black_friday(y), "Black Friday", "event", False),
            Holiday(date(y, 12, 24), "Christmas Eve", "holiday", False),
            Holiday(date(y, 12, 25), "Christmas Day", "holiday", True),
            Holiday(date(y, 12, 26), "Boxing Day", "holiday", True),
            Holiday(date(y, 12, 31), "New Year's Eve", "holiday", False),
        ]
    return sorted(out, key=lambda h: h.day)


def calendar_effects(
    days: pd.DatetimeIndex, country: str, categories: tuple[Category, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Demand multipliers (days x categories) and the closed-day mask (days) of one country.

    Effects: closed holidays sell nothing and pull demand into the day before; a pre-Christmas
    ramp that differs by category; Black Friday through Monday; Easter week for confectionery.
    """
    n = len(days)
    years = range(days[0].year, days[-1].year + 1)
    index = {d.date(): i for i, d in enumerate(days)}
    mult = np.ones((n, len(categories)))
    closed = np.zeros(n, dtype=bool)
    if country in SUNDAY_CLOSED:
        closed |= days.dayofweek.to_numpy() == 6
    xmas_lift = np.array([c.christmas_lift for c in categories])
    electronics_like = np.array([c.name in ("electronics", "toys") for c in categories])
    sweets = np.array([c.name == "confectionery" for c in categories])

    for h in country_holidays(country, years):
        i = index.get(h.day)
        if i is None:
            continue
        if h.closed:
            closed[i] = True
            if i > 0:
                mult[i - 1] *= 1.15  # people shop the day before a closed holiday
        if h.name == "Black Friday":
            for j in range(i, min(i + 4, n)):
                mult[j] *= np.where(electronics_like, 1.6, 1.2)
        if h.name == "Easter Sunday":
            for j in range(max(0, i - 7), i):
                mult[j] *= np.where(sweets, 1.5, 1.05)
    for y in years:
        # Pre-Christmas ramp: rises linearly from Dec 1 to Dec 23.
        for k in range(23):
            i = index.get(date(y, 12, 1) + timedelta(days=k))
            if i is not None:
                mult[i] *= 1 + xmas_lift * (k + 1) / 23
    return mult, closed


def holiday_events(countries: list[str], first: date, last: date) -> pd.DataFrame:
    """Public holidays and shopping events between first and last, as `events` rows."""
    rows = []
    for country in countries:
        for h in country_holidays(country, range(first.year, last.year + 1)):
            if first <= h.day <= last:
                rows.append(
                    {
                        "date": h.day,
                        "name": h.name,
                        "kind": h.kind,
                        "country": country,
                        "region": None,
                        "store_id": None,
                    }
                )
    return pd.DataFrame(rows)
