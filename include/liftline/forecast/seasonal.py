"""Shared building blocks: the promotion response and a pooled, de-promoted yearly index.

Both are learned from history only (indices <= each series' last history day):

- `promo_response`: how much units move per unit of sales-weighted promotion exposure
  (`promo_share`) and of the post-promotion dip (`promo_ended`), against the mean of the same
  weekday in the 4 weeks before without either (least squares, pooled over series);
- `YearlyIndex`: per country, the mean over its series of "21-day centred mean of de-promoted
  units / the series' mean over the 364 days before" on each day. `ratio(o, t)` reads it a year
  back, index(t - 364) / mean index over the 28 days to o - 364: how the season moved from the
  origin's weeks to the target's last year. Pooled over stores, so one store's noise or last
  year's promotions do not pass for season. The windows (a named day and the HOLIDAY_AFTER
  days after it) of holidays that do not recur 364 days on are left out: such a holiday moves
  on the calendar from one year to the next, and the holiday features place it where it falls
  now.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .panel import Panel, without_moved_holidays

YEAR = 364
HALF_WINDOW = 10


def promo_response(panels: list[Panel], days: int = 365) -> tuple[float, float]:
    """(uplift per unit of promo_share, change per unit of promo_ended), pooled."""
    rows = [_response_rows(panel, days) for panel in panels]
    if not rows:
        return 0.0, 0.0
    y = np.concatenate([r[0] for r in rows])
    x = np.vstack([r[1] for r in rows]) if rows else np.empty((0, 2))
    if len(y) < 10 or not np.any(x):
        return 0.0, 0.0
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    return float(np.clip(coef[0], 0.0, 5.0)), float(np.clip(coef[1], -0.9, 0.0))


def _response_rows(panel: Panel, days: int) -> tuple[np.ndarray, np.ndarray]:
    last = panel.last_history
    plain = panel.trading & (panel.share == 0) & (panel.ended == 0)
    clean = np.where(plain, panel.units, np.nan)
    days_ = np.arange(max(28, last - days), last + 1)
    days_ = days_[panel.trading[days_] & ((panel.share[days_] > 0) | (panel.ended[days_] > 0))]
    if not len(days_):
        return np.empty(0), np.empty((0, 2))
    prior = clean[days_[:, None] - 7 * np.arange(1, 5)[None, :]]
    count = (~np.isnan(prior)).sum(axis=1)
    base = np.where(count >= 2, np.nansum(prior, axis=1) / np.maximum(count, 1), np.nan)
    ok = base > 0
    y = panel.units[days_][ok] / base[ok] - 1.0
    x = np.column_stack([panel.share[days_][ok], panel.ended[days_][ok]])
    return y, x


def promotion_factor(panel: Panel, uplift: float, dip: float) -> np.ndarray:
    """Expected units relative to no promotion, per day of the panel (history and future)."""
    return np.maximum(1.0 + uplift * panel.share + dip * panel.ended, 0.1)


@dataclass
class YearlyIndex:
    """Per-country pooled yearly index on a shared calendar (day numbers since the epoch)."""

    first_day: dict[str, int] = field(default_factory=dict)
    values: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def learn(cls, panels: list[Panel], countries: dict[str, str], uplift: float,
              dip: float) -> YearlyIndex:
        per_country: dict[str, list[tuple[int, np.ndarray]]] = {}
        for panel in panels:
            start = int(panel.dates[0].astype("datetime64[D]").astype("int64"))
            series = _store_index(panel, uplift, dip)
            per_country.setdefault(countries.get(panel.key, ""), []).append((start, series))
        index = cls()
        for country, parts in per_country.items():
            first = min(start for start, _ in parts)
            last = max(start + len(values) for start, values in parts)
            total = np.zeros(last - first)
            count = np.zeros(last - first)
            for start, values in parts:
                sl = slice(start - first, start - first + len(values))
                total[sl] += np.nan_to_num(values)
                count[sl] += ~np.isnan(values)
            index.first_day[country] = first
            index.values[country] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        return index

    def ratio(self, country: str, origin_day: np.ndarray, target_day: np.ndarray) -> np.ndarray:
        """index(t - 364) / mean index(o - 364 - 27 .. o - 364); NaN where last year is unknown."""
        values = self.values.get(country)
        if values is None:
            return np.full(len(target_day), np.nan)
        first = self.first_day[country]
        target = _read(values, target_day - YEAR - first)
        window = origin_day[:, None] - YEAR - first - np.arange(28)[None, :]
        at_origin = _read(values, window.ravel()).reshape(window.shape)
        counted = (~np.isnan(at_origin)).sum(axis=1)
        total = np.nansum(at_origin, axis=1)
        base = np.where(counted >= 14, total / np.maximum(counted, 1), np.nan)
        return target / np.where(base > 0, base, np.nan)


def _store_index(panel: Panel, uplift: float, dip: float) -> np.ndarray:
    """21-day centred mean of de-promoted units (moved holidays aside) over the mean of the
    364 days before."""
    plain = without_moved_holidays(panel)
    clean = replace(plain, units=plain.units / promotion_factor(plain, uplift, dip))
    days = np.arange(len(panel))
    history = days <= panel.last_history
    local = clean.mean(days - HALF_WINDOW, np.minimum(days + HALF_WINDOW, panel.last_history), 3)
    year = clean.mean(days - YEAR, days - 1, 56)
    out = local / np.where(year > 0, year, np.nan)
    return np.where(history, out, np.nan)


def _read(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    inside = (index >= 0) & (index < len(values))
    out = np.full(index.shape, np.nan)
    out[inside] = values[index[inside]]
    return out
