"""Model health on a warehouse: drift, realised accuracy, source freshness and model age,
each alerting once per change of state (SQLite and, when configured, PostgreSQL)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select, update

from liftline.alerts import alert_summary
from liftline.modeling import Lifecycle, column_psi, profile_inputs
from liftline.monitor import (
    check_accuracy,
    check_drift,
    check_freshness,
    check_model_health,
    check_stale_models,
)
from liftline.registry import ModelCard, Version, register
from liftline.warehouse import bulk_insert, read_frame, table

TRAINED_TO = date(2024, 5, 31)
AS_OF = date(2024, 6, 28)
STORES = [f"ST-{i:04d}" for i in range(1, 9)]
PROFILED = ("units", "promo_sku_share", "media_spend", "event_count")
QUIET = Lifecycle()


def quiet(_: str) -> None:
    pass


def strict_json(summary: dict) -> dict:
    return json.loads(json.dumps(summary, allow_nan=False))


def alerts(engine: Engine, kind: str) -> pd.DataFrame:
    found = table("ops_alerts")
    return read_frame(engine, select(found).where(found.c.kind == kind)
                      .order_by(found.c.created_at, found.c.alert_id))


# --- building a warehouse -----------------------------------------------------------------------


def store_days(first: date, last: date, seed: int = 3) -> pd.DataFrame:
    """Dense store-days with steady units, media flights and the odd event, as the roll-up."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(first, last)
    n = len(days) * len(STORES)
    date_col = np.repeat(days, len(STORES))
    week = (date_col - pd.Timestamp(first)).days // 7
    return pd.DataFrame({
        "date": date_col.date, "store_id": np.tile(STORES, len(days)), "region": "north",
        "is_future": False, "units": rng.normal(200, 20, n).round(),
        "promo_count": 0, "promo_sku_share": np.where(rng.random(n) < 0.3, 0.25, 0.0),
        "media_spend": np.where(week % 4 == 3, 0.0, rng.gamma(4, 100, n)).round(2),
        "event_count": (rng.random(n) < 0.05).astype(int), "is_holiday": False,
        "is_closed": False, "dow": date_col.dayofweek, "month": date_col.month,
        "day_of_year": date_col.dayofyear,
    })


def load_store_days(engine: Engine, frame: pd.DataFrame) -> None:
    bulk_insert(engine, table("feat_sales_store_daily"), frame)


def card(model: str, data_end: date, run_id: str, score: float | None = 0.1,
         metric: str = "wape", inputs: dict | None = None) -> ModelCard:
    return ModelCard(model=model, family=model.split("/")[0], run_id=run_id, metric=metric,
                     score=score, baseline="seasonal_naive", baseline_score=None,
                     backtest_window={"horizon_days": 56}, data_start="2024-01-01",
                     data_end=str(data_end), inputs=inputs or {})


def register_champion(engine: Engine, model_card: ModelCard) -> Version:
    version = register(engine, model_card, {}, None, QUIET, log=quiet)
    assert version.status == "champion"
    return version


def trained_forecast(engine: Engine, history: pd.DataFrame) -> Version:
    """A forecast champion whose card profiles the store-days up to TRAINED_TO."""
    rows = history.loc[pd.to_datetime(history["date"]) <= pd.Timestamp(TRAINED_TO)]
    inputs = profile_inputs(rows, PROFILED, table="feat_sales_store_daily",
                            scope={"store_id": STORES, "is_future": [False]})
    return register_champion(engine, card("sales_forecast/north", TRAINED_TO, "train-1",
                                          inputs=inputs))


# --- drift --------------------------------------------------------------------------------------


def test_drift_fires_on_a_shifted_feature_and_not_on_an_unshifted_one(warehouse: Engine) -> None:
    history = store_days(date(2024, 1, 1), AS_OF)
    trained_forecast(warehouse, history)
    load_store_days(warehouse, history)

    steady = strict_json(check_drift(warehouse, "monitor-1", log=quiet))
    assert steady["as_of"] == str(AS_OF)
    (model,) = steady["models"]
    assert model["status"] == "ok" and model["rows"] == 28 * len(STORES)
    assert max(model["psi"].values()) < 0.25
    assert alerts(warehouse, "drift").empty

    # From June on, units are half as high again; everything else is unchanged.
    feat = table("feat_sales_store_daily")
    with warehouse.begin() as conn:
        conn.execute(update(feat).where(feat.c.date > TRAINED_TO)
                     .values(units=feat.c.units * 1.5))
    shifted = strict_json(check_drift(warehouse, "monitor-2", log=quiet))
    (model,) = shifted["models"]
    assert model["status"] == "drifting" and list(model["drifting"]) == ["units"]
    assert model["psi"]["units"] > 1.0 and model["psi"]["media_spend"] < 0.25
    raised = alerts(warehouse, "drift")
    assert len(raised) == 1 and shifted["alerts"] == 1
    alert = raised.iloc[0]
    assert alert["entity_key"] == "sales_forecast/north" and alert["severity"] == "warning"
    assert "units PSI" in alert["title"] and "media_spend" not in alert["title"]
    assert "| Drifting features: units PSI" in alert_summary(alert.to_dict())

    # The next day's check sees the same drift: no second alert.
    assert check_drift(warehouse, "monitor-3", log=quiet)["alerts"] == 0
    assert len(alerts(warehouse, "drift")) == 1


def test_drift_recovers_with_hysteresis(warehouse: Engine) -> None:
    history = store_days(date(2024, 1, 1), AS_OF)
    rows = history.loc[pd.to_datetime(history["date"]) <= pd.Timestamp(TRAINED_TO)]
    inputs = profile_inputs(rows, PROFILED, table="feat_sales_store_daily",
                            scope={"store_id": STORES, "is_future": [False]})
    # Pretend the training windows' units strayed nearly as far as a 10% rise does, so the
    # rise lies between the reference and the margin above it.
    recent = history.loc[pd.to_datetime(history["date"]) > pd.Timestamp(TRAINED_TO), "units"]
    moderate = column_psi(inputs["columns"]["units"], recent * 1.1)
    assert moderate > 0.25
    inputs["columns"]["units"]["reference_psi"] = moderate / 1.2
    register_champion(warehouse, card("sales_forecast/north", TRAINED_TO, "t1", inputs=inputs))
    load_store_days(warehouse, history)
    feat = table("feat_sales_store_daily")

    def units_times(factor: float) -> str:
        with warehouse.begin() as conn:
            conn.execute(update(feat).where(feat.c.date > TRAINED_TO)
                         .values(units=feat.c.units * factor))
        return check_drift(warehouse, "monitor", log=quiet)["models"][0]["status"]

    assert units_times(1.1) == "ok"  # within 1.5 x the reference: not drifting
    assert units_times(1.5 / 1.1) == "drifting"
    assert units_times(1.1 / 1.5) == "drifting"  # still above the reference: no flapping
    assert units_times(1 / 1.1) == "ok"
    raised = alerts(warehouse, "drift")
    assert list(raised["state"]) == ["drifting", "ok"]
    assert list(raised["severity"]) == ["warning", "info"]
    assert "back within their limits" in raised.iloc[1]["title"]


def test_a_champion_without_an_input_profile_is_not_judged(warehouse: Engine) -> None:
    load_store_days(warehouse, store_days(date(2024, 5, 1), AS_OF))
    register_champion(warehouse, card("sales_forecast/north", TRAINED_TO, "train-1"))
    (model,) = check_drift(warehouse, "monitor-1", log=quiet)["models"]
    assert model["status"] == "not_judged" and "no input profile" in model["reason"]
    assert alerts(warehouse, "drift").empty


# --- realised accuracy --------------------------------------------------------------------------


def forecasts(version: str, stores: list[str], error: float, origin: date,
              days: int = 28) -> pd.DataFrame:
    """Store-day forecasts made at `origin` for the `days` after it, off by +-`error`."""
    rows = []
    for store in stores:
        for k in range(1, days + 1):
            sign = 1 if (k + len(store)) % 2 else -1
            rows.append({"run_id": f"score-{origin}", "model_name": "lightgbm",
                         "model_version": version, "series_key": store, "store_id": store,
                         "date": origin + timedelta(days=k), "grain": "store_day",
                         "as_of_date": origin, "horizon_days": k, "period_days": 1,
                         "yhat": 200.0 * (1 + sign * error),
                         "created_at": datetime(2024, 6, 1, 6, 0)})
    return pd.DataFrame(rows)


def test_model_degraded_fires_when_realised_error_is_far_above_the_cards(
        warehouse: Engine) -> None:
    actuals = store_days(date(2024, 5, 1), AS_OF).assign(units=200.0)
    load_store_days(warehouse, actuals)
    north = register_champion(warehouse, card("sales_forecast/north", TRAINED_TO, "t1"))
    south = register_champion(warehouse, card("sales_forecast/south", TRAINED_TO, "t1"))
    origin = AS_OF - timedelta(days=28)
    rows = pd.concat([forecasts(north.version, STORES[:4], 0.11, origin),   # WAPE 0.11: close
                      forecasts(south.version, STORES[4:], 0.40, origin)])  # WAPE 0.40: far
    bulk_insert(warehouse, table("ml_sales_forecast"), rows)
    # A rerun of the scoring run wrote the same forecasts again: they count once.
    bulk_insert(warehouse, table("ml_sales_forecast"), rows.assign(run_id="rerun"))

    summary = strict_json(check_accuracy(warehouse, "monitor-1", log=quiet))
    verdicts = {m["model"]: m for m in summary["models"]}
    assert verdicts["sales_forecast/north"]["status"] == "ok"
    assert verdicts["sales_forecast/north"]["realised"] == 0.11
    assert verdicts["sales_forecast/south"]["status"] == "degraded"
    assert verdicts["sales_forecast/south"]["realised"] == 0.4
    assert verdicts["sales_forecast/south"]["limit"] == 0.125  # backtest 0.10 x (1 + 0.25)
    assert verdicts["sales_forecast/south"]["pairs"] == 4 * 28
    raised = alerts(warehouse, "model_degraded")
    assert list(raised["entity_key"]) == ["sales_forecast/south"]
    assert "realised WAPE 40.0%" in raised.iloc[0]["title"]
    assert "above its backtest WAPE 10.0%" in raised.iloc[0]["title"]
    summary = alert_summary(raised.iloc[0].to_dict())
    assert "Realised wape: 40.0%" in summary and "Limit wape: 12.5%" in summary
    assert "roll back" in summary  # the kind's default action
    assert check_accuracy(warehouse, "monitor-2", log=quiet)["alerts"] == 0


def test_too_few_realised_days_are_not_judged(warehouse: Engine) -> None:
    load_store_days(warehouse, store_days(date(2024, 5, 1), AS_OF).assign(units=200.0))
    version = register_champion(warehouse, card("sales_forecast/north", TRAINED_TO, "t1"))
    origin = AS_OF - timedelta(days=3)  # three days realised so far
    bulk_insert(warehouse, table("ml_sales_forecast"),
                forecasts(version.version, STORES, 0.9, origin, days=10))
    (verdict,) = check_accuracy(warehouse, "monitor-1", log=quiet)["models"]
    assert verdict["status"] == "not_judged" and "3 days" in verdict["reason"]
    assert alerts(warehouse, "model_degraded").empty


def lift_rows(version: str, errors: list[float], kind: str = "frozen") -> pd.DataFrame:
    ends = [AS_OF - timedelta(days=5 + 3 * i) for i in range(len(errors))]
    return pd.DataFrame({
        "promo_id": [f"{kind}-{i}" for i in range(len(errors))], "model_version": version,
        "predicted_lift_pct": 10.0, "actual_lift_pct": [10.0 + e for e in errors],
        "prediction_kind": kind, "start_date": [e - timedelta(days=7) for e in ends],
        "end_date": ends, "as_of_date": AS_OF, "status": "completed"})


def test_lift_predictions_degrade_against_the_cards_holdout_mae(warehouse: Engine) -> None:
    load_store_days(warehouse, store_days(date(2024, 6, 1), AS_OF))
    version = register_champion(warehouse, card("promo_lift", TRAINED_TO, "t1", score=4.0,
                                                metric="mae_pp"))
    lift = table("ml_promo_lift")
    bulk_insert(warehouse, lift, lift_rows(version.version, [3.0, -4.5, 4.0, -3.5] * 3))
    # Backfilled predictions may come from a model that saw the promotion: never counted.
    bulk_insert(warehouse, lift, lift_rows(version.version, [40.0] * 10, kind="backfill"))
    (close,) = strict_json(check_accuracy(warehouse, "monitor-1", log=quiet))["models"]
    assert close["status"] == "ok" and close["promotions"] == 12
    assert close["realised"] == 3.75 and close["limit"] == 5.0
    assert alerts(warehouse, "model_degraded").empty

    with warehouse.begin() as conn:
        conn.execute(update(lift).where(lift.c.prediction_kind == "frozen")
                     .values(actual_lift_pct=lift.c.predicted_lift_pct + 12.0))
    (far,) = check_accuracy(warehouse, "monitor-2", log=quiet)["models"]
    assert far["status"] == "degraded" and far["realised"] == 12.0
    raised = alerts(warehouse, "model_degraded")
    assert list(raised["entity_key"]) == ["promo_lift"]
    assert "realised lift MAE 12.0 points" in raised.iloc[0]["title"]


# --- source freshness ---------------------------------------------------------------------------


def delivered(engine: Engine, source: str, at: datetime, status: str = "loaded") -> None:
    bulk_insert(engine, table("ops_ingest_log"), pd.DataFrame([{
        "file_sha256": f"{source}-{at.isoformat()}-{status}", "source": source,
        "file_name": f"{source}_{at:%Y%m%d}.csv", "rows_in": 10, "rows_loaded": 10,
        "rows_rejected": 0, "status": status, "received_at": at}]))


def test_a_source_that_stops_delivering_raises_stale_source_once_and_recovers(
        warehouse: Engine) -> None:
    start = datetime(2024, 6, 1, 5, 0)
    delivered(warehouse, "stores", start - timedelta(days=300))  # a dimension: never stale
    states = []
    for day in range(12):
        now = start + timedelta(days=day, hours=2)
        if day < 4 or day >= 9:  # POS arrives daily, is silent on days 4-8, then resumes
            delivered(warehouse, "pos", start + timedelta(days=day))
        if day == 7:  # a quarantined file is not a delivery
            delivered(warehouse, "pos", now, status="quarantined")
        summary = strict_json(check_freshness(warehouse, f"monitor-{day}", log=quiet, now=now))
        states.append({s["source"]: s["status"] for s in summary["sources"]})
    # The last file before the gap landed on day 3 at 05:00: more than 2 days ago from day 5.
    assert [s["pos"] for s in states] == ["ok"] * 5 + ["stale"] * 4 + ["ok"] * 3
    assert all(set(s) == {"pos"} for s in states)  # stores not judged, crm never delivered
    raised = alerts(warehouse, "stale_source")
    assert list(raised["state"]) == ["stale", "ok"]
    assert list(raised["severity"]) == ["warning", "info"]
    assert list(raised["entity_key"]) == ["pos", "pos"]
    assert "no delivery for 2.1 days (expected every 2 days)" in raised.iloc[0]["title"]
    summary = alert_summary(raised.iloc[0].to_dict())
    assert "Silent for: 2.1 days" in summary and "Expected every: 2 days" in summary
    assert "No action needed" in alert_summary(raised.iloc[1].to_dict())
    # Alerts carry the moment they were judged at (a replay's `now`, not the wall clock).
    assert raised.iloc[0]["created_at"] == start + timedelta(days=5, hours=2)


# --- model age ----------------------------------------------------------------------------------


def test_stale_model_fires_for_an_old_champion_and_not_a_fresh_one(warehouse: Engine) -> None:
    register_champion(warehouse, card("sales_forecast/north", date(2024, 5, 1), "t1"))
    register_champion(warehouse, card("sales_forecast/south", date(2024, 6, 20), "t1"))
    summary = strict_json(check_stale_models(warehouse, "monitor-1", as_of=AS_OF, log=quiet))
    ages = {m["model"]: (m["age_days"], m["status"]) for m in summary["models"]}
    assert ages == {"sales_forecast/north": (58, "stale"), "sales_forecast/south": (8, "ok")}
    raised = alerts(warehouse, "stale_model")
    assert list(raised["entity_key"]) == ["sales_forecast/north"]
    assert "58 days old (limit 21)" in raised.iloc[0]["title"]
    assert "Age: 58 days, Age limit: 21 days" in alert_summary(raised.iloc[0].to_dict())
    assert check_stale_models(warehouse, "monitor-2", as_of=AS_OF, log=quiet)["alerts"] == 0

    # Retrained: the new champion is fresh and the model recovers, once.
    register(warehouse, card("sales_forecast/north", date(2024, 6, 27), "t2", score=0.05), {},
             0.1, QUIET, log=quiet)
    check_stale_models(warehouse, "monitor-3", as_of=AS_OF, log=quiet)
    check_stale_models(warehouse, "monitor-4", as_of=AS_OF, log=quiet)
    assert list(alerts(warehouse, "stale_model")["state"]) == ["stale", "ok"]
    # Replaying the earlier day judges the champion of that day.
    (north, _) = check_stale_models(warehouse, "replay", as_of=date(2024, 6, 10),
                                    log=quiet)["models"]
    assert north["data_end"] == "2024-05-01" and north["status"] == "stale"


# --- all together -------------------------------------------------------------------------------


def test_check_model_health_runs_every_check(warehouse: Engine) -> None:
    history = store_days(date(2024, 1, 1), AS_OF)
    trained_forecast(warehouse, history)
    load_store_days(warehouse, history)
    delivered(warehouse, "pos", datetime(2024, 6, 20))
    found = strict_json(check_model_health(warehouse, "monitor-1", log=quiet,
                                           now=datetime(2024, 6, 29)))
    assert found["as_of"] == str(AS_OF)
    assert found["drift"]["models"][0]["status"] == "ok"
    assert found["freshness"]["stale"] == ["pos"]
    assert found["stale_models"]["stale"] == ["sales_forecast/north"]  # 28 days > 21
    assert found["accuracy"]["models"] == []  # nothing forecast yet
    assert found["alerts"] == 2


def test_an_empty_warehouse_skips_with_reasons(warehouse: Engine) -> None:
    found = strict_json(check_model_health(warehouse, "monitor-1", log=quiet))
    assert found["drift"]["status"] == found["accuracy"]["status"] == "skipped"
    assert found["stale_models"]["status"] == "skipped"
    assert found["freshness"]["sources"] == [] and found["alerts"] == 0


def satisfaction_rows(version: str, labels: list[bool], p: float, days: int = 2
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each interaction scored on `days` days before it was rated `labels[i]` (low or not)."""
    ids = [f"SR-{i:04d}" for i in range(len(labels))]
    scores = pd.DataFrame([{"run_id": f"score-{d}", "interaction_id": i, "p_low_satisfaction": p,
                            "risk_level": "medium", "model_version": version,
                            "as_of_date": AS_OF - timedelta(days=3 + d)}
                           for i in ids for d in range(days)])
    opened = datetime.combine(AS_OF - timedelta(days=10), datetime.min.time())
    feats = pd.DataFrame({
        "interaction_id": ids, "customer_id": "CU-1", "opened_at": opened,
        "opened_date": opened.date(), "hour": 9, "weekday": 1, "is_closed": True,
        "repeat_contact_30d": False, "prior_contacts": 0, "label_low_satisfaction": labels,
        "run_id": "features"})
    return scores, feats


def test_satisfaction_scores_degrade_against_the_cards_brier(warehouse: Engine) -> None:
    load_store_days(warehouse, store_days(date(2024, 6, 1), AS_OF))
    version = register_champion(warehouse, card("satisfaction", TRAINED_TO, "t1", score=0.2,
                                                metric="brier"))
    labels = [True, False] * 20  # p 0.5 on a half-low mix: Brier 0.25, within 0.2 x 1.25
    scores, feats = satisfaction_rows(version.version, labels, p=0.5)
    bulk_insert(warehouse, table("feat_service_interaction"), feats)
    bulk_insert(warehouse, table("ml_satisfaction_scores"), scores)
    rerun = scores.assign(run_id=scores["run_id"] + "-rerun")  # a day scored twice
    bulk_insert(warehouse, table("ml_satisfaction_scores"), rerun)
    (close,) = strict_json(check_accuracy(warehouse, "monitor-1", log=quiet))["models"]
    assert close["status"] == "ok" and close["realised"] == 0.25 and close["rows"] == 80
    assert close["interactions"] == 40 and close["limit"] == 0.25

    with warehouse.begin() as conn:  # confident and wrong: Brier 0.81
        conn.execute(update(table("ml_satisfaction_scores")).values(
            p_low_satisfaction=0.1))
        conn.execute(update(table("feat_service_interaction")).values(
            label_low_satisfaction=True))
    (far,) = check_accuracy(warehouse, "monitor-2", log=quiet)["models"]
    assert far["status"] == "degraded" and round(far["realised"], 2) == 0.81
    raised = alerts(warehouse, "model_degraded")
    assert list(raised["entity_key"]) == ["satisfaction"]
    assert "realised Brier score 0.810" in raised.iloc[0]["title"]


def test_satisfaction_scores_not_yet_rated_are_not_judged(warehouse: Engine) -> None:
    load_store_days(warehouse, store_days(date(2024, 6, 1), AS_OF))
    version = register_champion(warehouse, card("satisfaction", TRAINED_TO, "t1", score=0.2,
                                                metric="brier"))
    scores, feats = satisfaction_rows(version.version, [True] * 10, p=0.5)
    bulk_insert(warehouse, table("feat_service_interaction"), feats)
    bulk_insert(warehouse, table("ml_satisfaction_scores"), scores)
    (verdict,) = check_accuracy(warehouse, "monitor-1", log=quiet)["models"]
    assert verdict["status"] == "not_judged" and "20 scored rows" in verdict["reason"]
