"""The spec loads, and names what is wrong with a bad one."""

from __future__ import annotations

import pytest

from liftline.forecast.candidates import make_forecaster
from liftline.forecast.spec import load_spec


def test_the_shipped_spec_loads_and_builds_every_candidate():
    spec = load_spec()
    assert spec.horizon_days == 56 and spec.level == 0.9 and spec.baseline == "seasonal_naive"
    assert spec.backtest["origins"] >= 3
    assert spec.drop_rule()["threshold_pct"] == 20 and spec.drop_rule()["weeks"] == 4
    for name in spec.candidates:
        assert make_forecaster(name, spec.params(name)).name == name


def test_a_bad_spec_fails_with_one_line_naming_the_problem(tmp_path):
    path = tmp_path / "sales_forecast.yaml"
    path.write_text("candidates:\n  arima: {}\n  seasonal_naive: {}\n  lightgbm: {}\n")
    with pytest.raises(ValueError, match="unknown candidate"):
        load_spec(path)
    path.write_text("candidates:\n  lightgbm: {}\n")
    with pytest.raises(ValueError, match="must_beat 'seasonal_naive' is not a candidate"):
        load_spec(path)
    with pytest.raises(ValueError, match="bad parameters"):
        make_forecaster("lightgbm", {"leaves": 3})


def test_the_spec_chooses_the_measures_forecast(tmp_path):
    assert load_spec().measures == ("units", "revenue")  # shipped default: both
    path = tmp_path / "sales_forecast.yaml"
    path.write_text("measures: revenue\n")
    assert load_spec(path).measures == ("revenue",)
    path.write_text("measures: [units, euros]\n")
    with pytest.raises(ValueError, match=r"measures must name one or both of \['units', "
                                         r"'revenue'\], got \['units', 'euros'\]"):
        load_spec(path)
