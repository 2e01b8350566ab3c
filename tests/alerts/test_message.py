"""format_blocks and alert_summary: what an alert says, within Block Kit's limits."""

from __future__ import annotations

import json
from datetime import datetime

from liftline.alerts import alert_summary, format_blocks
from liftline.alerts.message import DEFAULT_ACTIONS, format_value

LINK = "http://localhost:8080/dags/liftline_monitor/runs/manual__2026-03-02"


def _row(**overrides) -> dict:
    details = {
        "predicted_lift_pct": 12.04,
        "actual_lift_pct": 3.52,
        "divergence_pp": -8.52,
        "incremental_units": 15234,
        "observed_days": 7,
        "link": LINK,
    }
    row = {
        "alert_id": "0123456789abcdef0123456789abcdef",
        "kind": "lift_divergence",
        "entity_key": "PROMO-17",
        "severity": "critical",
        "title": "Promotion PROMO-17 lifts far less than predicted",
        "details_json": json.dumps(details, sort_keys=True),
        "created_at": datetime(2026, 3, 2, 6, 30),
        "run_id": "manual__2026-03-02",
    }
    return row | overrides


def _by_type(blocks: list[dict], kind: str) -> list[dict]:
    return [block for block in blocks if block["type"] == kind]


def test_blocks_show_title_numbers_action_and_link() -> None:
    text, blocks = format_blocks(_row())

    assert [block["type"] for block in blocks] == ["header", "section", "section", "context"]
    header = blocks[0]["text"]
    assert header["type"] == "plain_text"
    assert header["text"] == ":rotating_light: Promotion PROMO-17 lifts far less than predicted"

    overview, action = _by_type(blocks, "section")
    assert "*Critical*" in overview["text"]["text"] and "`PROMO-17`" in overview["text"]["text"]
    fields = [field["text"] for field in overview["fields"]]
    assert "*Predicted lift*\n12.0%" in fields
    assert "*Actual lift*\n3.5%" in fields
    assert "*Divergence*\n-8.5 pp" in fields
    assert "*Incremental units*\n15,234" in fields
    assert not any("link" in field.lower() for field in fields)

    assert action["text"]["text"] == f"*What to do*\n{DEFAULT_ACTIONS['lift_divergence']}"
    context = " ".join(element["text"] for element in blocks[3]["elements"])
    assert f"<{LINK}|Open the Airflow run>" in context
    assert "manual__2026-03-02" in context and "2026-03-02 06:30 UTC" in context

    assert "Promotion PROMO-17 lifts far less than predicted" in text
    assert "Actual lift: 3.5%" in text and "\n" not in text


def test_an_explicit_action_replaces_the_default() -> None:
    details = {"action": "Pause the promotion in stores S1-S4 & re-check <pricing>."}
    _, blocks = format_blocks(_row(details_json=json.dumps(details)))
    action = _by_type(blocks, "section")[1]["text"]["text"]
    assert (
        action
        == "*What to do*\nPause the promotion in stores S1-S4 &amp; re-check &lt;pricing&gt;."
    )


def test_without_numbers_or_link_the_blocks_stay_valid() -> None:
    # pipeline_failure: no report section to link either.
    _, blocks = format_blocks(_row(kind="pipeline_failure", details_json="{}", run_id=None,
                                   alert_id=None, created_at=None))
    assert [block["type"] for block in blocks] == ["header", "section", "section"]
    assert "fields" not in blocks[1]  # Slack rejects an empty fields list


def test_every_text_respects_block_kit_limits() -> None:
    details = {f"metric_{i:02d}": "x" * 5000 for i in range(25)} | {"action": "y" * 9000}
    _, blocks = format_blocks(_row(title="T" * 400, details_json=json.dumps(details)))

    assert len(blocks[0]["text"]["text"]) <= 150
    overview, action = _by_type(blocks, "section")
    assert len(overview["fields"]) == 10
    assert all(len(field["text"]) <= 2000 for field in overview["fields"])
    assert len(action["text"]["text"]) <= 3000


def test_unreadable_details_json_still_formats() -> None:
    text, blocks = format_blocks(_row(details_json="{not json"))
    assert blocks[0]["type"] == "header"
    assert "{not json" in text


def test_a_link_that_is_not_http_is_not_rendered_as_a_link() -> None:
    _, blocks = format_blocks(_row(details_json=json.dumps({"link": "javascript:alert(1)"})))
    context = " ".join(element["text"] for element in _by_type(blocks, "context")[0]["elements"])
    assert "javascript" not in context


def test_summary_is_one_line_with_kind_severity_entity_and_numbers() -> None:
    details = json.dumps({"rows_rejected": 120, "reason": "missing\ncolumn units"})
    summary = alert_summary(_row(kind="data_quality", severity="warning", details_json=details))
    assert summary.startswith("[WARNING] data_quality PROMO-17: ")
    assert "Rows rejected: 120" in summary and "Reason: missing column units" in summary
    assert DEFAULT_ACTIONS["data_quality"] in summary
    assert "\n" not in summary


def test_values_are_formatted_for_people() -> None:
    assert format_value(1234567.891) == "1,234,568"
    assert format_value(12.3456) == "12.35"
    assert format_value(0.012345) == "0.0123"
    assert format_value(3.0) == "3"
    assert format_value(True) == "yes"
    assert format_value(None) == "n/a"
    assert format_value(float("nan")) == "n/a"
    assert format_value(4.25, "pp") == "+4.2 pp"


def test_every_kind_has_its_own_default_action() -> None:
    from liftline.alerts import KINDS

    assert set(DEFAULT_ACTIONS) == set(KINDS)
    for kind in ("drift", "model_degraded", "stale_source", "stale_model"):
        summary = alert_summary(_row(kind=kind, severity="warning",
                                     details_json=json.dumps({"max_psi": 0.41})))
        assert summary.startswith(f"[WARNING] {kind} PROMO-17: ")
        assert DEFAULT_ACTIONS[kind] in summary
