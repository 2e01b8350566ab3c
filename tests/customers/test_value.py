"""Expected customer value: BG/NBD and Gamma-Gamma recover the parameters they were simulated
with, the backtest reads nothing after its cut-off, and saved models predict the same."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from customer_helpers import AS_OF, load_world, small_spec
from sqlalchemy import Engine, delete

from liftline.customers import BgNbdValue, BoostedValue
from liftline.customers.inputs import history_at, revenue_between
from liftline.customers.pipeline import value_backtest
from liftline.customers.value import (
    backtest_dates,
    bgnbd_expected,
    fit_bgnbd,
    fit_gamma_gamma,
    value_model_from_dict,
    value_rows,
)
from liftline.warehouse import bulk_insert, clean_table


def simulate_bgnbd(n: int, r: float, alpha: float, a: float, b: float, T: float, seed: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Purchase histories drawn from BG/NBD: gamma-distributed rates, beta-distributed
    drop-out chances after each purchase; all customers first bought at time 0."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < p[i]:
                break
    return x, t_x, np.full(n, T)


def test_bgnbd_recovers_its_parameters_and_forecasts_the_holdout() -> None:
    truth = (0.6, 4.0, 0.8, 2.5)
    x, t_x, T = simulate_bgnbd(3000, *truth, T=52.0, seed=1)
    found = fit_bgnbd(x, t_x, T)
    assert found == pytest.approx(truth, rel=0.35)
    # expected purchases in the next 26 weeks, summed, against a simulated continuation
    expected = bgnbd_expected(found, x, t_x, T, 26.0).sum()
    longer, _, _ = simulate_bgnbd(3000, *truth, T=78.0, seed=1)
    assert expected == pytest.approx((longer - x).sum(), rel=0.15)


def test_gamma_gamma_recovers_the_mean_spend() -> None:
    rng = np.random.default_rng(2)
    p, q, v = 6.0, 4.0, 15.0
    nu = rng.gamma(q, 1 / v, 4000)
    n = rng.integers(1, 12, 4000)
    m = np.array([rng.gamma(p, 1 / nu_i, k).mean() for nu_i, k in zip(nu, n, strict=True)])
    found = fit_gamma_gamma(n.astype(float), m)
    assert found[0] * found[2] / (found[1] - 1) == pytest.approx(p * v / (q - 1), rel=0.1)


def test_the_backtest_reads_no_revenue_after_its_cut_off(warehouse: Engine) -> None:
    load_world(warehouse)
    spec = small_spec()
    dates = backtest_dates(AS_OF, 182)
    first = _backtest(warehouse, spec, dates)
    # a big invoice after the cut-off changes what happened, never what was predicted
    bulk_insert(warehouse, clean_table("erp"), pd.DataFrame([{
        "invoice_id": "LATE-1", "customer_id": "C-heavy-000",
        "invoice_date": dates["cut"] + timedelta(days=1), "amount": 50000.0}]))
    second = _backtest(warehouse, spec, dates)
    predicted = ["baseline", "bgnbd", "lightgbm"]
    pd.testing.assert_frame_equal(first[predicted], second[predicted])
    changed = second.actual - first.actual
    assert changed.abs().sum() == pytest.approx(50000.0)
    # and the invoices after the cut-off are the whole of what is compared
    erp = clean_table("erp")
    with warehouse.begin() as conn:
        conn.execute(delete(erp).where(erp.c.invoice_date > dates["cut"]))
    third = _backtest(warehouse, spec, dates)
    pd.testing.assert_frame_equal(first[predicted], third[predicted])
    assert (third.actual == 0).all()


def test_saved_value_models_predict_the_same(warehouse: Engine) -> None:
    load_world(warehouse)
    snapshot, purchases = history_at(warehouse, AS_OF, stored=True)
    rows = value_rows(snapshot, purchases, AS_OF)
    target = revenue_between(warehouse, rows.customer_id, AS_OF - timedelta(days=182), AS_OF)
    for model in (BgNbdValue(182).fit(rows), BoostedValue(n_estimators=30).fit(rows, target)):
        again = value_model_from_dict(model.to_dict())
        np.testing.assert_allclose(again.predict(rows), model.predict(rows), rtol=1e-9)
        assert (model.predict(rows) >= 0).all()
    never = rows[rows.invoices_ever == 0]
    assert len(never) == 1 and BgNbdValue(182).fit(rows).predict(never)[0] == 0.0


def _backtest(engine: Engine, spec, dates) -> pd.DataFrame:  # noqa: ANN001
    earlier = history_at(engine, dates["cut"])
    actual = revenue_between(engine, earlier[0].customer_id, dates["cut"], dates["end"])
    metrics, table = value_backtest(engine, spec, earlier, actual, dates)
    assert set(metrics["candidates"]) == {"bgnbd", "lightgbm"}
    return table.set_index("customer_id").sort_index()


def test_a_computed_snapshot_equals_the_stored_one(warehouse: Engine) -> None:
    load_world(warehouse)
    stored, _ = history_at(warehouse, AS_OF, stored=True)
    computed, _ = history_at(warehouse, AS_OF)
    numbers = ["recency_days", "frequency", "monetary", "avg_order_value", "tenure_days",
               "product_breadth", "spend_trend", "crm_opportunities", "service_contacts"]

    def comparable(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.sort_values("customer_id", ignore_index=True)
        return frame[["customer_id"]].join(frame[numbers].apply(pd.to_numeric).astype(float))

    pd.testing.assert_frame_equal(comparable(computed), comparable(stored))
