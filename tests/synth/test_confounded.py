"""The confounded world (`liftline generate --scenario confounded`): its truth adds up with its
extracts, the hidden driver really drives both sales and the planned spend, and its lift tests
are geo experiments on the tested channels only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lift_truth import recomputed

from liftline.synth import GenerateError, generate


def read_source(out: Path, source: str) -> pd.DataFrame:
    return pd.concat([pd.read_csv(f) for f in sorted((out / source).glob(f"{source}_*"))],
                     ignore_index=True)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("confounded")
    generate(out, scale="small", seed=7, progress=False, scenario="confounded")
    return out


def truth(world: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(world / "_truth" / name)


def week_start(dates: pd.Series) -> pd.Series:
    days = pd.to_datetime(dates)
    return (days - pd.to_timedelta(days.dt.dayofweek, unit="D")).dt.strftime("%Y-%m-%d")


def test_contributions_add_up_to_the_revenue(world):
    daily = truth(world, "baseline_daily.csv")
    parts = daily.organic_revenue + daily.media_revenue + daily.promo_revenue
    assert np.allclose(parts, daily.expected_revenue, rtol=1e-6, atol=1e-6)
    pos = read_source(world, "pos").groupby(["date", "store_id"]).revenue.sum()
    joined = daily.set_index(["date", "store_id"]).join(pos, how="left").fillna({"revenue": 0})
    assert np.allclose(joined.revenue, joined.actual_revenue, atol=0.01)
    stores = read_source(world, "stores").set_index("store_id")
    daily["country"] = daily.store_id.map(stores.country)
    daily["week_start"] = week_start(daily.date)
    media = daily.groupby(["country", "week_start"]).media_revenue.sum()
    full = daily.groupby("week_start").date.nunique()
    media = media[media.index.get_level_values(1).isin(full[full == 7].index)]
    weekly = truth(world, "media_weekly.csv")
    assert np.allclose(media, weekly.groupby(["country", "week_start"]).contribution.sum()
                       .reindex(media.index), rtol=1e-6)
    spend = read_source(world, "spend")
    spend["week_start"] = week_start(spend.date)
    spend = spend[spend.week_start.isin(full[full == 7].index)]
    delivered = spend.groupby(["country", "channel", "week_start"]).spend.sum()
    planned = weekly.set_index(["country", "channel", "week_start"]).spend
    assert np.allclose(delivered, planned.reindex(delivered.index), atol=0.05)
    channels = truth(world, "channels.csv")
    assert np.allclose(channels.roi, channels.contribution / channels.spend)


def test_a_hidden_driver_moves_sales_and_the_planned_spend(world):
    facts = json.loads((world / "_truth" / "world.json").read_text())["scenario"]
    assert facts["name"] == "confounded" and "social" in facts["planned_channels"]
    driver = truth(world, "demand_driver.csv")
    assert np.allclose(driver.multiplier, np.exp(driver.driver))
    weekly = truth(world, "media_weekly.csv").merge(driver, on=["country", "week_start"])
    social = weekly[(weekly.channel == "social") & (weekly.spend > 0)]
    assert np.corrcoef(np.log(social.spend), social.driver)[0, 1] > 0.3
    # No extract carries it: the macro index is not the driver.
    macro = read_source(world, "macro")
    assert "driver" not in " ".join(macro.columns)


def test_lift_tests_are_geo_experiments_on_the_tested_channels(world):
    tests = truth(world, "lift_tests.csv")
    assert set(tests.channel) == {"social", "search"}
    assert np.allclose(tests.std_error, 0.10 * tests.incremental_revenue.abs(), atol=0.01)
    z = (tests.incremental_revenue - tests.true_incremental_revenue) / tests.std_error
    assert (np.abs(z) < 4).all()
    assert tests.measured_until.isna().all()  # digital channels: the dark weeks only
    params = truth(world, "channels.csv").set_index(["country", "channel"])
    weekly = truth(world, "media_weekly.csv")
    for t in tests.itertuples():
        lost, spend = recomputed(t, params, weekly)
        assert lost == pytest.approx(t.true_incremental_revenue, rel=1e-4)
        assert spend == pytest.approx(t.spend, abs=0.05)


def test_an_unknown_scenario_is_a_one_line_error(tmp_path):
    with pytest.raises(GenerateError, match="unknown --scenario 'x': choose standard or "
                                            "confounded"):
        generate(tmp_path / "w", scenario="x", progress=False)
