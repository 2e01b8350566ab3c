"""`liftline evaluate`: each evaluator on a tiny warehouse and a tiny truth folder, against
numbers worked out by hand; missing tables and truth files; the command's output and errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from liftline.cli.main import main
from liftline.evaluate import TruthError, evaluate_models, headline_table, truth_folder
from liftline.modeling import Lifecycle
from liftline.registry import ModelCard, register
from liftline.warehouse import bulk_insert, create_schema, dispose_engines, get_engine, table

DAYS = pd.date_range("2024-01-01", periods=14).strftime("%Y-%m-%d")


def write_truth(folder, **frames: pd.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "world.json").write_text(json.dumps({"scale": "tiny", "seed": 1}))
    for name, frame in frames.items():
        frame.to_csv(folder / f"{name}.csv", index=False)


def daily_truth() -> pd.DataFrame:
    """One store: actual units 10 on the first week, 20 on the second; expected 11 and 19."""
    return pd.DataFrame({"date": DAYS, "store_id": "S1",
                         "expected_units": [11.0] * 7 + [19.0] * 7,
                         "actual_units": [10] * 7 + [20] * 7})


def insert(engine, name: str, rows: list[dict]) -> None:
    bulk_insert(engine, table(name), pd.DataFrame(rows))


def section(engine, folder, model: str) -> dict:
    return evaluate_models(engine, folder)["models"][model]


# --- truth folder -------------------------------------------------------------------------

def test_truth_folder_accepts_the_world_or_its_truth_and_refuses_anything_else(tmp_path):
    write_truth(tmp_path / "world" / "_truth", channels=pd.DataFrame({"a": [1]}))
    assert truth_folder(tmp_path / "world") == tmp_path / "world" / "_truth"
    assert truth_folder(tmp_path / "world" / "_truth") == tmp_path / "world" / "_truth"
    with pytest.raises(TruthError, match="is not a folder"):
        truth_folder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TruthError, match="holds no ground truth"):
        truth_folder(tmp_path / "empty")


# --- sales forecast -----------------------------------------------------------------------

def forecast_row(as_of: str, day: str, yhat: float, lower: float, upper: float) -> dict:
    return {"run_id": f"r-{as_of}", "model_name": "m", "model_version": "v", "series_key": "S1",
            "date": pd.Timestamp(day).date(), "yhat": yhat, "yhat_lower": lower,
            "yhat_upper": upper, "grain": "store_day", "store_id": "S1",
            "as_of_date": pd.Timestamp(as_of).date()}


def test_sales_forecast_scores_the_latest_forecast_made_before_each_day(warehouse, tmp_path):
    write_truth(tmp_path, baseline_daily=daily_truth())
    second_week = DAYS[7:]
    rows = [forecast_row("2024-01-07", d, 18.0, 15.0, 25.0) for d in second_week]
    # Superseded by the later forecast of the same days; and one made on its own day: ignored.
    rows += [forecast_row("2024-01-03", d, 0.0, 0.0, 1.0) for d in second_week]
    rows += [forecast_row("2024-01-14", "2024-01-14", 99.0, 0.0, 1.0)]
    rows[0] |= {"yhat_lower": 21.0}  # one interval misses the actual 20
    insert(warehouse, "ml_sales_forecast", rows)
    got = section(warehouse, tmp_path, "sales_forecast")
    assert got["status"] == "evaluated" and got["source"] == "forecasts"
    assert got["rows"] == 7
    assert got["wape"] == pytest.approx(2 / 20)  # |20 - 18| / 20 on every day
    assert got["oracle_wape"] == pytest.approx(1 / 20)
    assert got["baseline_wape"] == pytest.approx(10 / 20)  # last week's 10 for this week's 20
    assert got["coverage"] == pytest.approx(6 / 7, abs=1e-4)
    assert got["headline"]["verdict"].startswith("beats baseline")


def test_sales_forecast_falls_back_to_the_champion_backtest(warehouse, tmp_path):
    write_truth(tmp_path, baseline_daily=daily_truth())
    card = ModelCard(model="sales_forecast/R1", family="sales_forecast", run_id="t1",
                     metric="wape", score=0.08, baseline="seasonal_naive", baseline_score=0.2,
                     backtest_window={"origins": ["2024-01-07"], "horizon_days": 3},
                     data_end="2024-01-14", metrics={"store_day": {"coverage": 0.9}})
    register(warehouse, card, {"training.json": {"stores": ["S1"]}}, None, Lifecycle(),
             log=lambda _: None)
    got = section(warehouse, tmp_path, "sales_forecast")
    assert got["status"] == "evaluated" and got["source"] == "registry_backtest"
    assert "ml_sales_forecast" in got["why"]
    assert (got["wape"], got["baseline_wape"], got["coverage"]) == (0.08, 0.2, 0.9)
    assert got["regions"]["R1"]["rows"] == 3  # Jan 8, 9, 10
    assert got["oracle_wape"] == pytest.approx(1 / 20)


# --- promotion lift -----------------------------------------------------------------------

def test_promo_lift_mae_bias_coverage_and_category_mean_baseline(warehouse, tmp_path):
    truth = pd.DataFrame({"promo_id": ["P1", "P2", "P3"], "true_lift_pct": [50.0, 30.0, 10.0],
                          "realized_lift_pct": [55.0, 30.0, np.nan]})
    write_truth(tmp_path, promotions=truth)
    insert(warehouse, "ml_promo_lift", [
        {"promo_id": "P1", "predicted_lift_pct": 40.0, "predicted_lift_lower": 30.0,
         "predicted_lift_upper": 60.0, "actual_lift_pct": 50.0, "category": "a",
         "prediction_kind": "frozen"},
        {"promo_id": "P2", "predicted_lift_pct": 36.0, "predicted_lift_lower": 31.0,
         "predicted_lift_upper": 41.0, "actual_lift_pct": 20.0, "category": "a",
         "prediction_kind": "frozen"},
        {"promo_id": "P3", "predicted_lift_pct": 10.0, "category": "b",
         "prediction_kind": "what_if"},
        {"promo_id": "P9", "predicted_lift_pct": 10.0, "category": "b"},  # not in the truth
    ])
    got = section(warehouse, tmp_path, "promo_lift")
    assert got["status"] == "evaluated"
    assert got["prediction"]["promotions"] == 3
    assert got["prediction"]["mae_pp"] == pytest.approx((10 + 6 + 0) / 3, abs=1e-4)
    assert got["prediction"]["bias_pp"] == pytest.approx((-10 + 6 + 0) / 3, abs=1e-4)
    assert got["prediction"]["coverage"] == 0.5  # P1 inside, P2 outside, P3 has no interval
    # Leave-one-out: P1 gets P2's 20, P2 gets P1's 50, P3 (category b, none measured) all: 35.
    assert got["baseline_prediction"]["mae_pp"] == pytest.approx((30 + 20 + 25) / 3, abs=1e-4)
    assert got["measurement"]["mae_pp"] == pytest.approx((5 + 10) / 2)
    assert got["oracle_prediction"]["mae_pp"] == pytest.approx(2.5)
    assert got["by_prediction_kind"]["what_if"]["promotions"] == 1
    assert got["by_prediction_kind"]["what_if"]["baseline_mae_pp"] == 25.0


# --- media mix ----------------------------------------------------------------------------

def mmm_row(run_id: str, channel: str, roi: float, lower: float, upper: float,
            status: str = "champion", end: str = "2024-06-30") -> dict:
    return {"run_id": run_id, "country": "ALL", "segment": "all", "channel": channel,
            "spend": 100.0, "contribution": roi * 100, "roi": roi, "roi_lower": lower,
            "roi_upper": upper, "model_status": status, "data_end": pd.Timestamp(end).date()}


def test_mmm_roi_errors_and_interval_coverage_of_the_latest_fit(warehouse, tmp_path):
    truth = pd.DataFrame({"country": ["ALL", "ALL", "DE"], "channel": ["tv", "search", "tv"],
                          "roi": [2.0, 1.0, 5.0]})
    write_truth(tmp_path, channels=truth)
    insert(warehouse, "ml_mmm_channel_results", [
        mmm_row("new", "tv", 2.5, 2.1, 3.0), mmm_row("new", "search", 0.9, 0.5, 1.2),
        mmm_row("old", "tv", 9.0, 8.0, 10.0, end="2024-03-31"),
        mmm_row("old", "search", 9.0, 8.0, 10.0, end="2024-03-31")])
    got = section(warehouse, tmp_path, "mmm")
    assert got["status"] == "evaluated" and got["run_id"] == "new"
    channels = got["countries"]["ALL"]["channels"]
    assert channels["tv"]["error_pct"] == pytest.approx(25.0)
    assert channels["search"]["error_pct"] == pytest.approx(-10.0)
    assert got["mape_pct"] == pytest.approx(17.5)
    assert got["coverage"] == 0.5  # tv's [2.1, 3.0] misses 2.0
    # Baseline: one ROI (340 / 200 = 1.7) for both: |1.7-2|/2 = 15%, |1.7-1|/1 = 70%.
    assert got["baseline_mape_pct"] == pytest.approx(42.5)


# --- customer segments --------------------------------------------------------------------

def customers_truth(n: int) -> pd.DataFrame:
    types = np.array(["loyal", "occasional", "bargain"])[np.arange(n) % 3]
    consumers = pd.DataFrame({"customer_id": [f"C{i}" for i in range(n)], "latent_type": types})
    accounts = pd.DataFrame({"customer_id": ["B1", "B2"], "latent_type": "b2b_account"})
    return pd.concat([consumers, accounts])


def test_segments_perfect_assignment_scores_one_and_a_shuffled_one_about_zero(
        warehouse, tmp_path):
    truth = customers_truth(300)
    write_truth(tmp_path, customers=truth)
    consumers = truth[truth.latent_type != "b2b_account"]
    perfect = [{"run_id": "r1", "customer_id": c, "segment": f"seg-{t}", "monetary": 1.0}
               for c, t in zip(consumers.customer_id, consumers.latent_type, strict=True)]
    accounts = [{"run_id": "r1", "customer_id": b, "segment": "seg-loyal"} for b in ("B1", "B2")]
    insert(warehouse, "ml_customer_segments", perfect + accounts)
    got = section(warehouse, tmp_path, "customer_segments")
    assert got["status"] == "evaluated"
    assert got["ari"] == 1.0 and got["scored"] == 300 and got["run_customers"] == 302
    assert got["headline"]["verdict"].startswith("meets")

    shuffled = np.random.default_rng(0).permutation(consumers.latent_type.to_numpy())
    insert(warehouse, "ml_customer_segments", [
        {"run_id": "r2", "customer_id": c, "segment": t, "as_of_date": pd.Timestamp(
            "2024-02-01").date()} for c, t in zip(consumers.customer_id, shuffled, strict=True)])
    got = section(warehouse, tmp_path, "customer_segments")
    assert got["run_id"] == "r2"  # the latest run: it has an as-of date, r1 none
    assert abs(got["ari"]) < 0.05
    assert got["headline"]["verdict"].startswith("misses")


# --- satisfaction risk --------------------------------------------------------------------

def test_satisfaction_auc_and_brier_beside_the_oracle(warehouse, tmp_path, monkeypatch):
    monkeypatch.setattr("liftline.evaluate.customers.MIN_SCORED_INTERACTIONS", 4)
    truth = pd.DataFrame({"interaction_id": ["I1", "I2", "I3", "I4"],
                          "p_low_satisfaction": [0.9, 0.2, 0.6, 0.1],
                          "is_low": [True, False, True, False]})
    write_truth(tmp_path, service=truth)
    insert(warehouse, "ml_satisfaction_scores", [
        # An older score of I1 that the later one replaces.
        {"run_id": "r0", "interaction_id": "I1", "p_low_satisfaction": 0.0,
         "as_of_date": pd.Timestamp("2024-01-01").date()},
        {"run_id": "r1", "interaction_id": "I1", "p_low_satisfaction": 0.8,
         "as_of_date": pd.Timestamp("2024-01-02").date()},
        {"run_id": "r1", "interaction_id": "I2", "p_low_satisfaction": 0.7,
         "as_of_date": pd.Timestamp("2024-01-02").date()},
        {"run_id": "r1", "interaction_id": "I3", "p_low_satisfaction": 0.4,
         "as_of_date": pd.Timestamp("2024-01-02").date()},
        {"run_id": "r1", "interaction_id": "I4", "p_low_satisfaction": 0.1,
         "as_of_date": pd.Timestamp("2024-01-02").date()},
        {"run_id": "r1", "interaction_id": "I9", "p_low_satisfaction": 0.5,
         "as_of_date": pd.Timestamp("2024-01-02").date()},  # not in the truth
    ])
    got = section(warehouse, tmp_path, "satisfaction_risk")
    assert got["status"] == "evaluated" and got["interactions"] == 4
    # Pairs (low, not low): (I1,I2) right, (I1,I4) right, (I3,I2) wrong, (I3,I4) right.
    assert got["auc"] == 0.75 and got["oracle_auc"] == 1.0 and got["auc_ratio"] == 0.75
    assert got["brier"] == pytest.approx((0.04 + 0.49 + 0.36 + 0.01) / 4)
    assert got["oracle_brier"] == pytest.approx((0.01 + 0.04 + 0.16 + 0.01) / 4)
    assert got["baseline_brier"] == 0.25
    assert got["headline"]["verdict"].startswith("misses")


def test_without_scores_the_champion_s_test_is_set_beside_the_oracle_of_its_window(
        warehouse, tmp_path):
    # Nothing was open at a scoring run: the card's test AUC, and the oracle over the truth's
    # interactions opened in the card's test window (I3, I4 and I5; not I1 and I2).
    truth = pd.DataFrame({"interaction_id": ["I1", "I2", "I3", "I4", "I5"],
                          "p_low_satisfaction": [0.1, 0.9, 0.9, 0.2, 0.3],
                          "is_low": [True, False, True, False, True],
                          "opened_at": ["2024-01-05 10:00", "2024-01-06 11:00",
                                        "2024-03-01 09:00", "2024-03-02 12:00",
                                        "2024-03-31 23:00"]})
    write_truth(tmp_path, service=truth)
    card = ModelCard(model="satisfaction", family="satisfaction", run_id="t1", metric="brier",
                     score=0.2, baseline="base_rate", baseline_score=0.25,
                     backtest_window={"test_window": ["2024-03-01", "2024-03-31"]},
                     data_end="2024-03-31",
                     metrics={"at_open_roc_auc": 0.7, "brier": 0.2, "base_rate_brier": 0.25})
    register(warehouse, card, {}, None, Lifecycle(), log=lambda _: None)
    got = section(warehouse, tmp_path, "satisfaction_risk")
    assert got["status"] == "evaluated" and got["source"] == "registry_test"
    assert got["interactions"] == 3 and "is empty" in got["why"]
    # Pairs (low, not low): (I3,I4) right, (I5,I4) right: oracle AUC 1.0.
    assert got["auc"] == 0.7 and got["oracle_auc"] == 1.0 and got["auc_ratio"] == 0.7
    assert got["headline"]["metric"] == "ROC-AUC (test)"


def test_a_handful_of_scores_is_not_judged_on_its_own(warehouse, tmp_path):
    truth = pd.DataFrame({"interaction_id": ["I1", "I2"], "p_low_satisfaction": [0.9, 0.2],
                          "is_low": [True, False]})
    write_truth(tmp_path, service=truth)
    insert(warehouse, "ml_satisfaction_scores", [
        {"run_id": "r1", "interaction_id": i, "p_low_satisfaction": p,
         "as_of_date": pd.Timestamp("2024-01-02").date()} for i, p in (("I1", 0.8), ("I2", 0.1))])
    got = section(warehouse, tmp_path, "satisfaction_risk")
    assert got["status"] == "not_evaluated"  # and no champion's test to fall back on
    assert got["reason"].startswith("only 2 scored interaction(s)")


# --- nothing to evaluate ------------------------------------------------------------------

def test_missing_tables_and_empty_truth_files_are_not_evaluated_with_a_reason(engine, tmp_path):
    write_truth(tmp_path, channels=pd.DataFrame({"country": [], "channel": [], "roi": []}),
                promotions=pd.DataFrame({"promo_id": ["P1"], "true_lift_pct": [1.0],
                                         "realized_lift_pct": [1.0]}),
                customers=customers_truth(3), service=pd.DataFrame(
                    {"interaction_id": ["I1"], "p_low_satisfaction": [0.5], "is_low": [True]}))
    models = evaluate_models(engine, tmp_path)["models"]  # no schema: no table at all
    assert {m["status"] for m in models.values()} == {"not_evaluated"}
    assert models["sales_forecast"]["reason"] == "truth file baseline_daily.csv is missing"
    assert models["mmm"]["reason"] == "truth file channels.csv has no rows"
    assert "no ml_promo_lift table" in models["promo_lift"]["reason"]
    assert "no ml_satisfaction_scores table" in models["satisfaction_risk"]["reason"]
    create_schema(engine)
    models = evaluate_models(engine, tmp_path)["models"]
    assert models["customer_segments"]["reason"].startswith("ml_customer_segments is empty")
    table_text = headline_table(evaluate_models(engine, tmp_path))
    assert table_text.splitlines()[0].split()[:3] == ["model", "metric", "Liftline"]
    assert "not evaluated: truth file channels.csv has no rows" in table_text


# --- the command --------------------------------------------------------------------------

@pytest.fixture
def configured(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    monkeypatch.setenv("LIFTLINE_WAREHOUSE_URL", url)
    engine = get_engine(url)
    create_schema(engine)
    yield engine
    dispose_engines()


def test_the_command_prints_valid_json_without_nan(configured, tmp_path, capsys):
    world = tmp_path / "world"
    write_truth(world / "_truth", baseline_daily=daily_truth(), service=pd.DataFrame(
        {"interaction_id": ["I1", "I2"], "p_low_satisfaction": [0.5, 0.5], "is_low": [1, 0]}))
    insert(configured, "ml_satisfaction_scores", [
        {"run_id": "r", "interaction_id": i, "p_low_satisfaction": p}
        for i, p in (("I1", float("nan")), ("I2", 0.3))])
    assert main(["evaluate", "--truth", str(world)]) == 0

    def no_nan(text):
        raise AssertionError(f"{text} in the JSON")

    result = json.loads(capsys.readouterr().out, parse_constant=no_nan)
    assert result["truth"] == str(world / "_truth")
    assert set(result["models"]) == {"sales_forecast", "promo_lift", "mmm",
                                     "customer_segments", "satisfaction_risk"}
    # I1's score is missing: one interaction is too few to judge.
    assert "only 1 scored interaction" in result["models"]["satisfaction_risk"]["reason"]
    assert main(["evaluate", "--truth", str(world), "--table"]) == 0
    assert capsys.readouterr().out.startswith("model")


def test_a_missing_truth_folder_is_one_line_with_status_2(configured, capsys):
    assert main(["evaluate", "--truth", "/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("liftline evaluate: /nonexistent is not a folder")
    assert err.count("\n") == 1


def test_json_safe_rounds_and_nulls():
    from liftline.evaluate.result import json_safe

    assert json_safe({"a": np.float64(1 / 3), "b": math.nan, "c": [np.int64(2), math.inf]}) == \
        {"a": 0.3333, "b": None, "c": [2, None]}


def test_mmm_truth_is_taken_over_the_fits_own_weeks_when_the_truth_has_them(warehouse,
                                                                            tmp_path):
    weekly = pd.DataFrame({"country": ["DE", "FR", "DE"], "channel": "tv",
                           "week_start": ["2024-01-01", "2024-01-01", "2024-01-08"],
                           "spend": [10.0, 30.0, 10.0], "contribution": [20.0, 20.0, 90.0]})
    write_truth(tmp_path, channels=pd.DataFrame({"country": ["ALL"], "channel": ["tv"],
                                                 "roi": [2.6]}), media_weekly=weekly)
    row = mmm_row("r", "tv", 1.0, 0.5, 1.5, end="2024-01-07") | {
        "data_start": pd.Timestamp("2024-01-01").date()}
    insert(warehouse, "ml_mmm_channel_results", [row])
    got = section(warehouse, tmp_path, "mmm")
    # Only the week of Jan 1 is the fit's: (20 + 20) / (10 + 30) = 1.0, not channels.csv's 2.6.
    assert got["countries"]["ALL"]["channels"]["tv"]["true_roi"] == 1.0
    assert got["mape_pct"] == 0.0 and got["coverage"] == 1.0
    assert "2024-01-01 .. 2024-01-07" in got["truth_window"]


def test_sales_forecast_without_a_week_before_has_no_baseline_but_is_scored(warehouse,
                                                                           tmp_path):
    write_truth(tmp_path, baseline_daily=daily_truth())
    insert(warehouse, "ml_sales_forecast",
           [forecast_row("2024-01-01", d, 12.0, 0.0, 99.0) for d in DAYS[1:4]])
    got = section(warehouse, tmp_path, "sales_forecast")
    assert got["status"] == "evaluated" and got["rows"] == 3
    assert got["wape"] == pytest.approx(0.2) and got["baseline_wape"] is None
    assert got["headline"]["verdict"] == "no baseline, +0.100 above the oracle"  # 0.2 vs 0.1
