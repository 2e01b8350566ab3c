"""exact_sum: the same SUM on every engine and in every order, where plain SUM is not."""

from __future__ import annotations

import random

from sqlalchemy import Column, Engine, Float, Integer, MetaData, Table, insert, select

from liftline.warehouse import exact_sum

# Money-like values whose float sum depends on the order they are added in.
VALUES = [0.1, 0.2, 0.3, 433.45, 1e-3, 17.17, 99.99, 0.7, 1234.56, 0.05] * 7


def _table(engine: Engine, name: str, values: list[float | None]) -> Table:
    t = Table(name, MetaData(), Column("i", Integer, primary_key=True), Column("x", Float))
    t.create(engine)
    with engine.begin() as conn:
        conn.execute(insert(t), [{"i": i, "x": v} for i, v in enumerate(values)])
    return t


def _sums(engine: Engine, t: Table) -> tuple[float, float]:
    with engine.connect() as conn:
        return conn.execute(select(exact_sum(t.c.x), exact_sum(t.c.x * 0.0 + None))).one()


def test_the_sum_does_not_depend_on_the_order_of_the_rows(engine: Engine) -> None:
    shuffled = VALUES.copy()
    random.Random(0).shuffle(shuffled)
    assert sum(VALUES) != sum(shuffled)  # plain float addition does depend on it
    forward, _ = _sums(engine, _table(engine, "forward", VALUES))
    backward, _ = _sums(engine, _table(engine, "shuffled", shuffled))
    assert forward == backward
    assert forward == round(sum(VALUES), 6)


def test_null_rows_are_skipped_and_no_value_is_null(engine: Engine) -> None:
    total, nothing = _sums(engine, _table(engine, "gaps", [1.5, None, 2.25]))
    assert total == 3.75
    assert nothing is None
