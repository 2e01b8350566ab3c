"""Reading the warehouse for the report: output tables only, tolerant of absent ones.

The report reads `ml_*`, `ops_*` and `feat_*` tables and the registry, never `clean_*`. A table
that does not exist (a warehouse of an older schema) reads as an empty frame, so a section can
say what is missing instead of failing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, inspect, select

from liftline import registry
from liftline.warehouse import read_frame, table


def has_table(engine: Engine, name: str) -> bool:
    return inspect(engine).has_table(name)


def read_rows(engine: Engine, name: str, *where: Any, columns: tuple[str, ...] = ()
              ) -> pd.DataFrame:
    """Rows of output table `name` matching `where` (SQLAlchemy clauses built on `table(name)`);
    an empty frame when the table is absent. `columns` limits what is read."""
    if not has_table(engine, name):
        return pd.DataFrame()
    target = table(name)
    wanted = [target.c[c] for c in columns if c in target.c] if columns else [target]
    query = select(*wanted)
    for clause in where:
        query = query.where(clause)
    return read_frame(engine, query)


def latest_run(engine: Engine, name: str, order_by: tuple[str, ...], as_of: date | None = None,
               as_of_column: str | None = None, *where: Any) -> str | None:
    """The run_id of the newest run of `name` by `order_by` (date or time columns), among the
    runs whose `as_of_column` is on or before `as_of` when both are given."""
    if not has_table(engine, name):
        return None
    target = table(name)
    query = select(target.c.run_id).where(target.c.run_id.is_not(None))
    if as_of is not None and as_of_column is not None:
        query = query.where(target.c[as_of_column] <= as_of)
    for clause in where:
        query = query.where(clause)
    ordering = [target.c[c].desc() for c in order_by if c in target.c]
    query = query.order_by(*ordering, target.c.run_id.desc()).limit(1)
    with engine.connect() as conn:
        return conn.execute(query).scalar()


def row_count(engine: Engine, name: str) -> int:
    if not has_table(engine, name):
        return 0
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table(name))).scalar() or 0)


def absent(engine: Engine, name: str, what: str, why: str, model: str | None = None) -> str:
    """The sentence a section shows when `name` has nothing for it: which table, and why (the
    registry's reason when `model`'s last training was skipped, else `why`)."""
    skipped = skip_reason(engine, model) if model else None
    if skipped:
        why = f"The model's last training was skipped: {skipped}."
    if not has_table(engine, name):
        return (f"No {what}: the warehouse has no table {name} (a new warehouse, or one of an "
                f"older schema); `liftline run` creates or migrates the tables and fills them.")
    return f"No {what} yet: {name} is empty. {why}"


def champions(engine: Engine, prefix: str, as_of: date | None = None) -> list[Any]:
    """The champion `Version` scoring each registered model whose name starts with `prefix`
    (e.g. "sales_forecast" -> one per region), as of `as_of`."""
    if not has_table(engine, "ml_model_registry"):
        return []
    listed = registry.models(engine)
    if listed.empty:
        return []
    names = [m for m in listed["model"] if m == prefix or m.startswith(prefix + "/")]
    found = [registry.champion(engine, name, as_of) for name in names]
    return [v for v in found if v is not None]


def skip_reason(engine: Engine, prefix: str) -> str | None:
    """Why the newest training of a model named `prefix` (or `prefix/...`) was skipped, when
    it was; None when it trained or never ran."""
    if not has_table(engine, "ml_model_registry"):
        return None
    found = [v for v in registry.versions(engine)
             if v.model == prefix or v.model.startswith(prefix + "/")]
    if not found or found[0].status != registry.SKIPPED:
        return None
    return f"{found[0].model}: {found[0].metrics.get('reason') or 'no reason recorded'}"
