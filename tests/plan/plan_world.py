"""A small warehouse for the planner's fitted responses: two stores in two countries, five SKUs,
65 weeks of steady sales and weekly-patterned spend, a 56-day forecast, a lift model and a mix
model in the registry, last year's and the planned promotion calendar.

The plan starts the Monday after AS_OF and runs 10 weeks: the forecast covers the first 8, the
last 2 come from last year. Planned promotions start on Mondays and last 7 days inside the
forecast weeks, so the base can be checked exactly against the forecast week by week.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from liftline import registry
from liftline.promo.artifacts import save_lift_model
from liftline.promo.model import train_lift_model
from liftline.promo.spec import PromoSpec
from liftline.warehouse import bulk_insert, clean_table, table

AS_OF = dt.date(2024, 3, 31)  # a Sunday
START = dt.date(2024, 4, 1)
WEEKS = 10
FIRST_DAY = dt.date(2023, 1, 2)
FORECAST_UNITS = 60.0  # per store and day, against 50 sold every day of the history
PRODUCTS = pd.DataFrame({
    "sku": ["A1", "A2", "A3", "B1", "B2"],
    "category": ["snacks", "snacks", "snacks", "dairy", "dairy"],
    "list_price": [4.0, 3.0, 2.0, 2.5, 2.0],
    "unit_cost": [1.0, 1.0, 1.0, 0.5, 0.5],
})
STORES = pd.DataFrame({"store_id": ["S0", "S1"], "region": ["R1", "R2"],
                       "country": ["DE", "FR"]})
CHANNELS = {"tv": 10.0, "search": 4.0}  # spend per day in the pattern's lowest week
PROMOTIONS = [
    # Last year, in the plan's second week: repeated (nothing planned clashes with it).
    {"promo_id": "LY1", "start_date": dt.date(2023, 4, 10), "end_date": dt.date(2023, 4, 16),
     "discount_pct": 20.0, "category": "snacks", "promo_type": "price_discount",
     "cost": 300.0, "status": "completed"},
    # Last year, in the third week, dairy in S0: clashes with the planned PL1.
    {"promo_id": "LY2", "start_date": dt.date(2023, 4, 17), "end_date": dt.date(2023, 4, 23),
     "discount_pct": 20.0, "sku": "B1", "store_id": "S0", "promo_type": "price_discount",
     "cost": 120.0, "status": "completed"},
    # Planned: dairy in region R1 (store S0: SKUs B1 and B2) in the third week ...
    {"promo_id": "PL1", "start_date": dt.date(2024, 4, 15), "end_date": dt.date(2024, 4, 21),
     "discount_pct": 10.0, "category": "dairy", "region": "R1", "promo_type": "flyer",
     "cost": 200.0, "status": "planned"},
    # ... and A1 in every store in the sixth week.
    {"promo_id": "PL2", "start_date": dt.date(2024, 5, 6), "end_date": dt.date(2024, 5, 12),
     "discount_pct": 30.0, "sku": "A1", "promo_type": "price_discount", "cost": 150.0,
     "status": "planned"},
]
MMM_PARAMS = {
    "target": "revenue", "adstock": "geometric",
    "channels": {"tv": {"theta": 0.5, "alpha": 1.0, "gamma": 0.5, "hill_inflexion": 300.0,
                        "beta": 120.0},
                 "search": {"theta": 0.1, "alpha": 1.0, "gamma": 0.5, "hill_inflexion": 60.0,
                            "beta": 60.0}},
}


def days() -> pd.DatetimeIndex:
    return pd.date_range(FIRST_DAY, AS_OF, freq="D")


def spend_pattern(day: pd.Series) -> np.ndarray:
    """1, 2, 3, 4 times the base by week: each week's spend is its own."""
    week = (pd.to_datetime(day) - pd.Timestamp(FIRST_DAY)).dt.days // 7
    return (1 + week % 4).to_numpy(float)


def build(engine: Engine, mmm: bool = True, forecast: bool = True, lift: bool = True,
          spend_from: dt.date = FIRST_DAY) -> None:
    bulk_insert(engine, clean_table("products"), PRODUCTS)
    bulk_insert(engine, clean_table("stores"), STORES)
    bulk_insert(engine, clean_table("promotions"), pd.DataFrame(PROMOTIONS))
    _sales(engine)
    _spend(engine, spend_from)
    _mmm_revenue(engine)
    if forecast:
        _forecast(engine)
    if lift:
        _lift_model(engine)
    if mmm:
        register_mix_model(engine)


def _sales(engine: Engine) -> None:
    cells = STORES.merge(PRODUCTS[["sku", "category", "list_price"]], how="cross")
    sales = cells.merge(pd.DataFrame({"date": days()}), how="cross")
    sales["units"] = 10.0
    sales["revenue"] = sales["units"] * sales["list_price"]
    sales["unit_price"] = sales["list_price"]
    flags = {"promo_count": 0, "campaigns_active": 0, "media_spend": 0.0, "event_count": 0,
             "is_holiday": False, "is_closed": False}
    sales = sales.assign(**flags, dow=sales["date"].dt.dayofweek, month=sales["date"].dt.month)
    bulk_insert(engine, table("feat_sales_daily"), sales)
    store = sales.groupby(["store_id", "date"])[["units", "revenue"]].sum().reset_index()
    store = store.merge(STORES, on="store_id")
    store = store.assign(is_future=False, promo_count=0, promo_sku_share=0.0, event_count=0,
                         is_holiday=False, is_closed=False, dow=store["date"].dt.dayofweek,
                         month=store["date"].dt.month, day_of_year=store["date"].dt.dayofyear)
    bulk_insert(engine, table("feat_sales_store_daily"), store)
    past = pd.Timestamp(AS_OF) - pd.Timedelta(days=40)
    bulk_insert(engine, table("feat_promo_effectiveness"), pd.DataFrame({
        "promo_id": ["OLD1", "OLD1"], "store_id": ["S0", "S1"], "start_date": [past, past],
        "end_date": [past + pd.Timedelta(days=6)] * 2, "duration_days": [7, 7],
        "discount_pct": [20.0, 20.0], "promo_type": ["flyer"] * 2, "sku": ["A1", "A1"],
        "category": ["snacks"] * 2, "region": ["R1", "R2"], "country": ["DE", "FR"],
        "month": [past.month] * 2, "n_skus": [1, 1], "concurrent_promos": [0, 0],
        "baseline_days": [28, 28], "during_days": [7, 7], "post_days": [14, 14],
        "observed_lift_pct": [60.0, 70.0], "status": ["completed"] * 2,
        "past_promos_category": [0, 0]}))
    bulk_insert(engine, table("ml_promo_lift"), pd.DataFrame({
        "promo_id": ["M1", "M2", "M3"], "category": ["snacks"] * 3, "status": ["completed"] * 3,
        "incremental_units": [100.0, 100.0, 100.0], "dip_units": [-20.0, -20.0, -20.0],
        "cannibalized_units": [-10.0, -10.0, -10.0]}))


def _spend(engine: Engine, first: dt.date) -> None:
    daily = pd.DataFrame({"date": pd.date_range(first, AS_OF, freq="D")})
    rows = []
    for country, scale in (("DE", 1.0), ("FR", 0.5)):
        for channel, level in CHANNELS.items():
            part = daily.assign(country=country, channel=channel,
                                campaign_id=f"{country}-{channel}")
            part["spend"] = level * scale * spend_pattern(part["date"])
            rows.append(part)
    bulk_insert(engine, clean_table("spend"), pd.concat(rows, ignore_index=True))


def weekly_spend_truth() -> pd.DataFrame:
    """country, channel, week_start, spend as delivered (the clean extract summed by week)."""
    daily = pd.DataFrame({"date": days()})
    rows = []
    for country, scale in (("DE", 1.0), ("FR", 0.5)):
        for channel, level in CHANNELS.items():
            spend = level * scale * spend_pattern(daily["date"])
            week = daily["date"] - pd.to_timedelta(daily["date"].dt.weekday, unit="D")
            rows.append(pd.DataFrame({"country": country, "channel": channel,
                                      "week_start": week, "spend": spend}))
    return pd.concat(rows).groupby(["country", "channel", "week_start"])["spend"].sum(
        ).reset_index()


def _mmm_revenue(engine: Engine) -> None:
    weeks = pd.date_range(pd.Timestamp(AS_OF) - pd.Timedelta(weeks=52), AS_OF, freq="W-MON")
    rows = pd.DataFrame({"week_start": weeks}).merge(
        pd.DataFrame({"country": ["DE", "FR", "ALL"]}), how="cross")
    rows = rows.assign(segment="all", channel="tv", spend=0.0, campaigns=0, revenue_pos=750.0,
                       revenue_erp=250.0, revenue=1000.0)
    bulk_insert(engine, table("feat_mmm_weekly"), rows)


def _forecast(engine: Engine) -> None:
    dates = pd.date_range(START, periods=56, freq="D")
    price = (PRODUCTS["list_price"].mean())
    rows = []
    for measure, level in (("units", FORECAST_UNITS), ("revenue", FORECAST_UNITS * price)):
        for store in STORES["store_id"]:
            rows.append(pd.DataFrame({
                "run_id": "score-1", "model_name": "lgbm", "model_version": "v1",
                "series_key": store, "store_id": store, "date": dates, "yhat": level,
                "yhat_lower": 0.8 * level, "yhat_upper": 1.2 * level, "grain": "store_day",
                "measure": measure, "as_of_date": AS_OF, "period_days": 1,
                "created_at": dt.datetime(2024, 4, 1, 6)}))
    bulk_insert(engine, table("ml_sales_forecast"), pd.concat(rows, ignore_index=True))


def _lift_model(engine: Engine) -> None:
    spec = PromoSpec()
    spec = PromoSpec(model={**spec.section("model"), "n_estimators": 60})
    model = train_lift_model(measured(), spec, log=lambda _: None)
    save_lift_model(engine, "train-1", model, spec, AS_OF, log=lambda _: None)


def measured(n_promos: int = 60, seed: int = 3) -> pd.DataFrame:
    """Measured promotion x store lifts growing with discount (snacks respond more)."""
    rng = np.random.default_rng(seed)
    promos = pd.DataFrame({
        "promo_id": [f"P{i:03d}" for i in range(n_promos)],
        "start_date": pd.Timestamp("2023-01-02") + pd.to_timedelta(5 * np.arange(n_promos), "D"),
        "duration_days": rng.choice([7, 14], n_promos),
        "discount_pct": rng.choice([5.0, 10.0, 20.0, 30.0, 50.0], n_promos),
        "promo_type": rng.choice(["price_discount", "flyer"], n_promos),
        "category": rng.choice(["snacks", "dairy"], n_promos),
        "sku": None,
    })
    rows = promos.merge(STORES[["store_id", "region"]], how="cross")
    rows["end_date"] = rows["start_date"] + pd.to_timedelta(rows["duration_days"] - 1, "D")
    rows["month"] = rows["start_date"].dt.month
    rows["n_skus"] = 1
    rows["concurrent_promos"] = 0
    rows["past_promos_category"] = 0
    for column in ("past_lift_mean_category", "past_lift_last_category",
                   "days_since_category_promo"):
        rows[column] = np.nan
    sensitivity = rows["category"].map({"snacks": 1.4, "dairy": 0.7})
    rows["lift_pct"] = (sensitivity * 100 * (1 - np.exp(-rows["discount_pct"] / 20))
                        + rng.normal(0, 4, len(rows)))
    rows["weight"] = 100.0
    return rows


def register_mix_model(engine: Engine, params: dict | None = None) -> None:
    card = registry.ModelCard(
        model="mmm/ALL/all", family="mmm", run_id="train-1", metric="cv_mape", score=0.1,
        baseline="no_media", baseline_score=0.2, backtest_window={},
        data_start=str(FIRST_DAY), data_end=str(AS_OF), params={})
    registry.register(engine, card, {"fit.json": {"params": params or MMM_PARAMS}},
                      log=lambda _: None)
