"""train_satisfaction and score_satisfaction on a warehouse: registration, skips, one digest a
day however many interactions qualify, nothing listed twice, reruns that change nothing."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pandas as pd
import pytest
from satisfaction_helpers import AS_OF, load_features, service_features, small_spec
from sqlalchemy import Engine, select

from liftline.alerts import format_blocks
from liftline.customers import score_satisfaction, train_satisfaction
from liftline.registry import champion, versions
from liftline.warehouse import read_frame, table

QUIET = {"log": lambda _: None}


def everyone_high(spec):
    """A spec under which every scored interaction is high risk (the digest's worst case)."""
    return dataclasses.replace(spec, risk_levels={"high": 0.0, "medium": 0.0, "low": 0.0})


def alerts(engine: Engine) -> pd.DataFrame:
    return read_frame(engine, select(table("ops_alerts")).order_by(table("ops_alerts").c.created_at))


def scores(engine: Engine, run_id: str) -> pd.DataFrame:
    target = table("ml_satisfaction_scores")
    return read_frame(engine, select(target).where(target.c.run_id == run_id)
                      .order_by(target.c.interaction_id))


@pytest.fixture
def trained(warehouse: Engine) -> Engine:
    load_features(warehouse, service_features())
    summary = train_satisfaction(warehouse, "train-1", AS_OF, small_spec(), **QUIET)
    assert summary["status"] == "trained", summary
    return warehouse


def test_training_registers_a_champion_that_beats_its_baselines(trained: Engine):
    found = champion(trained, "satisfaction")
    card = found.card()
    assert card.metric == "brier" and card.score < card.baseline_score
    assert card.metrics["base_rate_brier"] > card.score
    assert set(card.metrics["importance"]) >= {"channel", "hours_open"}
    assert card.metrics["roc_auc"] > 0.6
    assert card.inputs["table"] == "feat_service_interaction"


def test_too_few_labelled_interactions_is_a_skipped_training(warehouse: Engine):
    load_features(warehouse, service_features(n=90))
    summary = train_satisfaction(warehouse, "train-1", AS_OF, small_spec(), **QUIET)
    assert summary["status"] == "skipped" and "labelled" in summary["reason"]
    assert [v.status for v in versions(warehouse, "satisfaction")] == ["skipped"]
    assert score_satisfaction(warehouse, "score-1", AS_OF, small_spec(),
                              **QUIET)["reason"] == "no satisfaction model"


def test_without_sales_features_the_as_of_is_the_last_opened_day(trained: Engine):
    summary = score_satisfaction(trained, "score-1", spec=small_spec(), **QUIET)
    assert summary["as_of"] == str(AS_OF)


def test_one_digest_a_day_and_reruns_change_nothing(trained: Engine):
    spec = everyone_high(small_spec())
    first = score_satisfaction(trained, "score-1", AS_OF, spec, **QUIET)
    written = scores(trained, "score-1")
    repeat = written[written.repeat_contact]
    assert first["status"] == "ok" and first["rows"]["ml_satisfaction_scores"] == len(written)
    assert len(repeat) >= 2 and len(written) > len(repeat)  # several qualify, some do not
    digest = alerts(trained)
    assert len(digest) == 1 and first["alerts"] == 1
    items = json.loads(digest.details_json[0])["items"]
    assert sorted(i["interaction"] for i in items) == sorted(repeat.interaction_id)
    assert all(i["reasons"] for i in items)
    _, blocks = format_blocks(digest.iloc[0].to_dict())
    body = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    assert all(f"• `{i}` · Risk " in body for i in repeat.interaction_id)

    again = score_satisfaction(trained, "score-1", AS_OF, spec, **QUIET)  # same run
    other = score_satisfaction(trained, "score-2", AS_OF, spec, **QUIET)  # same day
    assert again["alerts"] == other["alerts"] == 0
    assert len(alerts(trained)) == 1
    pd.testing.assert_frame_equal(scores(trained, "score-1").drop(columns="scored_at"),
                                  written.drop(columns="scored_at"))


def test_an_interaction_listed_before_is_not_listed_again(warehouse: Engine):
    trained = warehouse
    spec = everyone_high(small_spec())
    day_before = AS_OF - timedelta(days=1)
    load_features(trained, service_features())
    train_satisfaction(trained, "train-0", day_before, small_spec(), **QUIET)
    score_satisfaction(trained, "score-0", day_before, spec, **QUIET)
    listed_before = {i["interaction"] for i in json.loads(
        alerts(trained).details_json[0])["items"]}
    score_satisfaction(trained, "score-1", AS_OF, spec, **QUIET)
    today = scores(trained, "score-1")
    still_open = listed_before & set(today.interaction_id)
    assert still_open, "the fixture should keep some listed interaction open a second day"
    found = alerts(trained)
    assert len(found) == 2
    listed_today = {i["interaction"] for i in json.loads(found.details_json.iloc[1])["items"]}
    assert not listed_today & listed_before
    assert listed_today == set(today[today.repeat_contact].interaction_id) - listed_before


def test_a_later_interaction_does_not_change_an_open_ones_score(trained: Engine):
    spec = small_spec()
    score_satisfaction(trained, "score-1", AS_OF, spec, **QUIET)
    before = scores(trained, "score-1").iloc[0]
    frame = service_features()
    source = frame[frame.interaction_id == before.interaction_id]
    later = source.assign(interaction_id="SR-LATER",
                          opened_at=source.opened_at + pd.Timedelta(minutes=5),
                          is_closed=True, handling_hours=0.05, satisfaction_rating=1.0,
                          label_low_satisfaction=True)
    load_features(trained, pd.concat([frame, later], ignore_index=True))
    score_satisfaction(trained, "score-2", AS_OF, spec, **QUIET)
    after = scores(trained, "score-2").set_index("interaction_id").loc[before.interaction_id]
    assert after.p_low_satisfaction == pytest.approx(before.p_low_satisfaction)
    assert after.top_reasons == before.top_reasons
