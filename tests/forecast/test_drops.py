"""forecast_drop: next four weeks vs the same weeks last year, one alert per state change."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from liftline.forecast.drops import compare_with_last_year, flag_drops, record_drop_alerts
from liftline.forecast.spec import load_spec
from liftline.warehouse import read_frame, table, write_transaction

AS_OF = pd.Timestamp("2024-12-31")
RULE = load_spec().drop_rule()


def _history(store: str, units: float, days: int = 400) -> pd.DataFrame:
    dates = pd.date_range(end=AS_OF, periods=days, freq="D")
    return pd.DataFrame({"series_key": store, "date": dates, "units": units})


def _forecast(store: str, units: float) -> pd.DataFrame:
    dates = pd.date_range(AS_OF + pd.Timedelta(days=1), periods=56, freq="D")
    return pd.DataFrame({"series_key": store, "date": dates, "yhat": units})


def _flagged(forecast_units: dict[str, float]) -> pd.DataFrame:
    history = pd.concat([_history("A", 100.0), _history("B", 100.0), _history("C", 100.0, 60)])
    forecast = pd.concat([_forecast(k, v) for k, v in forecast_units.items()])
    return flag_drops(compare_with_last_year(forecast, history, AS_OF, RULE["weeks"]), RULE)


def test_a_store_forecast_more_than_twenty_percent_below_last_year_is_dropping():
    flagged = _flagged({"A": 70.0, "B": 85.0, "C": 10.0}).set_index("series_key")
    assert flagged.loc["A", "change_pct"] == pytest.approx(-30.0)
    assert flagged.loc["A", "forecast_units"] == pytest.approx(70.0 * 28)
    assert flagged["dropping"].to_dict() == {"A": True, "B": False, "C": False}
    assert not flagged.loc["C", "comparable"]  # no sales a year ago: no comparison


def test_drop_alerts_are_recorded_once_per_state_change(warehouse):
    def record(units_a: float) -> int:
        with write_transaction(warehouse) as conn:
            return record_drop_alerts(conn, _flagged({"A": units_a, "B": 95.0}), RULE, "r1",
                                      "sales_forecast", lambda _: None)

    assert record(70.0) == 1
    assert record(60.0) == 0  # still dropping: nothing new
    assert record(99.0) == 1  # recovered
    assert record(99.0) == 0
    alerts = read_frame(warehouse, select(table("ops_alerts")).order_by("created_at"))
    assert alerts["kind"].eq("forecast_drop").all() and alerts["entity_key"].eq("A").all()
    assert alerts["state"].tolist() == ["dropping", "recovered"]
    assert alerts["severity"].tolist() == ["warning", "info"]
    details = json.loads(alerts["details_json"].iloc[0])
    assert details["change_pct"] == pytest.approx(-30.0)
    assert np.isclose(details["last_year_units"], 2800.0)
