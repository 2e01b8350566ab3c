"""The audit log is append-only: through the library, and through SQL on either database."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

import liftline.warehouse as warehouse_api
from liftline.warehouse import append_audit, audit, create_schema, read_audit


def test_events_are_appended_and_read_back_in_order(warehouse: Engine) -> None:
    append_audit(warehouse, "champion_changed", "sales_forecast/all",
                 before={"version": "a"}, after={"version": "b"}, actor="os:ana", run_id="r1")
    append_audit(warehouse, "rollback", "sales_forecast/all",
                 before={"version": "b"}, after={"version": "a"}, actor="os:ben")
    events = read_audit(warehouse, entity_key="sales_forecast/all")
    assert list(events["action"]) == ["champion_changed", "rollback"]
    assert list(events["actor"]) == ["os:ana", "os:ben"]
    assert '"version": "b"' in events["after_json"].iloc[0]


def test_a_rerun_of_the_same_task_appends_nothing_new(warehouse: Engine) -> None:
    for _ in range(2):
        append_audit(warehouse, "alert_sent", "promo:P1", after={"alert": "x"}, run_id="r1")
    assert len(read_audit(warehouse, action="alert_sent")) == 1
    # Outside a run every call is its own event (two manual rollbacks are two events).
    for _ in range(2):
        append_audit(warehouse, "rollback", "mmm", after={"version": "v1"})
    assert len(read_audit(warehouse, action="rollback")) == 2


def test_the_library_offers_no_way_to_change_or_remove_an_event() -> None:
    exported = [n for n in warehouse_api.__all__ if "audit" in n]
    assert sorted(exported) == ["append_audit", "read_audit"]
    public = {n for n, v in vars(audit).items() if callable(v) and not n.startswith("_")
              and getattr(v, "__module__", None) == audit.__name__}
    assert public == {"append_audit", "read_audit", "current_actor", "guard_audit_log"}


@pytest.mark.parametrize("statement", [
    "UPDATE ops_audit_log SET actor = 'someone else'",
    "DELETE FROM ops_audit_log",
])
def test_the_database_refuses_update_and_delete(warehouse: Engine, statement: str) -> None:
    append_audit(warehouse, "champion_changed", "mmm/ALL/all", after={"version": "v2"},
                 run_id="r1")
    with pytest.raises(DBAPIError, match="append-only"), warehouse.begin() as conn:
        conn.execute(text(statement))
    assert list(read_audit(warehouse)["actor"]) != ["someone else"]
    assert len(read_audit(warehouse)) == 1


def test_the_guard_survives_schema_upgrades(warehouse: Engine) -> None:
    create_schema(warehouse)  # a second call (every task makes one) keeps a single guard
    append_audit(warehouse, "rollback", "m", after={}, run_id="r")
    with pytest.raises(DBAPIError, match="append-only"), warehouse.begin() as conn:
        conn.execute(text("DELETE FROM ops_audit_log"))


def test_a_delivered_alert_is_audited_once(warehouse: Engine) -> None:
    from liftline.alerts import record_alert
    from liftline.alerts.outbox import mark_delivered

    alert_id = record_alert(warehouse, kind="drift", entity_key="promo_lift", severity="warning",
                            title="inputs drifted", details={}, state="drifting", run_id="r1")
    mark_delivered(warehouse, alert_id)
    mark_delivered(warehouse, alert_id)  # a second delivery run finds it delivered: one event
    events = read_audit(warehouse, action="alert_sent")
    assert list(events["entity_key"]) == ["drift:promo_lift"] and alert_id in (
        events["after_json"].iloc[0])
