"""ml_promo_lift's lifecycle through the real stages: what-if until the start, then frozen;
recommendations replaced on a rerun; the whole chain train -> score -> monitor on one world."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import func, select, update

from liftline.monitor.lift import monitor_lift
from liftline.promo import score_promotions, train_promo_lift
from liftline.promo.lift_table import BACKFILL, FROZEN, WHAT_IF
from liftline.warehouse import read_audit, read_frame, table, write_transaction

AS_OF = date(2023, 5, 31)
QUIET = {"log": lambda _: None}


def _lift(engine) -> pd.DataFrame:
    return read_frame(engine, select(table("ml_promo_lift"))).set_index("promo_id")


def test_predictions_are_what_ifs_until_the_start_then_frozen(promo_warehouse):
    # Scoring a past day uses a model trained on data up to that day, never a later one.
    earlier = date(2023, 4, 30)
    trained = train_promo_lift(promo_warehouse, "train-0", as_of=earlier, **QUIET)
    assert trained["status"] == "trained"
    first = score_promotions(promo_warehouse, "score-1", as_of=earlier, **QUIET)
    assert first["status"] == "ok"
    rows = _lift(promo_warehouse)
    starts = pd.to_datetime(rows["start_date"])
    planned = rows.loc[starts > pd.Timestamp(earlier)]
    assert len(planned) and (planned["prediction_kind"] == WHAT_IF).all()
    assert (rows.loc[starts <= pd.Timestamp(earlier), "prediction_kind"] == BACKFILL).all()
    assert rows["predicted_lift_pct"].notna().all()

    # The what-if a planner last saw is what freezes, whatever the model says later.
    starting = planned.loc[pd.to_datetime(planned["start_date"]) <= pd.Timestamp(AS_OF)]
    promo_id = starting.index[0]
    lift = table("ml_promo_lift")
    with write_transaction(promo_warehouse) as conn:
        conn.execute(update(lift).where(lift.c.promo_id == promo_id)
                     .values(predicted_lift_pct=42.0))
    train_promo_lift(promo_warehouse, "train-1", as_of=AS_OF, **QUIET)
    score_promotions(promo_warehouse, "score-2", as_of=AS_OF, **QUIET)
    score_promotions(promo_warehouse, "score-3", as_of=AS_OF, **QUIET)
    after = _lift(promo_warehouse)
    assert after.loc[promo_id, "prediction_kind"] == FROZEN
    assert after.loc[promo_id, "predicted_lift_pct"] == 42.0


def test_a_rerun_replaces_its_recommendations_and_the_chain_runs(promo_warehouse):
    train_promo_lift(promo_warehouse, "train-1", as_of=AS_OF, **QUIET)
    first = score_promotions(promo_warehouse, "score-1", as_of=AS_OF, **QUIET)
    again = score_promotions(promo_warehouse, "score-1", as_of=AS_OF, **QUIET)
    recs = table("ml_promo_recommendations")
    count = read_frame(promo_warehouse, select(func.count()).select_from(recs)
                       .where(recs.c.run_id == "score-1")).iloc[0, 0]
    assert first["recommendations"] == again["recommendations"] == count > 0
    issued = read_audit(promo_warehouse, action="recommendations_issued")
    assert len(issued) == 1 and f'"count": {count}' in issued["after_json"].iloc[0]
    frame = read_frame(promo_warehouse, select(recs))
    assert frame["discount_pct"].between(5, 50).all()
    assert frame["duration_days"].between(3, 28).all()

    summary = monitor_lift(promo_warehouse, "monitor-1", as_of=AS_OF, **QUIET)
    assert summary["status"] == "ok" and summary["promotions"] > 0
    measured = _lift(promo_warehouse).dropna(subset=["actual_lift_pct"])
    assert len(measured) and measured["divergence_pp"].notna().all()


def test_stages_skip_with_a_reason_before_there_is_anything_to_do(promo_warehouse):
    lines: list[str] = []
    summary = score_promotions(promo_warehouse, "score-0", as_of=AS_OF, log=lines.append)
    assert summary == {"status": "skipped", "reason": "no lift model"}
    assert "run train_models first" in lines[-1]
