"""SQL aggregates that give the same answer on every engine, whatever order rows are read in."""

from __future__ import annotations

from sqlalchemy import Float, cast, func

# A SUM of floats adds in whatever order the engine's plan picks, so SQLite and PostgreSQL (or
# two plans of one engine) can return sums a last bit apart (433.45000000000005 against 433.45),
# which models fitted downstream can amplify. Each value is first rounded to a whole number of
# millionths: integers add exactly in any order (below 2**53, i.e. totals under 9e9), so the sum
# is the same everywhere. A millionth is far below any money, unit or share a feature holds.
EXACT_SUM_SCALE = 1_000_000


def exact_sum(value):  # noqa: ANN001, ANN201 - a SQL expression in, a SQL expression out
    """SUM(value), the same on every engine and in every order; NULL where no row had a value."""
    millionths = func.round(cast(value, Float) * EXACT_SUM_SCALE)
    return cast(func.sum(cast(millionths, Float)), Float) / EXACT_SUM_SCALE
