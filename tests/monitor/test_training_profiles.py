"""Training keeps its input profile in the model card, and the drift check reads it back:
the forecast and the lift model trained on a small world, then judged the same day."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

from sqlalchemy import select

from liftline.forecast import load_spec, train_forecasts
from liftline.forecast.artifacts import PROFILED_INPUTS as FORECAST_INPUTS
from liftline.monitor import check_drift
from liftline.promo import train_promo_lift
from liftline.promo.artifacts import PROFILED_INPUTS as LIFT_INPUTS
from liftline.registry import champion
from liftline.warehouse import read_frame, table

AS_OF = date(2023, 5, 31)


def quiet(_: str) -> None:
    pass


def small_forecast_spec():
    spec = load_spec()
    return dataclasses.replace(
        spec, min_history_days=60,
        candidates={"seasonal_naive": spec.params("seasonal_naive"),
                    "lightgbm": {**spec.params("lightgbm"), "n_estimators": 40}},
        backtest={"origins": 2, "spacing_days": 14, "min_train_days": 60})


def test_training_profiles_its_inputs_and_a_fresh_champion_does_not_drift(promo_warehouse):
    engine = promo_warehouse
    feat = table("feat_sales_store_daily")
    assert train_forecasts(engine, "train-1", log=quiet, spec=small_forecast_spec(),
                           as_of=AS_OF)["status"] == "trained"
    assert train_promo_lift(engine, "train-1", as_of=AS_OF, log=quiet)["status"] == "trained"

    forecast = champion(engine, "sales_forecast/all").card().inputs
    json.dumps(forecast, allow_nan=False)
    assert forecast["table"] == "feat_sales_store_daily"
    assert set(forecast["columns"]) == set(FORECAST_INPUTS)
    assert forecast["window"]["end"] == str(AS_OF) and forecast["window_days"] == 28
    selling = read_frame(engine, select(feat.c.store_id).distinct().where(
        feat.c.date <= AS_OF, feat.c.is_future.is_(False)))["store_id"]
    assert forecast["scope"] == {"store_id": sorted(selling), "is_future": [False]}
    assert all(c["reference_psi"] is not None for c in forecast["columns"].values())

    lift = champion(engine, "promo_lift").card().inputs
    assert lift["table"] == "feat_promo_effectiveness" and lift["date_column"] == "start_date"
    assert set(lift["columns"]) == set(LIFT_INPUTS) and lift["window_days"] == 91
    assert lift["columns"]["promo_type"]["kind"] == "categorical"

    # The window just before training is part of what the models learned from.
    judged = {m["model"]: m for m in check_drift(engine, "monitor-1", AS_OF, log=quiet)["models"]}
    assert judged["sales_forecast/all"]["status"] == "ok"
    assert judged["sales_forecast/all"]["rows"] == 28 * len(selling)
    assert judged["promo_lift"]["status"] == "ok"
    assert judged["promo_lift"]["window"] == "2023-03-02 to 2023-05-31"  # 91 days
