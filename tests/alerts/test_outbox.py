"""record_alert: the outbox row it writes, one alert per state change, transactions, validation."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pytest
from sqlalchemy import Engine, func, select

from liftline.alerts import KINDS, PENDING, latest_states, record_alert, undelivered_alerts
from liftline.warehouse import read_frame, table, write_transaction

NOW = datetime(2026, 3, 2, 6, 30)


def _alert(engine: Engine, state: str = "diverged", **overrides) -> str | None:
    arguments = {
        "kind": "lift_divergence",
        "entity_key": "PROMO-17",
        "severity": "warning",
        "title": "Promotion PROMO-17 lift diverges from prediction",
        "details": {"predicted_lift_pct": 12.0, "actual_lift_pct": 3.5},
        "state": state,
        "run_id": "run-1",
        "now": NOW,
    } | overrides
    return record_alert(engine, **arguments)


def _rows(engine: Engine):
    alerts = table("ops_alerts")
    return read_frame(engine, select(alerts).order_by(alerts.c.created_at, alerts.c.alert_id))


def test_writes_a_pending_row_with_sorted_json_details_and_link(warehouse: Engine) -> None:
    alert_id = _alert(warehouse, link="http://airflow.local/dags/monitor/runs/r1")

    rows = _rows(warehouse)
    assert len(rows) == 1
    row = rows.iloc[0]
    assert alert_id is not None and len(alert_id) == 32 and row["alert_id"] == alert_id
    assert row["kind"] == "lift_divergence" and row["entity_key"] == "PROMO-17"
    assert row["severity"] == "warning" and row["state"] == "diverged"
    assert row["delivery_status"] == PENDING and row["attempts"] == 0
    assert row["run_id"] == "run-1"
    assert row["created_at"] == NOW
    assert row["details_json"] == json.dumps(
        {
            "actual_lift_pct": 3.5,
            "link": "http://airflow.local/dags/monitor/runs/r1",
            "predicted_lift_pct": 12.0,
        },
        sort_keys=True,
    )


def test_same_state_is_alerted_once_and_each_change_alerts_again(warehouse: Engine) -> None:
    # Every call at the same instant: the order must still be the order of recording.
    first = _alert(warehouse, "quarantined")
    assert _alert(warehouse, "quarantined") is None
    second = _alert(warehouse, "ok")
    assert _alert(warehouse, "ok") is None
    third = _alert(warehouse, "quarantined")
    assert _alert(warehouse, "quarantined") is None

    rows = _rows(warehouse)
    assert list(rows["alert_id"]) == [first, second, third]
    assert list(rows["state"]) == ["quarantined", "ok", "quarantined"]
    assert rows["created_at"].is_monotonic_increasing and rows["created_at"].is_unique


def test_a_later_alert_recorded_with_an_earlier_clock_is_still_the_latest(
    warehouse: Engine,
) -> None:
    _alert(warehouse, "diverged", now=NOW)
    _alert(warehouse, "ok", now=NOW - timedelta(minutes=5))  # e.g. a worker whose clock lags

    assert _alert(warehouse, "ok", now=NOW + timedelta(minutes=30)) is None
    assert list(_rows(warehouse)["state"]) == ["diverged", "ok"]


def test_rerunning_the_same_task_writes_nothing_new(warehouse: Engine) -> None:
    for _ in range(3):
        _alert(warehouse, "diverged", run_id="scheduled__2026-03-02")
    assert len(_rows(warehouse)) == 1


def test_kinds_and_entities_are_tracked_separately(warehouse: Engine) -> None:
    assert _alert(warehouse, "diverged") is not None
    assert _alert(warehouse, "diverged", entity_key="PROMO-18") is not None
    assert _alert(warehouse, "diverged", kind="forecast_drop") is not None
    assert len(_rows(warehouse)) == 3


def test_a_connection_writes_inside_the_callers_transaction(warehouse: Engine) -> None:
    with pytest.raises(RuntimeError), write_transaction(warehouse) as conn:
        assert _alert(conn, "diverged") is not None
        raise RuntimeError("the stage failed after recording its alert")
    assert _rows(warehouse).empty

    with write_transaction(warehouse) as conn:
        _alert(conn, "diverged")
        assert _alert(conn, "diverged") is None  # sees its own uncommitted alert
    assert len(_rows(warehouse)) == 1


def test_details_with_numpy_nan_and_dates_become_valid_json(warehouse: Engine) -> None:
    details = {
        "units": np.int64(42),
        "ratio": np.float64(0.25),
        "missing": float("nan"),
        "as_of": date(2026, 3, 1),
        "stores": ("S1", "S2"),
    }
    _alert(warehouse, details=details)

    stored = json.loads(_rows(warehouse).iloc[0]["details_json"])
    assert stored == {
        "units": 42,
        "ratio": 0.25,
        "missing": None,
        "as_of": "2026-03-01",
        "stores": ["S1", "S2"],
    }


def test_an_aware_now_is_stored_as_naive_utc(warehouse: Engine) -> None:
    _alert(warehouse, now=datetime(2026, 3, 2, 8, 30, tzinfo=timezone(timedelta(hours=2))))
    assert _rows(warehouse).iloc[0]["created_at"] == NOW


def test_default_now_is_the_current_utc_time(warehouse: Engine) -> None:
    before = datetime.now(UTC).replace(tzinfo=None)
    _alert(warehouse, now=None)
    created_at = _rows(warehouse).iloc[0]["created_at"]
    assert before - timedelta(seconds=1) <= created_at <= before + timedelta(minutes=1)


def test_undelivered_alerts_are_listed_oldest_first(warehouse: Engine) -> None:
    late = _alert(warehouse, entity_key="B", now=NOW + timedelta(hours=1))
    early = _alert(warehouse, entity_key="A", now=NOW)
    assert [row["alert_id"] for row in undelivered_alerts(warehouse)] == [early, late]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": "lift"}, "unknown alert kind 'lift': use one of lift_divergence"),
        ({"severity": "high"}, "unknown alert severity 'high': use one of info, warning, critical"),
        ({"state": " "}, "alert state must be a non-empty string"),
        ({"entity_key": ""}, "alert entity_key must be a non-empty string"),
    ],
)
def test_invalid_arguments_raise_one_line_errors(
    warehouse: Engine, overrides: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as info:
        _alert(warehouse, **overrides)
    assert "\n" not in str(info.value)
    with warehouse.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table("ops_alerts"))).scalar() == 0


def test_every_contract_kind_is_accepted(warehouse: Engine) -> None:
    for kind in KINDS:
        assert _alert(warehouse, kind=kind) is not None
    assert len(_rows(warehouse)) == len(KINDS)


def test_the_monitoring_kinds_are_accepted() -> None:
    assert {"drift", "model_degraded", "stale_source", "stale_model"} <= set(KINDS)


def test_latest_states_are_each_entitys_most_recent(warehouse: Engine) -> None:
    _alert(warehouse, state="above_prediction")
    _alert(warehouse, state="ok", now=NOW + timedelta(hours=1))
    _alert(warehouse, state="below_prediction", entity_key="PROMO-18")
    _alert(warehouse, kind="drift", state="drifting", entity_key="PROMO-17")
    assert latest_states(warehouse, "lift_divergence") == {"PROMO-17": "ok",
                                                           "PROMO-18": "below_prediction"}
    assert latest_states(warehouse, "lift_divergence", ["PROMO-18", "PROMO-99"]) == {
        "PROMO-18": "below_prediction"}
    with warehouse.connect() as conn:
        assert latest_states(conn, "drift") == {"PROMO-17": "drifting"}


def test_concurrent_writers_record_one_alert_per_state(warehouse: Engine) -> None:
    # Parallel Airflow tasks may report the same condition at once; only one may alert.
    writers = 6
    barrier = threading.Barrier(writers)

    def write() -> str | None:
        barrier.wait()
        return _alert(warehouse, "quarantined", now=None)

    with ThreadPoolExecutor(writers) as pool:
        results = list(pool.map(lambda _: write(), range(writers)))

    assert sum(result is not None for result in results) == 1
    assert len(_rows(warehouse)) == 1
