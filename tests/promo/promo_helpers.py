"""Small synthetic inputs for the promotion-lift tests: a measured frame with a known discount
response, and a tiny warehouse (two stores, two categories) for recommendations and what-ifs."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from liftline.promo.spec import PromoSpec
from liftline.warehouse import bulk_insert, clean_table, table

SENSITIVITY = {"snacks": 1.4, "dairy": 0.7, "household": 1.0}
TYPE_BASE = {"price_discount": 0.0, "flyer": 10.0}
AS_OF = date(2024, 3, 31)  # a Sunday: the first recommended week starts 2024-04-01


def true_lift(discount: np.ndarray, category: pd.Series, promo_type: pd.Series) -> np.ndarray:
    """Lift % growing with discount with diminishing returns, scaled per category."""
    return (category.map(SENSITIVITY).to_numpy() * 100 * (1 - np.exp(-discount / 20))
            + promo_type.map(TYPE_BASE).to_numpy())


def measured_frame(n_promos: int = 80, stores: int = 3, noise: float = 8.0,
                   seed: int = 3) -> pd.DataFrame:
    """One row per promotion x store, a promotion starting every 5 days, lift from true_lift
    plus noise; one promotion in ten has no effect."""
    rng = np.random.default_rng(seed)
    promos = pd.DataFrame({
        "promo_id": [f"P{i:03d}" for i in range(n_promos)],
        "start_date": pd.Timestamp("2023-01-02") + pd.to_timedelta(5 * np.arange(n_promos), "D"),
        "duration_days": rng.choice([7, 14], n_promos),
        "discount_pct": rng.choice([10.0, 20.0, 30.0, 40.0, 50.0], n_promos),
        "promo_type": rng.choice(list(TYPE_BASE), n_promos),
        "category": rng.choice(list(SENSITIVITY), n_promos),
        "sku": np.where(rng.random(n_promos) < 0.5, "SKU-1", None),
        "no_effect": rng.random(n_promos) < 0.1,
    })
    lift = true_lift(promos["discount_pct"].to_numpy(), promos["category"], promos["promo_type"])
    promos["true_lift_pct"] = np.where(promos["no_effect"], 0.0, lift)
    rows = promos.merge(pd.DataFrame({"store_id": [f"S{k}" for k in range(stores)]}),
                        how="cross")
    rows["end_date"] = rows["start_date"] + pd.to_timedelta(rows["duration_days"] - 1, "D")
    rows["region"] = np.where(rows["store_id"] == "S0", "R1", "R2")
    rows["month"] = rows["start_date"].dt.month
    rows["n_skus"] = np.where(rows["sku"].isna(), 5, 1)
    rows["concurrent_promos"] = 0
    rows["past_promos_category"] = 0
    for col in ("past_lift_mean_category", "past_lift_last_category",
                "days_since_category_promo"):
        rows[col] = np.nan
    rows["lift_pct"] = rows["true_lift_pct"] + rng.normal(0, noise, len(rows))
    rows["weight"] = rng.uniform(50, 200, len(rows))
    return rows


def quick_spec(**model) -> PromoSpec:
    """The default spec with fewer trees (fast tests) and any model keys overridden."""
    spec = PromoSpec()
    return replace(spec, model={**spec.section("model"), "n_estimators": 80, **model})


PRODUCTS = pd.DataFrame({
    "sku": ["A1", "A2", "A3", "B1", "B2"],
    "category": ["snacks", "snacks", "snacks", "dairy", "dairy"],
    "list_price": [4.0, 3.0, 2.0, 2.5, 2.0],
    "unit_cost": [1.0, 1.0, 1.0, 0.5, 0.5],
})
STORES = pd.DataFrame({"store_id": ["S0", "S1"], "region": ["R1", "R2"],
                       "country": ["DE", "DE"]})


def build_warehouse(engine: Engine, planned: list[dict] | None = None,
                    products: pd.DataFrame = PRODUCTS) -> None:
    """60 days of steady sales to AS_OF for every SKU in both stores, plus `planned`
    promotions (dicts of clean_promotions columns) and one measured past promotion."""
    bulk_insert(engine, clean_table("products"), products)
    bulk_insert(engine, clean_table("stores"), STORES)
    days = pd.date_range(AS_OF - timedelta(days=59), AS_OF, freq="D")
    cells = STORES[["store_id", "region", "country"]].merge(
        products[["sku", "category", "list_price"]], how="cross")
    sales = cells.merge(pd.DataFrame({"date": days}), how="cross")
    sales["units"] = 10.0
    sales["revenue"] = sales["units"] * sales["list_price"]
    sales["unit_price"] = sales["list_price"]
    flags = {"promo_count": 0, "campaigns_active": 0, "media_spend": 0.0, "event_count": 0,
             "is_holiday": False, "is_closed": False}
    sales = sales.assign(**flags, dow=sales["date"].dt.dayofweek, month=sales["date"].dt.month)
    bulk_insert(engine, table("feat_sales_daily"), sales)
    promos = pd.DataFrame(planned or [], columns=["promo_id", "start_date", "end_date",
                                                  "discount_pct", "sku", "category", "store_id",
                                                  "region", "promo_type", "status"])
    bulk_insert(engine, clean_table("promotions"), promos)
    bulk_insert(engine, table("feat_promo_effectiveness"), _past_promotions())


def _past_promotions() -> pd.DataFrame:
    start = pd.Timestamp(AS_OF) - pd.Timedelta(days=40)
    end = start + pd.Timedelta(days=6)
    return pd.DataFrame({
        "promo_id": ["OLD1", "OLD1"], "store_id": ["S0", "S1"],
        "start_date": [start, start], "end_date": [end, end],
        "duration_days": [7, 7], "discount_pct": [20.0, 20.0], "promo_type": ["flyer"] * 2,
        "sku": ["A1", "A1"], "category": ["snacks"] * 2, "region": ["R1", "R2"],
        "country": ["DE"] * 2, "month": [start.month] * 2, "n_skus": [1, 1],
        "concurrent_promos": [0, 0], "baseline_days": [28, 28], "during_days": [7, 7],
        "post_days": [14, 14], "observed_lift_pct": [60.0, 70.0], "status": ["completed"] * 2,
        "past_promos_category": [0, 0],
    })
