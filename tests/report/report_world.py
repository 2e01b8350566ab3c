"""A tiny warehouse with rows in every table the report reads (as-of 2024-06-30).

The numbers are chosen so the report's sentences can be checked exactly: one recommendation
earns 500 and one loses 50, one promotion diverged (-25 points), two service interactions are at
high risk, one file was quarantined, and the mix model is a challenger that loses to its
no-media baseline.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import Engine, insert

from liftline.alerts import record_alert
from liftline.warehouse import table, write_transaction

AS_OF = dt.date(2024, 6, 30)
STORES = ("ST-1", "ST-2")
FAKE_PASSWORD = "Sup3r-S3cret-Passw0rd"
FAKE_URL = f"postgresql+psycopg://liftline:{FAKE_PASSWORD}@db:5432/wh"
FAKE_SLACK_TOKEN = "xoxb-0000-fake-slack-token"
NOW = dt.datetime(2024, 7, 1, 6, 0)


def _insert(conn, name: str, rows: list[dict]) -> None:
    conn.execute(insert(table(name)), rows)


def _store_days() -> list[dict]:
    rows = []
    for store in STORES:
        for back in range(28):
            day = AS_OF - dt.timedelta(days=back)
            units = 100.0 if back < 7 else 80.0  # the last week sells 25% more
            rows.append({"date": day, "store_id": store, "is_future": False, "units": units,
                         "revenue": units * 10, "promo_count": 0, "promo_sku_share": 0.0,
                         "event_count": 0, "is_holiday": False, "is_closed": False,
                         "dow": day.weekday(), "month": day.month,
                         "day_of_year": day.timetuple().tm_yday, "run_id": "features"})
        for back in range(364, 371):  # the same week a year before sold half as much
            day = AS_OF - dt.timedelta(days=back)
            rows.append({**rows[-1], "date": day, "units": 50.0, "revenue": 500.0,
                         "dow": day.weekday(), "month": day.month,
                         "day_of_year": day.timetuple().tm_yday})
    return rows


def _forecasts() -> list[dict]:
    rows = []
    for store in STORES:
        for ahead in range(1, 57):
            rows.append({"run_id": "score-2", "model_name": "lgbm", "model_version": "v2",
                         "series_key": store, "date": AS_OF + dt.timedelta(days=ahead),
                         "yhat": 90.0, "yhat_lower": 70.0, "yhat_upper": 110.0,
                         "grain": "store_day", "store_id": store, "as_of_date": AS_OF,
                         "interval_level": 0.9, "created_at": NOW})
        for back in range(10):  # an earlier run's forecast of days now observed
            rows.append({"run_id": "score-1", "model_name": "lgbm", "model_version": "v1",
                         "series_key": store, "date": AS_OF - dt.timedelta(days=back),
                         "yhat": 95.0, "yhat_lower": 75.0, "yhat_upper": 115.0,
                         "grain": "store_day", "store_id": store,
                         "as_of_date": AS_OF - dt.timedelta(days=10), "interval_level": 0.9,
                         "created_at": NOW - dt.timedelta(days=10)})
    return rows


def _registry() -> list[dict]:
    def row(model, version, status, metrics, run_id="train-1"):
        return {"model_name": model, "version": version, "status": status, "run_id": run_id,
                "trained_at": NOW - dt.timedelta(days=1), "metrics_json": json.dumps(metrics),
                "params_json": "{}", "data_start": dt.date(2023, 1, 1), "data_end": AS_OF,
                "artifact_uri": None}
    return [
        row("sales_forecast/R1", "sales_forecast-R1-20240630-aaaaaaa", "champion",
            {"metric": "wape", "score": 0.1, "baseline": "seasonal_naive",
             "baseline_score": 0.2}),
        row("promo_lift", "promo_lift-20240630-bbbbbbb", "champion",
            {"metric": "mae_pp", "score": 5.0, "baseline": "category_mean",
             "baseline_score": 8.0}),
        row("mmm/ALL/all", "mmm-ALL-all-20240630-ccccccc", "challenger",
            {"metric": "cv_mape", "score": 0.15, "baseline": "no_media", "baseline_score": 0.14,
             "cv_mape": 0.15, "baseline_cv_mape": 0.14, "beats_baseline": False,
             "grade": "good", "promotion": {"reason": "does not beat no_media"}},
            run_id="mmm-run"),
    ]


def _promo_lift() -> list[dict]:
    def promo(pid, start, predicted, actual, state, margin):
        return {"promo_id": pid, "predicted_lift_pct": predicted, "actual_lift_pct": actual,
                "divergence_pp": None if actual is None else actual - predicted,
                "predicted_lift_lower": predicted - 10, "predicted_lift_upper": predicted + 10,
                "actual_lift_lower": None if actual is None else actual - 5,
                "actual_lift_upper": None if actual is None else actual + 5,
                "observed_days": 7, "status": "completed", "start_date": start,
                "end_date": start + dt.timedelta(days=6), "category": "snacks",
                "alert_state": state, "net_incremental_margin": margin}
    return [promo("PR-1", dt.date(2024, 6, 1), 20.0, 22.0, "ok", 300.0),
            promo("PR-2", dt.date(2024, 6, 10), 30.0, 5.0, "below_prediction", -100.0),
            promo("PR-3", dt.date(2024, 7, 10), 25.0, None, None, None)]


def _recommendations() -> list[dict]:
    base = {"run_id": "score-2", "week_start": dt.date(2024, 7, 8), "duration_days": 14,
            "created_at": NOW}
    return [{**base, "sku": "SKU-1", "store_id": "ST-1", "discount_pct": 20.0,
             "expected_lift_pct": 35.0, "expected_incremental_margin": 500.0},
            {**base, "sku": "SKU-2", "store_id": "ST-2", "discount_pct": 30.0,
             "expected_lift_pct": 10.0, "expected_incremental_margin": -50.0}]


def _mmm() -> dict[str, list[dict]]:
    fit = {"run_id": "mmm-run", "country": "ALL", "segment": "all"}
    status = {"model_status": "challenger", "model_note": "does not beat no_media"}
    channels = [
        {**fit, **status, "channel": "search", "spend": 1000.0, "contribution": 3000.0,
         "roi": 3.0, "roi_lower": 2.0, "roi_upper": 4.0, "mroi": 1.5, "zone": "efficient",
         "data_start": dt.date(2023, 1, 2), "data_end": AS_OF},
        {**fit, **status, "channel": "tv", "spend": 1000.0, "contribution": 500.0,
         "roi": 0.5, "roi_lower": 0.3, "roi_upper": 0.8, "mroi": 0.1, "zone": "saturated",
         "data_start": dt.date(2023, 1, 2), "data_end": AS_OF},
    ]
    curves = [{**fit, "channel": ch, "point": i, "spend": 500.0 * i,
               "response": scale * (500.0 * i) ** 0.8, "response_lower": 0.8 * scale * (
                   500.0 * i) ** 0.8, "response_upper": 1.2 * scale * (500.0 * i) ** 0.8}
              for ch, scale in (("search", 12.0), ("tv", 2.0)) for i in range(4)]
    budget = [
        {**fit, **status, "scenario": "budget_neutral", "channel": "search",
         "current_spend": 1000.0, "recommended_spend": 1300.0, "change_pct": 30.0,
         "current_response": 3000.0, "recommended_response": 3700.0},
        {**fit, **status, "scenario": "budget_neutral", "channel": "tv",
         "current_spend": 1000.0, "recommended_spend": 700.0, "change_pct": -30.0,
         "current_response": 500.0, "recommended_response": 400.0},
    ]
    experiment = {"country": "ALL", "weeks": 4, "treatment": "DE-R2", "control": "DE-R1",
                  "model_run_id": "mmm-run", "mde": 12_000.0, "power": 0.47, "test_cost": 4_900.0,
                  "roi_lower_now": 2.0, "roi_upper_now": 4.0, "narrowing_method": "refit"}
    experiments = [  # the earlier scoring run's rows are the same; the report reads one run's
        {**experiment, "run_id": run, "channel": "search", "design": 1, "rank": 1,
         "recommended": True, "expected_interval_narrowing": 0.4,
         "expected_roi_lower": 2.6, "expected_roi_upper": 3.8} for run in ("score-1", "score-2")
    ] + [{**experiment, "run_id": "score-2", "channel": "tv", "design": 1, "rank": 2,
          "recommended": False, "expected_interval_narrowing": 0.1,
          "expected_roi_lower": 0.3, "expected_roi_upper": 0.7}]
    return {"ml_mmm_channel_results": channels, "ml_mmm_response_curves": curves,
            "ml_budget_allocation": budget, "ml_experiment_recommendations": experiments}


def _customers() -> dict[str, list[dict]]:
    run = {"run_id": "cust-1", "as_of_date": AS_OF}
    profiles = [{**run, "segment": "Champions", "customers": 100, "revenue_share": 0.6,
                 "action": "retain", "mean_order_value": 120.0, "mean_frequency": 6.0,
                 "mean_recency_days": 12.0},
                {**run, "segment": "At risk", "customers": 300, "revenue_share": 0.4,
                 "action": "win back", "mean_order_value": 40.0, "mean_frequency": 1.5,
                 "mean_recency_days": 150.0}]
    migrations = [{**run, "customer_id": f"C-{i}", "from_segment": "Champions",
                   "to_segment": "At risk", "from_as_of": AS_OF - dt.timedelta(days=7)}
                  for i in range(3)]
    scores = [{**run, "interaction_id": f"I-{i}", "customer_id": f"C-{i}",
               "p_low_satisfaction": p, "risk_level": level, "interaction_type": "complaint",
               "channel": "phone"}
              for i, (p, level) in enumerate(((0.9, "high"), (0.8, "high"), (0.2, "low")))]
    return {"ml_customer_profiles": profiles, "ml_segment_migrations": migrations,
            "ml_satisfaction_scores": scores}


def _ingest_log() -> list[dict]:
    def row(sha, name, status, rows_in, rejected, reason):
        return {"file_sha256": sha, "source": "pos", "file_name": name, "rows_in": rows_in,
                "rows_loaded": rows_in - rejected, "rows_rejected": rejected, "status": status,
                "reason": reason, "received_at": NOW}
    return [row("a" * 64, "pos_ok.csv", "loaded", 100, 0, None),
            row("b" * 64, "pos_some_bad.csv", "partial", 100, 3, "3 of 100 rows rejected"),
            # A reason that carries secrets, as a careless error message could.
            row("c" * 64, "pos_broken.csv", "quarantined", 50, 50,
                f"could not reach {FAKE_URL} with token {FAKE_SLACK_TOKEN}")]


def _plan() -> dict[str, list[dict]]:
    """A quarter plan: +1,500 margin (90% 1,200 to 1,800) over two channels and two promotions."""
    plan, week = "plan-20240701-13w-abc", dt.date(2024, 7, 1)
    summary = {"plan_id": plan, "run_id": "r", "start_date": week, "weeks": 13, "mode": "joint",
               "media_bounds_lower": -0.3, "media_bounds_upper": 0.3, "revenue": 110_000.0,
               "gross_margin": 40_000.0, "media_spend": 10_000.0, "promo_cost": 500.0,
               "margin": 29_500.0, "promotions": 2, "bau_revenue": 105_000.0,
               "bau_gross_margin": 38_200.0, "bau_media_spend": 10_000.0, "bau_promo_cost": 200.0,
               "bau_margin": 28_000.0, "bau_promotions": 1, "incremental_revenue": 5_000.0,
               "incremental_revenue_lower": 4_000.0, "incremental_revenue_upper": 6_000.0,
               "incremental_margin": 1_500.0, "incremental_margin_lower": 1_200.0,
               "incremental_margin_upper": 1_800.0, "missing_models": "[]", "notes": "[]",
               "created_at": NOW}
    base = {"plan_id": plan, "run_id": "r", "week_start": week, "country": None, "channel": None,
            "store_id": None, "sku": None, "discount_pct": None, "origin": None,
            "planned_value": None, "bau_value": None, "expected_incremental_margin": None}
    lines = [{**base, "line": 0, "kind": "media", "country": "DE", "channel": "search",
              "planned_value": 6_500.0, "bau_value": 5_000.0},
             {**base, "line": 1, "kind": "media", "country": "DE", "channel": "tv",
              "planned_value": 3_500.0, "bau_value": 5_000.0},
             {**base, "line": 2, "kind": "promotion", "store_id": "ST-1", "sku": "SKU-1",
              "discount_pct": 20.0, "origin": "planned", "expected_incremental_margin": -40.0},
             {**base, "line": 3, "kind": "promotion", "store_id": "ST-2", "sku": "SKU-2",
              "discount_pct": 15.0, "origin": "recommended",
              "expected_incremental_margin": 700.0}]
    return {"ml_plan_summary": [summary], "ml_plan": lines}


def fill(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        _insert(conn, "feat_sales_store_daily", _store_days())
        _insert(conn, "ml_sales_forecast", _forecasts())
        _insert(conn, "ml_model_registry", _registry())
        _insert(conn, "ml_promo_lift", _promo_lift())
        _insert(conn, "ml_promo_recommendations", _recommendations())
        for name, rows in {**_mmm(), **_customers(), **_plan()}.items():
            _insert(conn, name, rows)
        _insert(conn, "ops_ingest_log", _ingest_log())
    for kind, key, state in (("data_quality", "pos_broken.csv", "quarantined"),
                             ("lift_divergence", "PR-2", "below_prediction"),
                             ("drift", "sales_forecast/R1", "drifted")):
        record_alert(engine, kind=kind, entity_key=key, severity="warning",
                     title=f"{kind} on {key}", details={}, state=state, now=NOW)
