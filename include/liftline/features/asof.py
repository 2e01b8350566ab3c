"""The as-of date: the last day of facts a run may use. One rule for every stage.

- An explicit as-of (a Param in the Airflow UI, `--as-of` on the command line) is a date
  (`YYYY-MM-DD`, anything else is a one-line error).
- Feature builds default to the last POS date; without POS, the last date of any dated fact.
- Model stages default to the features' as-of (`features_as_of`: the last day the store roll-up
  observed sales), so a model never reads past what the features were built to; an explicit
  as-of later than that is moved back to it, with a line saying so.
- A stage that reads a feature table of its own (the customer models) names it as a fallback:
  without sales features (a world with only `erp` and `customers`, say) the last date that
  table was built to plays the same part.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pandas as pd
from sqlalchemy import Connection, Engine, func, inspect, select

from liftline.warehouse import table

Bind = Engine | Connection


def parse_as_of(value: date | str | None) -> date | None:
    """`value` as a date (None for empty); a one-line ValueError when it is not a date."""
    if value is None or value == "":
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ValueError(f"as_of {value!r} is not a date: use YYYY-MM-DD") from None


def features_as_of(bind: Bind) -> date | None:
    """The last day the store roll-up (feat_sales_store_daily) has observed sales for."""
    if not inspect(bind).has_table("feat_sales_store_daily"):
        return None
    feat = table("feat_sales_store_daily")
    query = select(func.max(feat.c.date)).where(feat.c.is_future.is_(False))
    if isinstance(bind, Connection):
        value = bind.execute(query).scalar()
    else:
        with bind.connect() as conn:
            value = conn.execute(query).scalar()
    return None if value is None else pd.Timestamp(value).date()


def latest_date(bind: Bind, table_name: str, column: str) -> date | None:
    """The latest `column` date in feature table `table_name` (None when empty or missing)."""
    if not inspect(bind).has_table(table_name):
        return None
    query = select(func.max(table(table_name).c[column]))
    if isinstance(bind, Connection):
        value = bind.execute(query).scalar()
    else:
        with bind.connect() as conn:
            value = conn.execute(query).scalar()
    return None if value is None else pd.Timestamp(value).date()


def resolve_as_of(bind: Bind, as_of: date | str | None = None,
                  log: Callable[[str], None] | None = None,
                  fallback: tuple[str, str] | None = None) -> date | None:
    """The as-of a model stage runs at: `as_of` if given (not past the features' as-of),
    else the features' as-of; None when there are no sales features at all.

    `fallback` (table, date column): the stage's own feature table, whose latest date is the
    features' as-of when there are no sales features."""
    wanted = parse_as_of(as_of)
    built = features_as_of(bind)
    if built is None and fallback is not None:
        built = latest_date(bind, *fallback)
    if built is None:
        return wanted
    if wanted is None:
        return built
    if wanted > built:
        if log is not None:
            log(f"as-of {wanted} is after the features' as-of {built}: using {built} "
                "(rebuild the features with the later as-of to move it)")
        return built
    return wanted
