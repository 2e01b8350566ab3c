"""Numbers as people read them: currency, percentages, thousands, days.

Every function takes None or NaN and returns "n/a", so a missing figure never reads as zero.
Money is in the one reporting currency of the extracts (CONTRACT: "Money is in one reporting
currency"), so it is shown without a currency sign the data never told us.
"""

from __future__ import annotations

import math
from typing import Any

MISSING = "n/a"


def known(value: Any) -> bool:
    if value is None:
        return False
    try:
        return not math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def money(value: Any, signed: bool = False) -> str:
    """1234567 -> '1.23M'; 12345 -> '12.3k'; 950 -> '950' (signed: '+12.3k')."""
    if not known(value):
        return MISSING
    value = float(value)
    sign = "+" if signed and value > 0 else ("-" if value < 0 else "")
    size = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            scaled = size / limit
            return f"{sign}{scaled:.3g}{suffix}" if scaled < 100 else f"{sign}{scaled:.0f}{suffix}"
    return f"{sign}{size:,.0f}"


def count(value: Any) -> str:
    """12345 -> '12,345'."""
    return f"{float(value):,.0f}" if known(value) else MISSING


def pct(value: Any, signed: bool = False, digits: int = 1) -> str:
    """A value already in percent: 12.345 -> '12.3%' (signed: '+12.3%')."""
    if not known(value):
        return MISSING
    return f"{float(value):{'+' if signed else ''}.{digits}f}%"


def share(value: Any, digits: int = 0) -> str:
    """A fraction: 0.234 -> '23%'."""
    return pct(float(value) * 100, digits=digits) if known(value) else MISSING


def points(value: Any) -> str:
    """A difference of two percentages: 7.2 -> '+7.2 pts'."""
    return f"{float(value):+.1f} pts" if known(value) else MISSING


def ratio(value: Any) -> str:
    """A return per unit of spend: 2.345 -> '2.35'."""
    return f"{float(value):.2f}" if known(value) else MISSING


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def change(now: Any, before: Any) -> float | None:
    """Relative change in percent, None when it cannot be computed."""
    if not (known(now) and known(before)) or float(before) == 0:
        return None
    return (float(now) / float(before) - 1) * 100
