"""What if we ran this promotion? The lift model's answer for one SKU in one store.

Reads the latest trained lift model and the warehouse as of the last sales date before the
start (the same feature rows, baseline and economics as the recommendations), and answers
with the predicted lift and its interval, P(any lift), and baseline and incremental units,
revenue and margin. Mistakes (unknown SKU or store, terms outside the spec's bounds, no
trained model yet) are one-line ValueErrors saying what to do.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, inspect, select

from liftline.features import dimension_table
from liftline.warehouse import table

from .artifacts import load_lift_model
from .candidates import (
    Catalogue,
    baseline_rates,
    check_terms,
    feature_rows,
    load_catalogue,
    next_mondays,
    with_economics,
    with_prices,
)
from .model import LiftModel
from .spec import PromoSpec, load_spec

# The feature tables, the delivered dimensions the features package reads for us (their
# warehouse tables, so a missing one is named as the warehouse has it) and the registry.
NEEDED_TABLES = ("feat_sales_daily", "feat_promo_effectiveness",
                 *(dimension_table(name) for name in ("products", "stores", "promotions")),
                 "ml_model_registry")


def what_if(engine: Engine, sku: str, store_id: str, discount_pct: float, days: int,
            start: date | None = None, promo_type: str | None = None,
            spec: PromoSpec | None = None, model: LiftModel | None = None) -> dict[str, Any]:
    """The predicted outcome of promoting `sku` in `store_id` at `discount_pct` for `days`
    from `start` (default: the first Monday after the last sales date)."""
    spec = spec or load_spec()
    rec = spec.section("recommend")
    check_terms(discount_pct, days, rec)
    _require_tables(engine)
    model = model or load_lift_model(engine)
    if model is None:
        raise ValueError("no trained promotion-lift model in the warehouse: run `liftline run` "
                         "first")
    last_sale = _last_sales_date(engine)
    start = start or next_mondays(last_sale, 1)[0].date()
    as_of = min(last_sale, start - timedelta(days=1))  # only what is known before the start
    cat = load_catalogue(engine, as_of)
    _check_known(sku, store_id, cat)
    promo_type = promo_type or rec["promo_type"]
    _check_type(promo_type, model)
    candidate = pd.DataFrame([{"sku": sku, "store_id": store_id, "start_date": start,
                               "duration_days": int(days), "discount_pct": float(discount_pct),
                               "promo_type": promo_type}])
    row = feature_rows(candidate, cat)
    row = row.join(model.predict(row))
    if row["lift_pct"].isna().all():
        raise ValueError("the promotion-lift model has no measured promotions to predict from: "
                         "run `liftline run` once promotions have completed")
    baseline = baseline_rates(engine, candidate[["store_id", "sku"]], as_of)
    row = row.merge(baseline, on=["store_id", "sku"], how="left")
    row["baseline_units_per_day"] = row["baseline_units_per_day"].fillna(0.0)
    return _answer(with_prices(row, cat), model, as_of)


def _answer(row: pd.DataFrame, model: LiftModel, as_of: date) -> dict[str, Any]:
    r = with_economics(row).iloc[0]
    return {
        "sku": r["sku"], "store_id": r["store_id"], "category": _plain(r["category"]),
        "start": r["start_date"].date().isoformat(), "end": r["end_date"].date().isoformat(),
        "discount_pct": float(r["discount_pct"]), "duration_days": int(r["duration_days"]),
        "promo_type": r["promo_type"], "as_of": as_of.isoformat(),
        "p_any_lift": _plain(r["p_any_lift"]), "lift_pct": _plain(r["lift_pct"]),
        "lift_lower": _plain(r["lift_lower"]), "lift_upper": _plain(r["lift_upper"]),
        "interval_level": model.interval_level,
        "baseline_units": _plain(r["baseline_units"]),
        "promoted_units": _plain(r["promoted_units"]),
        "incremental_units": _plain(r["expected_incremental_units"]),
        "incremental_revenue": _plain(r["expected_incremental_revenue"]),
        "incremental_margin": _plain(r["expected_incremental_margin"]),
        "extrapolated": not bool(model.in_support(row).all()),
        "trained_discounts": model.discount_range.get(r["promo_type"]),
        "model_kind": model.kind, "model_version": model.version,
    }


def _require_tables(engine: Engine) -> None:
    names = set(inspect(engine).get_table_names())
    missing = [name for name in NEEDED_TABLES if name not in names]
    if missing:
        more = f" (and {len(missing) - 1} more tables)" if len(missing) > 1 else ""
        raise ValueError(f"the warehouse has no {missing[0]}{more}: run `liftline run` first")


def _last_sales_date(engine: Engine) -> date:
    sales = table("feat_sales_daily")
    with engine.connect() as conn:
        last = conn.execute(select(func.max(sales.c.date))).scalar()
    if last is None:
        raise ValueError("the warehouse holds no sales (feat_sales_daily is empty): run "
                         "`liftline run` first")
    return pd.Timestamp(last).date()


def _check_known(sku: str, store_id: str, cat: Catalogue) -> None:
    if sku not in set(cat.products["sku"]):
        raise ValueError(f"unknown SKU {sku!r}: it is not in the delivered products "
                         f"({dimension_table('products')})")
    if store_id not in set(cat.stores["store_id"]):
        raise ValueError(f"unknown store {store_id!r}: it is not in the delivered stores "
                         f"({dimension_table('stores')})")


def _check_type(promo_type: str, model: LiftModel) -> None:
    known = [] if model.encoder is None else model.encoder.vocab.get("promo_type", [])
    if known and promo_type not in known:
        raise ValueError(f"promotion type {promo_type!r} was never seen in training: use one of "
                         f"{', '.join(known)}")


def _plain(value: Any) -> Any:
    """JSON-ready: NaN becomes None, numpy scalars become Python ones."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value
