"""The satisfaction model's rows and spec: nothing from an interaction's own outcome or a later
interaction reaches its features or its score; hours open are learnt as scoring sees them;
spec errors are one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from satisfaction_helpers import AS_OF, service_features, small_spec

from liftline.alerts import format_blocks
from liftline.customers import load_satisfaction_spec
from liftline.customers.satisfaction_backtest import fit_model
from liftline.customers.satisfaction_data import (
    AT_OPEN,
    HOURS_OPEN,
    LABEL,
    as_seen_at,
    labelled,
    open_at,
    scoring_moments,
    with_previous_contact,
)
from liftline.customers.satisfaction_model import describe
from liftline.modeling import SpecError

OUTCOME = ("handling_hours", "is_closed", "satisfaction_rating", "label_low_satisfaction")


def rows_at(frame: pd.DataFrame, as_of=AS_OF) -> pd.DataFrame:
    return as_seen_at(with_previous_contact(frame), as_of)


@pytest.fixture(scope="module")
def model_and_rows():
    spec = small_spec()
    rows = rows_at(service_features())
    train = labelled(rows, AS_OF, 3)
    moments = scoring_moments(train, 14)
    return fit_model(train, moments, "lightgbm", spec), rows


def test_scoring_moments_are_the_day_ends_an_interaction_was_open_at():
    frame = rows_at(pd.DataFrame({
        "interaction_id": ["a", "b", "c"], "customer_id": ["x", "y", "z"],
        "opened_at": pd.to_datetime(["2024-03-01 22:00", "2024-03-01 10:00",
                                     "2024-03-01 23:00"]),
        "handling_hours": [3.0, 5.0, 49.0], "is_closed": True,
        "label_low_satisfaction": [True, False, True]}).assign(
        opened_date=lambda f: f.opened_at.dt.normalize()), AS_OF)
    moments = scoring_moments(frame, max_open_days=14)
    # a: open at midnight (2 h); b: closed by 15:00, never scored; c: 1 h, 25 h, 49 h.
    assert moments.interaction_id.tolist() == ["a", "c", "c", "c"]
    assert moments[HOURS_OPEN].tolist() == [2.0, 1.0, 25.0, 49.0]
    assert scoring_moments(frame, max_open_days=2).interaction_id.tolist() == ["a", "c", "c"]


def test_a_close_after_the_as_of_is_not_known_then():
    frame = service_features()
    closed = frame[frame.is_closed].iloc[-1]
    early = pd.Timestamp(closed.opened_date).date()
    seen = rows_at(frame, early).set_index("interaction_id").loc[closed.interaction_id]
    if closed.opened_at + pd.Timedelta(hours=closed.handling_hours) >= pd.Timestamp(
            early) + pd.Timedelta(days=1):
        assert not seen.is_closed and np.isnan(seen[LABEL])
    assert open_at(rows_at(frame, early), early).interaction_id.isin(
        [closed.interaction_id]).any() == (not seen.is_closed)


def test_own_outcome_never_changes_features_or_score(model_and_rows):
    """Rating, label, handling time and close of the interaction itself: same score."""
    model, rows = model_and_rows
    moments = scoring_moments(labelled(rows, AS_OF, 3), 14).head(200)
    changed = moments.assign(satisfaction_rating=6 - moments.satisfaction_rating,
                             label_low_satisfaction=~moments.label_low_satisfaction.astype(bool),
                             **{LABEL: 1 - moments[LABEL]},
                             handling_hours=moments.handling_hours * 3 + 100,
                             is_closed=~moments.is_closed.astype(bool))
    np.testing.assert_array_equal(model.predict(moments), model.predict(changed))
    assert model.reasons(moments.head(20)) == model.reasons(changed.head(20))


def test_a_later_interaction_changes_nothing_of_an_earlier_one(model_and_rows):
    model, rows = model_and_rows
    frame = service_features()
    target = open_at(rows_at(frame), AS_OF).iloc[0]
    later = frame[frame.interaction_id == target.interaction_id].assign(
        interaction_id="SR-LATER", opened_at=target.opened_at + pd.Timedelta(minutes=30),
        is_closed=True, handling_hours=0.1, satisfaction_rating=1.0,
        label_low_satisfaction=True)
    before = open_at(rows_at(frame), AS_OF).set_index("interaction_id")
    everything = rows_at(pd.concat([frame, later], ignore_index=True))
    after = open_at(everything, AS_OF).set_index("interaction_id")
    columns = [*AT_OPEN, HOURS_OPEN]
    pd.testing.assert_frame_equal(before[columns], after.loc[before.index, columns])
    np.testing.assert_allclose(model.predict(before), model.predict(after.loc[before.index]))
    # ... while the later interaction does see the earlier one.
    seen = everything.set_index("interaction_id").loc["SR-LATER"]
    assert seen.days_since_previous_contact == pytest.approx(30 / 1440)


def test_reasons_are_readable_and_only_raise_the_risk(model_and_rows):
    model, rows = model_and_rows
    scored = open_at(rows, AS_OF)
    reasons = model.reasons(scored)
    assert len(reasons) == len(scored) and all(len(r) <= 3 for r in reasons)
    contributions = model.contributions(scored)
    for row, listed in zip(contributions.itertuples(index=False), reasons, strict=True):
        assert len(listed) == min(3, sum(v > 0 for v in row))
    assert describe("channel", "email") == "via email"
    assert describe("hours_open", 26.2) == "open 26 h so far"
    assert describe("repeat_contact_30d", True) == "repeat contact within 30 days"


def test_the_shipped_spec_loads():
    spec = load_satisfaction_spec()
    assert spec.name == "satisfaction"
    assert spec.risk_level(0.99) == "high" and spec.risk_level(0.0) == "low"
    assert spec.lifecycle.promotion_margin >= 0


@pytest.mark.parametrize(("text", "expected"), [
    ("model:\n  holdout_week: 4\n", "unknown key 'model.holdout_week'"),
    ("risk_levels:\n  high: 0.2\n  medium: 0.4\n", "high >= medium >= low"),
    ("risk_levels:\n  high: 1.5\n", "probabilities in [0, 1]"),
    ("model:\n  kind: forest\n", "model.kind 'forest'"),
    ("digest:\n  levels: [urgent]\n", "digest.levels"),
    ("digest:\n  severity: loud\n", "digest.severity 'loud'"),
    ("lifecycle:\n  promotion_margin: 2\n", "promotion_margin"),
    ("model: [1, 2]\n", "model must be a mapping"),
    ("model: {kind: [\n", "not valid YAML"),
])
def test_spec_errors_are_one_line(tmp_path: Path, text: str, expected: str):
    path = tmp_path / "satisfaction.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as error:
        load_satisfaction_spec(path)
    assert expected in str(error.value)
    assert "\n" not in str(error.value)


def test_the_digest_message_lists_each_interaction_on_one_line_up_to_its_limit():
    items = [{"interaction": f"SR-{i}", "customer": f"CU-{i}", "risk_pct": 90.0 - i,
              "reasons": "via email; repeat contact within 30 days"} for i in range(30)]
    alert = {"kind": "service_risk", "entity_key": "digest/2024-06-08", "severity": "warning",
             "title": "Service risk digest", "details": {"interactions": 30, "max_listed": 25,
                                                         "items": items}}
    text, blocks = format_blocks(alert)
    body = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    assert body.count("• `SR-") == 25 and "… and 5 more" in body
    assert "Risk 89.0%" in body and "Max listed" not in body
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    assert "SR-0 (Customer CU-0" in text
