"""The next experiment: expected narrowing of a channel's ROI interval by a geo-holdout test,
its mde and power, the matched design, and the table it writes."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from liftline.mmm import load_spec
from liftline.plan.experiment import (
    REFIT,
    SCREEN,
    SKIPPED,
    WRITTEN,
    Design,
    ExperimentSettings,
    MixModel,
    StorePanel,
    check_by_refit,
    dark_windows,
    designs,
    evaluate_designs,
    interval_sd,
    matched_pairs,
    mix_models,
    posterior_narrowing,
    power_two_sided,
    recommend_experiments,
    saturation_lost,
    simulated_results,
)
from liftline.warehouse import read_frame, replace_partition, table

WEEKS = pd.date_range("2023-01-02", periods=80, freq="7D")


def _spend(weeks: int = len(WEEKS)) -> np.ndarray:
    """Two channels: always-on search, TV in flights of 4 weeks on, 2 off."""
    search = np.full(weeks, 1000.0)
    tv = np.where(np.arange(weeks) % 6 < 4, 2000.0, 0.0)
    return np.column_stack([search, tv])


def _model(roi_lower=(1.0, 0.5), roi_upper=(3.0, 2.0), channels=("search", "tv"),
           spend: np.ndarray | None = None) -> MixModel:
    spend = _spend() if spend is None else spend
    return MixModel("DE", "train-1", WEEKS, channels, spend, "geometric", 13,
                    {"theta": np.array([0.1, 0.5])}, np.array([1.0, 1.5]),
                    np.array([800.0, 3000.0]), np.array([2000.0, 3000.0]),
                    np.array([2.0, 1.2]), np.array(roi_lower), np.array(roi_upper), 0.9)


def _panel(stores: int = 8, weeks: int = 52, seed: int = 3) -> StorePanel:
    """Stores of two countries: a shared season times a store level, plus own noise."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(WEEKS[-weeks], periods=weeks, freq="7D")
    season = 1 + 0.2 * np.sin(np.arange(weeks) / 52 * 2 * np.pi)
    names = [f"S{i:02d}" for i in range(stores)]
    levels = 10_000 * (1 + 0.1 * np.arange(stores))
    revenue = pd.DataFrame({n: lvl * season * rng.lognormal(0, 0.01, weeks)
                            for n, lvl in zip(names, levels, strict=True)}, index=index)
    country = pd.Series(["DE" if i % 2 == 0 else "FR" for i in range(stores)], index=names)
    return StorePanel("store", revenue, country)


# --- formulas ---------------------------------------------------------------------------------


def test_mde_and_power_match_hand_computation():
    settings = ExperimentSettings()
    assert settings.detectable_multiplier == pytest.approx(1.959964 + 0.841621, abs=1e-5)
    se = 1000.0
    # An effect of exactly the mde is detected with 80% power; no effect, at alpha.
    assert power_two_sided(settings.detectable_multiplier * se, se, 0.05) == pytest.approx(
        0.80, abs=1e-3)
    assert power_two_sided(0.0, se, 0.05) == pytest.approx(0.05)
    # 2 se: Phi(2 - 1.96) + Phi(-2 - 1.96) = 0.5160 + 0.0000373
    assert power_two_sided(2 * se, se, 0.05) == pytest.approx(0.51599, abs=1e-4)


def test_standard_error_of_a_test_matches_hand_computation():
    white = Design(("a",), ("b",), 0.25, sigma=100.0, rho=0.0, pre_weeks=50)
    assert white.treated_se(4) == pytest.approx(100 * np.sqrt(4 + 16 / 50))
    assert white.area_se(4) == pytest.approx(white.treated_se(4) / 0.25)
    # AR(1) 0.5: var of a 4-week sum 4 + 2(3(.5) + 2(.25) + .125) = 8.25; of the pre-period
    # mean (1.5 / .5) / 50 = 0.06 per week squared.
    red = Design(("a",), ("b",), 0.25, sigma=100.0, rho=0.5, pre_weeks=50)
    assert red.treated_se(4) == pytest.approx(100 * np.sqrt(8.25 + 16 * 0.06))


def test_precision_weighted_narrowing():
    assert interval_sd(-1.6448536, 1.6448536, 0.9) == pytest.approx(1.0)
    assert posterior_narrowing(1.0, 1.0) == pytest.approx(1 - 1 / np.sqrt(2))
    assert posterior_narrowing(1.0, np.inf) == 0.0
    assert posterior_narrowing(2.0, 1.0) > posterior_narrowing(1.0, 1.0)


def test_rows_carry_the_formulas():
    settings = ExperimentSettings()
    frame = evaluate_designs(_model(), _panel(), settings)
    assert np.allclose(frame["mde"], settings.detectable_multiplier * frame["test_se"])
    width_now = frame["roi_upper_now"] - frame["roi_lower_now"]
    width_post = frame["expected_roi_upper"] - frame["expected_roi_lower"]
    assert np.allclose(width_post / width_now, 1 - frame["expected_interval_narrowing"])
    assert ((frame["power"] > 0.05) & (frame["power"] < 1)).all()
    assert np.allclose(frame["score"], frame["spend_share"] * frame["expected_interval_narrowing"])


# --- behaviour ----------------------------------------------------------------------------------


def test_narrowing_grows_with_weeks_and_treated_share():
    frame = evaluate_designs(_model(), _panel(), ExperimentSettings())
    for channel, own in frame.groupby("channel"):
        by_weeks = own.pivot(index="weeks", columns="design",
                             values="expected_interval_narrowing")
        assert by_weeks.shape[1] >= 2, channel
        assert (by_weeks.diff().iloc[1:] > 0).all().all(), channel  # longer narrows more
        shares = own.groupby("design")["treated_share"].first()
        assert shares.is_monotonic_increasing
        assert (by_weeks.T.diff().iloc[1:] > 0).all().all(), channel  # larger narrows more


def test_a_wide_interval_gains_more_than_a_tight_one():
    spend = np.column_stack([_spend()[:, 0], _spend()[:, 0]])  # two identical channels
    model = MixModel("DE", "t", WEEKS, ("wide", "tight"), spend, "geometric", 13,
                     {"theta": np.array([0.1, 0.1])}, np.array([1.0, 1.0]),
                     np.array([800.0, 800.0]), np.array([2000.0, 2000.0]),
                     np.array([2.0, 2.0]), np.array([0.5, 1.9]), np.array([3.5, 2.1]), 0.9)
    frame = evaluate_designs(model, _panel(), ExperimentSettings())
    mine = frame.set_index(["channel", "weeks", "design"])["expected_interval_narrowing"]
    assert (mine["wide"] > mine["tight"]).all()
    assert frame.iloc[0]["channel"] == "wide" and bool(frame.iloc[0]["recommended"])


def test_pairs_stay_within_a_country_and_designs_are_deterministic():
    panel = _panel()
    pairs = matched_pairs(panel)
    assert len(pairs) == 4
    assert all(panel.country[a] == panel.country[b] for a, b in pairs)
    assert [d.treatment for d in designs(panel, ExperimentSettings())] == \
        [d.treatment for d in designs(_panel(), ExperimentSettings())]


def test_a_test_beyond_the_cost_limit_is_not_recommended():
    frame = evaluate_designs(_model(), _panel(), ExperimentSettings(max_cost_share=0.0))
    assert not frame["cost_acceptable"].any() and not frame["recommended"].any()
    cheap = evaluate_designs(_model(), _panel(), ExperimentSettings(max_cost_share=1.0))
    assert cheap["recommended"].sum() == 1
    assert cheap.loc[cheap["recommended"], "rank"].item() == 1


def test_a_test_that_would_not_show_is_not_recommended():
    settings = ExperimentSettings(max_cost_share=1.0)
    best = evaluate_designs(_model(), _panel(), settings)["expected_interval_narrowing"].max()
    frame = evaluate_designs(_model(), _panel(), replace(settings, min_narrowing=best + 0.01))
    assert not frame["recommended"].any() and frame["rank"].min() == 1


# --- the screen checked by refitting ------------------------------------------------------------


def test_simulated_results_are_percentiles_of_the_models_own_window():
    model, settings = _model(), ExperimentSettings(max_cost_share=1.0)
    frame = evaluate_designs(model, _panel(), settings)
    row = frame[frame["channel"] == "tv"].iloc[0]
    design = designs(_panel(), settings)[int(row["design"]) - 1]
    results = simulated_results(model, row, design, settings)
    weeks = int(row["weeks"])
    s = dark_windows(model, 1, weeks, settings)[-1]
    # the most recent window with tv on every week and the carry-over's weeks after it
    assert (model.spend[s: s + weeks, 1] > 0).all()
    assert s + weeks + settings.tail_weeks <= len(WEEKS)
    off = model.spend.copy()
    off[s: s + weeks, 1] = 0.0
    lost = (model.saturation(model.spend) - model.saturation(off))[s: s + weeks, 1].sum()
    se = design.area_se(weeks)
    z = [-1.281552, 0.0, 1.281552]  # the 10th, 50th and 90th percentiles
    assert results["incremental_revenue"].tolist() == pytest.approx(
        [model.beta[1] * lost + k * se for k in z])
    assert (results["std_error"] == se).all()
    assert (results["spend"] == model.spend[s: s + weeks, 1].sum()).all()
    assert (results["start_date"] == WEEKS[s]).all()
    assert np.allclose(saturation_lost(model, 1, s, weeks)[s: s + weeks].sum(), lost)


def _refit_that_reads_the_test(model: MixModel, expected: dict[str, float],
                               spread: dict[str, float]):
    """A stand-in mix model: a channel's interval is 2 wide without a test of it; with one,
    width 1 at the result `expected` and `spread` wider per unit of result above it."""
    def refit(tests: pd.DataFrame) -> SimpleNamespace:
        widths = []
        for channel in model.channels:
            own = tests[tests["channel"] == channel]
            if own.empty:
                widths.append(2.0)
            else:
                ratio = own["incremental_revenue"].iloc[-1] / expected[channel] - 1
                widths.append(1.0 + spread[channel] * ratio)
        return SimpleNamespace(channels=model.channels, roi_lower=np.zeros(len(widths)),
                               roi_upper=np.array(widths))
    return refit


def test_the_refit_check_predicts_the_median_and_ranks_by_the_least():
    model, panel = _model(), _panel()
    settings = ExperimentSettings(max_cost_share=1.0, refit_channels=2)
    found = designs(panel, settings)
    frame = evaluate_designs(model, panel, settings)
    expected = {}
    for channel in model.channels:
        row = frame[frame["channel"] == channel].iloc[0]
        results = simulated_results(model, row, found[int(row["design"]) - 1],
                                    replace(settings, refit_quantiles=(0.5,)))
        expected[channel] = results["incremental_revenue"].item()
    # search's interval is steady whatever its test finds; tv's widens with a high result
    refit = _refit_that_reads_the_test(model, expected, {"search": 0.0, "tv": 50.0})
    lines: list[str] = []
    checked = check_by_refit(frame, model, found, pd.DataFrame(columns=["channel"]), refit,
                             settings, log=lines.append)
    first = checked.groupby("channel").head(1).set_index("channel")
    assert (first["narrowing_method"] == REFIT).all()
    assert first["expected_interval_narrowing"].tolist() == pytest.approx([0.5, 0.5])
    assert first.loc["search", "least_interval_narrowing"] == pytest.approx(0.5)
    assert first.loc["tv", "least_interval_narrowing"] < 0  # a high result: wider than now
    assert checked.iloc[0]["channel"] == "search" and bool(checked.iloc[0]["recommended"])
    assert np.allclose(first["score"], first["spend_share"] * first["least_interval_narrowing"])
    # the screen's figure stays beside it, and unchecked designs rank after the checked
    assert (checked["screen_interval_narrowing"] > 0).all()
    unchecked = checked["narrowing_method"] == SCREEN
    assert unchecked.any() and checked.loc[unchecked, "rank"].min() > 2
    assert sum("by refitting" in line for line in lines) == 2


# --- the warehouse ------------------------------------------------------------------------------


def _fill_required(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Zeros / False in the NOT NULL columns a test does not care about."""
    for column in table(name).columns:
        if column.name not in frame and not column.nullable and not column.primary_key:
            frame[column.name] = False if column.type.python_type is bool else 0
    return frame


def _seed_warehouse(engine) -> None:  # noqa: ANN001
    model, panel = _model(), _panel()
    channels = pd.DataFrame({
        "channel": model.channels, "spend": model.spend.sum(axis=0),
        "contribution": model.beta * model.saturation(model.spend).sum(axis=0), "roi": model.roi,
        "roi_lower": model.roi_lower, "roi_upper": model.roi_upper,
        "adstock_theta": model.adstock_params["theta"], "hill_alpha": model.alpha,
        "hill_inflexion": model.inflexion, "data_start": WEEKS[0].date(),
        "data_end": (WEEKS[-1] + pd.Timedelta(days=6)).date(), "model_status": "challenger"})
    replace_partition(engine, table("ml_mmm_channel_results"), channels,
                      {"run_id": "train-1", "country": "DE", "segment": "all"})
    # Revenue as the model says, plus noise: the refit check fits the mix model to it.
    revenue = 50_000 + model.saturation(model.spend) @ model.beta \
        + np.random.default_rng(5).normal(0, 100, len(WEEKS))
    weekly = pd.DataFrame([{"week_start": w.date(), "channel": c, "spend": model.spend[t, i],
                            "campaigns": 1, "revenue_pos": revenue[t], "revenue_erp": 0.0,
                            "revenue": revenue[t]}
                           for t, w in enumerate(WEEKS) for i, c in enumerate(model.channels)])
    replace_partition(engine, table("feat_mmm_weekly"), _fill_required("feat_mmm_weekly", weekly),
                      {"country": "DE", "segment": "all"})
    days = pd.date_range(panel.revenue.index[0], periods=7 * len(panel.revenue), freq="D")
    stores = panel.revenue.columns
    daily = pd.DataFrame({
        "date": np.repeat(days.date, len(stores)), "store_id": np.tile(stores, len(days)),
        "region": "DE-1", "country": "DE", "is_future": False, "is_closed": False,
        "revenue": np.repeat(panel.revenue.to_numpy() / 7, 7, axis=0).ravel()})
    replace_partition(engine, table("feat_sales_store_daily"),
                      _fill_required("feat_sales_store_daily", daily), {"country": "DE"})


def _rows(engine, run_id: str) -> pd.DataFrame:  # noqa: ANN001
    target = table("ml_experiment_recommendations")
    frame = read_frame(engine, select(target).where(target.c.run_id == run_id))
    return frame.sort_values(["country", "channel", "weeks", "design"]).reset_index(drop=True)


# A quick search: the refit check's logic, not the mix model's accuracy, is under test.
SMALL = {"search": {"budget": 100, "trials": 2}, "bootstrap": {"resamples": 100}}


def test_the_table_is_rewritten_idempotently(warehouse):
    _seed_warehouse(warehouse)
    lines: list[str] = []
    spec, settings = load_spec(overrides=SMALL), ExperimentSettings(refit_channels=1)
    first = recommend_experiments(warehouse, "score-1", settings, spec, log=lines.append)
    assert first.status == WRITTEN and first.rows > 0
    assert any("no champion mix model" in line for line in lines)
    rows = _rows(warehouse, "score-1")
    assert len(rows) == first.rows and rows["recommended"].sum() == 1
    assert set(rows["model_run_id"]) == {"train-1"}
    assert (rows["narrowing_method"] == REFIT).sum() == 1
    assert sum("by refitting the mix model 3 times" in line for line in lines) == 1
    again = recommend_experiments(warehouse, "score-1", settings, spec, log=lines.append)
    assert again.rows == first.rows
    pd.testing.assert_frame_equal(_rows(warehouse, "score-1"), rows)
    lines.clear()
    recommend_experiments(warehouse, "score-2", settings, spec, log=lines.append)
    assert len(_rows(warehouse, "score-1")) == len(rows)  # another run leaves these alone
    # the same mix model: score-2 reuses score-1's checks instead of refitting
    assert any("reusing the refit checks of scoring run score-1" in line for line in lines)
    assert not any("by refitting" in line for line in lines)
    pd.testing.assert_frame_equal(_rows(warehouse, "score-2").drop(columns="run_id"),
                                  rows.drop(columns="run_id"))


def test_without_the_mix_models_inputs_the_screen_stands_unchecked(warehouse):
    _seed_warehouse(warehouse)
    with warehouse.begin() as conn:
        conn.exec_driver_sql("UPDATE feat_mmm_weekly SET revenue = 1.0, revenue_pos = 1.0")
    lines: list[str] = []
    outcome = recommend_experiments(warehouse, "score-1", ExperimentSettings(),
                                    load_spec(overrides=SMALL), log=lines.append)
    assert outcome.status == WRITTEN
    assert (_rows(warehouse, "score-1")["narrowing_method"] == SCREEN).all()
    assert any("kept unchecked: revenue of DE/all is constant" in line for line in lines)


def test_the_fitted_curves_are_rebuilt_from_the_results_table(warehouse):
    _seed_warehouse(warehouse)
    [found] = mix_models(warehouse, log=lambda _: None)
    expected = _model()
    assert found.channels == expected.channels and found.run_id == "train-1"
    assert np.allclose(found.spend, expected.spend)
    assert np.allclose(found.beta, expected.beta)
    assert np.allclose(found.saturation(found.spend), expected.saturation(expected.spend))


def test_without_a_mix_model_it_is_skipped_with_the_reason(warehouse):
    lines: list[str] = []
    outcome = recommend_experiments(warehouse, "score-1", log=lines.append)
    assert outcome.status == SKIPPED
    assert "no mix model" in outcome.reason
    assert lines == [outcome.line()] and "skipped" in lines[0]
    assert _rows(warehouse, "score-1").empty
