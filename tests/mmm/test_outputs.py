"""Reading the feature tables and writing the outputs: idempotent per run and fit key."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from mmm_helpers import quiet, small_spec

from liftline.mmm.inputs import fit_keys, load_mmm_data
from liftline.mmm.outputs import fit_and_write_mmm
from liftline.warehouse import bulk_insert, read_frame, table

OUTPUTS = ("ml_mmm_channel_results", "ml_mmm_response_curves", "ml_budget_allocation")


def _feature_rows(data, country: str) -> pd.DataFrame:
    long = data.spend.rename_axis("week_start").reset_index().melt(
        id_vars="week_start", var_name="channel", value_name="spend")
    revenue = data.revenue.rename_axis("week_start").rename("revenue").reset_index()
    frame = long.merge(revenue, on="week_start")
    return frame.assign(country=country, segment="all", campaigns=1,
                        revenue_pos=frame["revenue"] * 0.8, revenue_erp=frame["revenue"] * 0.2,
                        run_id="features")


def _with_features(warehouse, data, countries=("ALL",)) -> None:
    for country in countries:
        bulk_insert(warehouse, table("feat_mmm_weekly"), _feature_rows(data, country))
    controls = data.controls.rename_axis("week_start").reset_index().melt(
        id_vars="week_start", var_name="control", value_name="value")
    bulk_insert(warehouse, table("feat_mmm_controls_weekly"),
                controls.assign(country="ALL", run_id="features"))
    weeks = data.spend.index
    channel = data.spend.columns[0]
    bulk_insert(warehouse, table("feat_crm_attribution"), pd.DataFrame({
        "invoice_id": ["I1", "I2", "I3"], "invoice_date": [weeks[10], weeks[20], weeks[30]],
        "week_start": [weeks[10], weeks[20], weeks[30]], "country": ["DE", "DE", "FR"],
        "amount": [100.0, 200.0, 50.0], "channel": [channel, channel, None],
        "run_id": "features"}))


def _snapshot(engine) -> dict[str, pd.DataFrame]:
    frames = {}
    for name in (*OUTPUTS, "ml_model_registry"):
        frame = read_frame(engine, table(name)).drop(columns=["trained_at"], errors="ignore")
        if name == "ml_model_registry":  # run times differ between runs, as trained_at does
            frame["metrics_json"] = [
                {k: v for k, v in json.loads(m).items() if k != "timings_s"}
                for m in frame["metrics_json"]]
        key = [c.name for c in table(name).primary_key.columns]
        frames[name] = frame.sort_values(key, ignore_index=True)
    return frames


def test_inputs_are_pivoted_from_the_feature_tables(warehouse, simulated):
    data, _ = simulated
    _with_features(warehouse, data)
    spec = small_spec(target="revenue_pos")
    loaded = load_mmm_data(warehouse, spec, "ALL", "all")
    assert list(loaded.spend.columns) == sorted(data.spend.columns)
    assert loaded.spend.to_numpy() == pytest.approx(data.spend[sorted(data.spend.columns)]
                                                    .to_numpy())
    assert loaded.revenue.to_numpy() == pytest.approx(0.8 * data.revenue.to_numpy())
    assert list(loaded.controls.columns) == ["event_days"]
    assert fit_keys(warehouse, spec) == [{"country": "ALL", "segment": "all"}]


def test_a_fit_without_inputs_is_skipped_with_the_reason(warehouse):
    lines: list[str] = []
    outcome = fit_and_write_mmm(warehouse, "r1", spec=small_spec(), log=lines.append)
    assert outcome.status == "skipped"
    assert "feat_mmm_weekly has no rows for country 'ALL'" in outcome.reason
    assert lines == [outcome.line()]
    registry = read_frame(warehouse, table("ml_model_registry"))
    assert registry[["model_name", "run_id", "status"]].values.tolist() == [
        ["mmm/ALL/all", "r1", "skipped"]]
    assert "no rows" in json.loads(registry["metrics_json"].iat[0])["reason"]


def test_rerunning_a_fit_replaces_exactly_its_rows(warehouse, simulated):
    data, _ = simulated
    _with_features(warehouse, data, countries=("ALL", "DE"))
    spec = small_spec()
    first = fit_and_write_mmm(warehouse, "r1", spec=spec, log=quiet)
    assert first.status in ("champion", "challenger")
    assert first.rows == {"ml_mmm_channel_results": 3, "ml_mmm_response_curves": 300,
                          "ml_budget_allocation": 6, "ml_model_registry": 1}
    once = _snapshot(warehouse)
    fit_and_write_mmm(warehouse, "r1", spec=spec, log=quiet)
    again = _snapshot(warehouse)
    for name in once:
        pd.testing.assert_frame_equal(once[name], again[name], obj=name)

    # Another fit key and another run add their own rows and leave these alone.
    fit_and_write_mmm(warehouse, "r1", country="DE", spec=spec, log=quiet)
    fit_and_write_mmm(warehouse, "r2", spec=spec, log=quiet)
    results = read_frame(warehouse, table("ml_mmm_channel_results"))
    assert results.groupby(["run_id", "country"]).size().to_dict() == {
        ("r1", "ALL"): 3, ("r1", "DE"): 3, ("r2", "ALL"): 3}
    mine = results[(results.run_id == "r1") & (results.country == "ALL")]
    pd.testing.assert_frame_equal(
        mine.sort_values("channel", ignore_index=True),
        once["ml_mmm_channel_results"].sort_values("channel", ignore_index=True),
        check_dtype=False)
    # CRM last touch beside the model: the first channel's invoices in the modelled weeks.
    traced = mine.set_index("channel")["crm_last_touch_revenue"]
    assert traced[data.spend.columns[0]] == pytest.approx(300.0)
    assert traced.drop(data.spend.columns[0]).eq(0).all()
