"""The what-if and `liftline promo whatif`: the answer, one-line errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest
from promo_helpers import build_warehouse, measured_frame, quick_spec

from liftline.cli.main import main
from liftline.promo.artifacts import save_lift_model
from liftline.promo.model import LiftModel, train_lift_model
from liftline.promo.whatif import what_if


@pytest.fixture(scope="module")
def model() -> LiftModel:
    return train_lift_model(measured_frame(), quick_spec(), log=lambda _: None)


@pytest.fixture
def ready(warehouse, model):
    """A warehouse with sales, products, stores and a trained lift model."""
    build_warehouse(warehouse)
    save_lift_model(warehouse, "run-1", model, quick_spec(), "2024-03-31", log=lambda _: None)
    return warehouse


def test_what_if_answers_lift_units_and_margin(ready):
    a = what_if(ready, "A1", "S0", 20, 7)
    assert a["start"] == "2024-04-01" and a["end"] == "2024-04-07" and a["as_of"] == "2024-03-31"
    assert a["category"] == "snacks" and a["model_version"].startswith("promo_lift-20240331-")
    assert a["lift_lower"] < a["lift_pct"] < a["lift_upper"] and 0 <= a["p_any_lift"] <= 1
    assert a["baseline_units"] == pytest.approx(70)  # 10 units a day, every day unpromoted
    assert a["incremental_units"] == pytest.approx(70 * a["lift_pct"] / 100)
    promoted = 70 + a["incremental_units"]
    assert a["incremental_margin"] == pytest.approx(promoted * (4 * 0.8 - 1) - 70 * 3)
    assert not a["extrapolated"]
    json.dumps(a)  # plain JSON values only


def test_what_if_for_an_earlier_start_uses_only_what_was_known_before_it(ready):
    a = what_if(ready, "A1", "S0", 20, 7, start=date(2024, 3, 20), promo_type="flyer")
    assert a["as_of"] == "2024-03-19" and a["promo_type"] == "flyer"


def test_what_if_flags_a_discount_outside_the_trained_range(ready):
    assert what_if(ready, "A1", "S0", 5, 7)["extrapolated"]


@pytest.mark.parametrize("args, kwargs, expected", [
    (("ZZ", "S0", 20, 7), {}, "unknown SKU 'ZZ'"),
    (("A1", "S9", 20, 7), {}, "unknown store 'S9'"),
    (("A1", "S0", 60, 7), {}, "discount 60% is outside the spec's bounds 5-50%"),
    (("A1", "S0", 20, 40), {}, "run length 40 days is outside the spec's bounds 3-28"),
    (("A1", "S0", 20, 7), {"promo_type": "bogo"}, "'bogo' was never seen in training"),
])
def test_what_if_mistakes_are_one_line_value_errors(ready, args, kwargs, expected):
    with pytest.raises(ValueError) as info:
        what_if(ready, *args, **kwargs)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_what_if_without_a_trained_model_says_to_run_the_pipeline(warehouse):
    build_warehouse(warehouse)
    with pytest.raises(ValueError, match=r"no trained promotion-lift model .* `liftline run`"):
        what_if(warehouse, "A1", "S0", 20, 7)


def warehouse_url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_cli_prints_the_answer_and_exits_0(ready, monkeypatch, capsys):
    monkeypatch.setenv("LIFTLINE_WAREHOUSE_URL", warehouse_url(ready))
    assert main(["promo", "whatif", "--sku", "A1", "--store", "S0", "--discount", "20",
                 "--days", "7"]) == 0
    out = capsys.readouterr().out
    assert "A1 (snacks) in S0: 20% price_discount for 7 days" in out and "predicted lift" in out
    assert main(["promo", "whatif", "--sku", "A1", "--store", "S0", "--discount", "20",
                 "--days", "7", "--start", "2024-04-08", "--type", "flyer", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["start"] == "2024-04-08" and answer["promo_type"] == "flyer"


def test_cli_mistakes_are_one_line_on_stderr_with_status_2(ready, monkeypatch, capsys):
    monkeypatch.setenv("LIFTLINE_WAREHOUSE_URL", warehouse_url(ready))
    assert main(["promo", "whatif", "--sku", "A1", "--store", "S0", "--discount", "70",
                 "--days", "7"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("liftline promo whatif: discount 70%") and err.count("\n") == 1


def test_cli_on_an_empty_warehouse_exits_non_zero_with_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "LIFTLINE_HOME": str(tmp_path),
           "LIFTLINE_WAREHOUSE_URL": f"sqlite:///{tmp_path / 'w.db'}"}
    proc = subprocess.run([sys.executable, "-m", "liftline.cli.main", "promo", "whatif", "--sku",
                           "A1", "--store", "S0", "--discount", "20", "--days", "7"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "run `liftline run` first" in proc.stderr
