"""Customer segments: rule segments, names kept across refits, idempotent scoring, strict spec."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from customer_helpers import AS_OF, NEVER, ONCE, load_world, small_spec
from sqlalchemy import Engine, select

from liftline.customers import (
    SegmentModel,
    assign_segments,
    load_segment_spec,
    rule_segment,
    score_segments,
    train_segments,
)
from liftline.features import build_table
from liftline.modeling import SpecError
from liftline.warehouse import read_frame, table

FEATURES = ["recency_days", "frequency", "monetary", "avg_order_value", "tenure_days"]


def population(seed: int, shift_days: int = 0, extra: bool = False) -> pd.DataFrame:
    """Three well-apart groups of repeat buyers (and a fourth, far from them, if `extra`);
    `shift_days` ages the same customers by that many days."""
    rng = np.random.default_rng(seed)
    groups = [(5, 30, 900, 1200), (40, 6, 60, 900), (150, 3, 25, 300)]
    if extra:
        groups.append((10, 80, 8000, 2500))
    frames = []
    for g, (recency, frequency, monetary, tenure) in enumerate(groups):
        n = 150
        frames.append(pd.DataFrame({
            "customer_id": [f"G{g}-{i}" for i in range(n)],
            "recency_days": recency * rng.lognormal(0, 0.2, n) + shift_days,
            "frequency": np.maximum(2, frequency * rng.lognormal(0, 0.2, n)).round(),
            "monetary": monetary * rng.lognormal(0, 0.2, n),
            "tenure_days": tenure * rng.lognormal(0, 0.1, n) + shift_days}))
    frame = pd.concat(frames, ignore_index=True)
    return frame.assign(avg_order_value=frame.monetary / frame.frequency)


def test_customers_without_repeat_purchases_get_rule_segments() -> None:
    snapshot = pd.DataFrame({"customer_id": ["never", "once", "quiet", "repeat"],
                             "frequency": [0, 1, 0, 5], "recency_days": [np.nan, 10, 400, 3],
                             "monetary": [0, 50, 0, 300], "avg_order_value": [np.nan, 50, np.nan, 60],
                             "tenure_days": [20, 15, 900, 800]})
    ever = pd.Series([0, 1, 4, 9])
    assert rule_segment(snapshot, ever).tolist() == ["prospect", "first_purchase", "lapsed", None]
    model = SegmentModel(FEATURES, k_min=3, k_max=3, resamples=0).fit(population(1))
    labels = assign_segments(model, snapshot, ever)
    assert labels.tolist()[:3] == ["prospect", "first_purchase", "lapsed"]
    assert labels.iloc[3] in model.names_


def test_segment_names_stay_the_same_across_refits_a_week_apart() -> None:
    first = SegmentModel(FEATURES, k_min=3, k_max=3, resamples=0, seed=1).fit(population(1))
    later = population(2, shift_days=7)
    refit = SegmentModel(FEATURES, k_min=3, k_max=3, resamples=0, seed=5,
                         previous=first).fit(later)
    assert sorted(refit.names_) == sorted(first.names_)
    same = (refit.predict(later) == first.predict(later)).mean()
    assert same > 0.95


def test_a_genuinely_new_cluster_gets_a_new_name() -> None:
    first = SegmentModel(FEATURES, k_min=3, k_max=3, resamples=0).fit(population(1))
    refit = SegmentModel(FEATURES, k_min=4, k_max=4, resamples=0,
                         previous=first).fit(population(2, extra=True))
    assert set(first.names_) < set(refit.names_)
    assert len(set(refit.names_)) == 4


def test_a_refit_keeps_the_previous_k_unless_another_is_clearly_better() -> None:
    from liftline.customers.segments import KChoice

    previous = SegmentModel(FEATURES, k_min=3, k_max=3, resamples=0).fit(population(1))
    refit = SegmentModel(FEATURES, previous=previous, k_switch_margin=0.05)
    close = [KChoice(3, 0.30, 0.74), KChoice(4, 0.33, 0.80)]
    assert refit._chosen_k(close) == 3
    clear = [KChoice(3, 0.30, 0.95), KChoice(4, 0.40, 0.95)]
    assert refit._chosen_k(clear) == 4
    assert SegmentModel(FEATURES)._chosen_k(close) == 4  # no previous model: the best


def test_k_is_chosen_by_silhouette_among_stable_fits() -> None:
    model = SegmentModel(FEATURES, k_min=2, k_max=6, resamples=2).fit(population(1))
    assert model.k_ == 3  # three groups were drawn
    assert {c.k for c in model.choices_} == {2, 3, 4, 5, 6}


def test_train_score_and_rerun_leave_the_same_rows(warehouse: Engine) -> None:
    load_world(warehouse)
    spec = small_spec()
    trained = train_segments(warehouse, "train-1", spec=spec, log=lambda _: None)
    assert trained["status"] == "trained" and trained["registry_status"] == "champion"
    first = score_segments(warehouse, "score-1", spec=spec, log=lambda _: None)
    assert first["as_of"] == str(AS_OF)  # no POS: the latest feat_customer snapshot
    before = _rows(warehouse, "score-1")
    again = score_segments(warehouse, "score-1", spec=spec, log=lambda _: None)
    assert again["rows"] == first["rows"]
    after = _rows(warehouse, "score-1")
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name])
    segments = before["ml_customer_segments"].set_index("customer_id")
    assert segments.loc[NEVER, "segment"] == "prospect"
    assert segments.loc[ONCE, "segment"] == "first_purchase"
    assert segments.expected_revenue_6m.notna().all()
    assert set(segments.value_model_version) == {first["value_model_version"]} != {None}
    profiles = before["ml_customer_profiles"]
    assert profiles.customers.sum() == len(segments)
    assert profiles.customer_share.sum() == pytest.approx(1.0)


def test_migrations_compare_with_the_previous_scoring(warehouse: Engine) -> None:
    load_world(warehouse)
    spec = small_spec()
    earlier = AS_OF - timedelta(days=200)
    build_table(warehouse, "feat_customer", "features-early", as_of=earlier, log=lambda _: None)
    # a model trained on later data never scores an earlier date: train at each as-of
    train_segments(warehouse, "train-early", as_of=earlier, spec=spec, log=lambda _: None)
    score_segments(warehouse, "score-early", as_of=earlier, spec=spec, log=lambda _: None)
    later = train_segments(warehouse, "train-late", spec=spec, log=lambda _: None)
    assert later["champion_unexplained_share"] is not None  # the champion, on the same window
    found = score_segments(warehouse, "score-late", spec=spec, log=lambda _: None)
    moved = _rows(warehouse, "score-late")["ml_segment_migrations"]
    assert found["rows"]["ml_segment_migrations"] == len(moved) > 0
    assert (moved.from_segment != moved.to_segment).all()
    assert set(pd.to_datetime(moved.from_as_of).dt.date) == {earlier}
    # the customers whose purchases stopped after day 250 were active 200 days before the end
    assert "lapsed" in set(moved.to_segment)


def test_nothing_to_train_or_score_is_a_skip(warehouse: Engine) -> None:
    assert train_segments(warehouse, "t", log=lambda _: None)["status"] == "skipped"
    assert score_segments(warehouse, "s", log=lambda _: None)["status"] == "skipped"
    load_world(warehouse)
    found = score_segments(warehouse, "s", spec=small_spec(), log=lambda _: None)
    assert found == {"status": "skipped", "reason": "no segment model"}


@pytest.mark.parametrize(("text", "names"), [
    ("segments:\n  k_mni: 3\n", "segments.k_mni"),
    ("segment:\n  k_min: 3\n", "segment"),
    ("segments:\n  features: [recency_days, loyalty]\n", "loyalty"),
    ("segments:\n  k_min: 9\n  k_max: 4\n", "k_min"),
    ("value:\n  kind: magic\n", "value.kind"),
    ("lifecycle:\n  promotion_margn: 0.1\n", "promotion_margn"),
])
def test_spec_errors_are_one_line(tmp_path, text: str, names: str) -> None:
    path = tmp_path / "customer_segments.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as error:
        load_segment_spec(path)
    assert names in str(error.value) and "\n" not in str(error.value)


def test_the_shipped_spec_loads() -> None:
    from liftline.registry import lifecycle

    spec = load_segment_spec()
    assert spec.section("value")["horizon_days"] == 182
    assert spec.lifecycle.retrain_every_days == 7
    assert lifecycle("customer_segments") == spec.lifecycle  # the family's spec is this one


def _rows(engine: Engine, run_id: str) -> dict[str, pd.DataFrame]:
    found = {}
    for name in ("ml_customer_segments", "ml_customer_profiles", "ml_segment_migrations"):
        t = table(name)
        key = "customer_id" if "customer_id" in t.c else "segment"
        found[name] = read_frame(engine, select(t).where(t.c.run_id == run_id)
                                 .order_by(t.c[key])).reset_index(drop=True)
    return found
