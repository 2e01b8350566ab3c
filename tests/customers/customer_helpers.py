"""A small customer world written straight into the clean tables: three kinds of buyers over
two years, a customer who never bought and one with a single purchase."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from liftline.customers import SegmentSpec, load_segment_spec
from liftline.features import build_table
from liftline.warehouse import bulk_insert, clean_table

START = date(2023, 1, 1)
AS_OF = date(2024, 12, 31)
# kind: (customers, mean days between purchases, mean invoice amount, active until day)
KINDS = {"heavy": (60, 14, 120.0, 730), "light": (90, 90, 30.0, 730),
         "gone": (50, 20, 50.0, 250)}
NEVER, ONCE = "C-NEVER", "C-ONCE"


def customer_world(seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(customers, invoices) of the small world."""
    rng = np.random.default_rng(seed)
    people, invoices = [], []
    for kind, (n, gap, amount, until) in KINDS.items():
        for i in range(n):
            cid = f"C-{kind}-{i:03d}"
            people.append({"customer_id": cid, "signup_date": START, "kind": kind})
            day = int(rng.integers(0, gap))
            while day < until:
                invoices.append({"customer_id": cid, "invoice_date": START + timedelta(day),
                                 "amount": round(float(rng.gamma(4, amount / 4)), 2)})
                day += 1 + int(rng.exponential(gap))
    people += [{"customer_id": NEVER, "signup_date": date(2024, 6, 1), "kind": "never"},
               {"customer_id": ONCE, "signup_date": date(2024, 10, 1), "kind": "once"}]
    invoices.append({"customer_id": ONCE, "invoice_date": date(2024, 11, 5), "amount": 80.0})
    erp = pd.DataFrame(invoices)
    erp.insert(0, "invoice_id", [f"INV-{i:06d}" for i in range(len(erp))])
    return pd.DataFrame(people), erp


def load_world(engine: Engine, as_of: date = AS_OF, seed: int = 3) -> pd.DataFrame:
    """Write the world's customers and invoices (up to `as_of`) and build feat_customer as of
    `as_of`; returns the customers with their kind."""
    people, erp = customer_world(seed)
    bulk_insert(engine, clean_table("customers"), people.drop(columns="kind"))
    bulk_insert(engine, clean_table("erp"), erp[erp.invoice_date <= as_of])
    build_table(engine, "feat_customer", "features", as_of=as_of, log=lambda _: None)
    return people


def small_spec() -> SegmentSpec:
    """The shipped spec with thresholds a world of 200 customers passes, and fewer refits."""
    spec = load_segment_spec()
    return SegmentSpec(
        segments={**spec.section("segments"), "min_customers": 20, "resamples": 2, "k_max": 5},
        value={**spec.section("value"), "min_buyers": 20, "n_estimators": 60},
        lifecycle=spec.lifecycle)
