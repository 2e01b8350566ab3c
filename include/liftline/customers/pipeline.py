"""The customer-segments stage as the DAGs call it: train weekly, score daily.

- `train_segments`: fit the named segments and the expected-value model on the as-of
  feat_customer snapshot, measure both on a time-split backtest (features as of as-of - 182
  days, revenue of the 182 days after), and register them (`customer_segments`,
  `customer_segments/value`); each becomes champion only if it earns it (artifacts.py).
- `score_segments`: with the champions, assign every customer of the snapshot, value them,
  and write this run's ml_customer_segments, ml_customer_profiles and ml_segment_migrations.

Both return a summary dict and `status: skipped` (reason logged) when there is nothing to do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, delete, func, select

from liftline.registry import register_skipped
from liftline.warehouse import bulk_insert, read_frame, table, write_transaction

from .artifacts import (
    SEGMENTS_MODEL,
    VALUE_MODEL,
    load_segments,
    load_value,
    register_segments,
    register_value,
)
from .evaluate import rfm_groups, unexplained_share
from .inputs import customer_as_of, history_at, revenue_between
from .segments import SegmentModel, action_of, assign_segments, rule_segment
from .spec import SegmentSpec, load_spec
from .value import BgNbdValue, BoostedValue, backtest_dates, value_errors, value_rows

Log = Callable[[str], None]
OUTPUT_TABLES = ("ml_customer_segments", "ml_customer_profiles", "ml_segment_migrations")


# --- training --------------------------------------------------------------------------------


def train_segments(engine: Engine, run_id: str, as_of: date | str | None = None,
                   spec: SegmentSpec | None = None, log: Log = print) -> dict[str, Any]:
    """Fit, backtest and register the segments and the expected-value model."""
    started = time.perf_counter()
    spec = spec or load_spec()
    as_of = customer_as_of(engine, as_of, log)
    if as_of is None:
        return _skip_training(engine, run_id, "no feat_customer snapshot (deliver customers)",
                              log)
    snapshot, purchases = history_at(engine, as_of, stored=True)
    ever = _purchases_ever(snapshot, purchases)
    clustered = snapshot[rule_segment(snapshot, ever).isna()]
    seg = spec.section("segments")
    if len(clustered) < int(seg["min_customers"]):
        return _skip_training(engine, run_id, f"{len(clustered)} customer(s) with repeat "
                              f"purchases in the year, fewer than {seg['min_customers']}", log)
    previous = load_segments(engine)
    model = segment_model(spec, previous[0] if previous else None).fit(clustered)
    dates = backtest_dates(as_of, int(spec.section("value")["horizon_days"]))
    earlier = history_at(engine, dates["cut"])
    actual = revenue_between(engine, earlier[0].customer_id, dates["cut"], as_of)
    seg_metrics = backtest_segments(spec, earlier, actual, previous[0] if previous else None)
    seg_metrics.update(_window(dates, purchases, len(earlier[0])), k=model.k_,
                       names=",".join(model.names_), customers=len(snapshot),
                       clustered=len(clustered))
    seg_version = register_segments(engine, run_id, model, spec, as_of, seg_metrics, snapshot,
                                    log)
    value = train_value(engine, run_id, spec, as_of, (snapshot, purchases), earlier, actual,
                        dates, log)
    seconds = round(time.perf_counter() - started, 1)
    log(f"customer segments {seg_version.version} (k={model.k_}: {', '.join(model.names_)}; "
        f"{seg_version.status}; {seconds} s)")
    return {"status": "trained", "version": seg_version.version,
            "registry_status": seg_version.status,
            "champion_changed": seg_version.status == "champion"
            and seg_version.run_id == run_id,
            "seconds": seconds, "k": model.k_, "segments": model.names_,
            **{k: seg_metrics.get(k) for k in ("unexplained_share", "rfm_unexplained_share",
                                               "champion_unexplained_share")},
            "value": value}


def segment_model(spec: SegmentSpec, previous: SegmentModel | None = None) -> SegmentModel:
    seg = spec.section("segments")
    return SegmentModel(
        features=list(seg["features"]), k_min=int(seg["k_min"]), k_max=int(seg["k_max"]),
        min_stability=float(seg["min_stability"]), resamples=int(seg["resamples"]),
        fit_sample=int(seg["fit_sample"]), score_sample=int(seg["score_sample"]),
        match_distance=float(seg["match_distance"]),
        k_switch_margin=float(seg["k_switch_margin"]), seed=int(seg["seed"]), previous=previous)


def backtest_segments(spec: SegmentSpec, earlier: tuple[pd.DataFrame, pd.DataFrame],
                      actual: pd.Series, champion: SegmentModel | None) -> dict[str, Any]:
    """Segments fitted on the snapshot at the cut-off against the RFM-quintile grouping with
    the same number of groups (and the champion's centroids), on how much of the revenue after
    the cut-off per customer they leave unexplained."""
    snapshot, purchases = earlier
    ever = _purchases_ever(snapshot, purchases)
    clustered = snapshot[rule_segment(snapshot, ever).isna()]
    seg = spec.section("segments")
    if len(clustered) < int(seg["min_customers"]) or not actual.any():
        return {"backtest": "too little history before the cut-off"}
    labels = assign_segments(segment_model(spec).fit(clustered), snapshot, ever)
    groups = labels.nunique()
    found = {"unexplained_share": unexplained_share(actual, labels),
             "rfm_unexplained_share": unexplained_share(actual, rfm_groups(snapshot, groups)),
             "backtest_groups": int(groups)}
    if champion is not None:
        found["champion_unexplained_share"] = unexplained_share(
            actual, assign_segments(champion, snapshot, ever))
    return found


def train_value(engine: Engine, run_id: str, spec: SegmentSpec, as_of: date,
                now: tuple[pd.DataFrame, pd.DataFrame],
                earlier: tuple[pd.DataFrame, pd.DataFrame], actual: pd.Series,
                dates: dict[str, date], log: Log) -> dict[str, Any]:
    """Backtest BG/NBD and LightGBM, refit the winner on the latest data, register it."""
    section = spec.section("value")
    rows_now = value_rows(*now, as_of)
    if int((rows_now.invoices_ever > 0).sum()) < int(section["min_buyers"]):
        register_skipped(engine, VALUE_MODEL, run_id, "too few buyers")
        return {"status": "skipped", "reason": "too few buyers"}
    found, _ = value_backtest(engine, spec, earlier, actual, dates)
    kind = section["kind"] if section["kind"] != "auto" else found.get("winner", "bgnbd")
    if kind == "lightgbm" and "lightgbm" not in found.get("candidates", {}):
        kind = "bgnbd"  # too little history to train the boosted model on a window before
    horizon = int(section["horizon_days"])
    if kind == "bgnbd":
        model = BgNbdValue(horizon).fit(rows_now)
    else:  # the latest complete window: features at the cut-off, revenue after it
        rows_cut = value_rows(*earlier, dates["cut"])
        model = boosted_model(spec).fit(rows_cut, actual.to_numpy())
    metrics = {**found, **found.get("candidates", {}).get(kind, {}), "kind": kind,
               **_window(dates, now[1], len(earlier[0]))}
    version = register_value(engine, run_id, model, spec, as_of, metrics, now[0], log)
    log(f"customer value {version.version} ({kind}: RMSE {metrics.get('rmse', float('nan')):.4g}"
        f" vs same-as-last-period {metrics.get('baseline_rmse', float('nan')):.4g}; "
        f"{version.status})")
    return {"status": "trained", "version": version.version, "kind": kind,
            "registry_status": version.status, "rmse": metrics.get("rmse"),
            "baseline_rmse": metrics.get("baseline_rmse"),
            "candidates": {k: v["rmse"] for k, v in found.get("candidates", {}).items()}}


def boosted_model(spec: SegmentSpec) -> BoostedValue:
    v = spec.section("value")
    return BoostedValue(int(v["horizon_days"]), str(v["objective"]), int(v["num_leaves"]),
                        float(v["learning_rate"]), int(v["n_estimators"]),
                        int(v["min_child_samples"]), int(v["seed"]))


def value_backtest(engine: Engine, spec: SegmentSpec,
                   earlier: tuple[pd.DataFrame, pd.DataFrame], actual: pd.Series,
                   dates: dict[str, date]) -> tuple[dict[str, Any], pd.DataFrame]:
    """Each candidate's error on the revenue of (cut, end] per customer known at the cut-off,
    from facts up to the cut-off only; "same as last period" is the revenue of the horizon
    before it. The boosted model trains on features at train_cut and the revenue of
    (train_cut, cut]: nothing after the cut-off reaches a prediction.

    Returns (metrics, one row per customer: `actual`, `baseline` and each candidate's
    prediction)."""
    horizon = int(spec.section("value")["horizon_days"])
    rows = value_rows(*earlier, dates["cut"])
    if int((rows.invoices_ever > 0).sum()) < int(spec.section("value")["min_buyers"]):
        return {"backtest": "too few buyers before the cut-off"}, pd.DataFrame()
    before = revenue_between(engine, rows.customer_id, dates["train_cut"], dates["cut"])
    truth = actual.to_numpy()
    predictions = {"bgnbd": BgNbdValue(horizon).fit(rows).predict(rows)}
    training = value_rows(*history_at(engine, dates["train_cut"]), dates["train_cut"])
    if int((training.invoices_ever > 0).sum()) >= int(spec.section("value")["min_buyers"]):
        target = _aligned(before, rows, training)
        predictions["lightgbm"] = boosted_model(spec).fit(training, target).predict(rows)
    candidates = {kind: value_errors(truth, p) for kind, p in predictions.items()}
    baseline = value_errors(truth, before.to_numpy())
    winner = min(candidates, key=lambda k: candidates[k]["rmse"])
    others = [candidates[k]["rmse"] for k in candidates if k != winner]
    metrics = {"candidates": candidates, "winner": winner, "baseline_rmse": baseline["rmse"],
               "baseline_mae": baseline["mae"],
               "baseline_total_error_pct": baseline["total_error_pct"],
               "winner_margin_pct": (100 * (1 - candidates[winner]["rmse"] / others[0])
                                     if others and others[0] else None)}
    table_ = pd.DataFrame({"customer_id": rows.customer_id, "actual": truth,
                           "baseline": before.to_numpy(), **predictions})
    return metrics, table_


def _aligned(before: pd.Series, rows: pd.DataFrame, training: pd.DataFrame) -> np.ndarray:
    """The revenue of (train_cut, cut] of each training customer (0 without an invoice)."""
    by_customer = pd.Series(before.to_numpy(), index=rows.customer_id.to_numpy())
    return by_customer.reindex(training.customer_id.to_numpy()).fillna(0.0).to_numpy()


def _skip_training(engine: Engine, run_id: str, reason: str, log: Log) -> dict[str, Any]:
    log(f"customer segments training skipped: {reason}")
    for model in (SEGMENTS_MODEL, VALUE_MODEL):
        register_skipped(engine, model, run_id, reason)
    return {"status": "skipped", "reason": reason}


def _purchases_ever(snapshot: pd.DataFrame, purchases: pd.DataFrame) -> pd.Series:
    counts = purchases.set_index("customer_id").invoices
    return counts.reindex(snapshot.customer_id.to_numpy()).fillna(0.0).set_axis(snapshot.index)


def _window(dates: dict[str, date], purchases: pd.DataFrame, customers: int) -> dict[str, Any]:
    first = purchases.first_purchase.min() if len(purchases) else None
    return {"backtest_cut": str(dates["cut"]), "backtest_end": str(dates["end"]),
            "backtest_customers": customers,
            "data_start": None if first is None or pd.isna(first) else str(first)[:10]}


# --- scoring ---------------------------------------------------------------------------------


def score_segments(engine: Engine, run_id: str, as_of: date | str | None = None,
                   spec: SegmentSpec | None = None, log: Log = print) -> dict[str, Any]:
    """Write this run's segments, profiles and migrations from the champions."""
    spec = spec or load_spec()
    as_of = customer_as_of(engine, as_of, log)
    if as_of is None:
        log("customer scoring skipped: no feat_customer snapshot yet")
        return {"status": "skipped", "reason": "no feat_customer snapshot"}
    found = load_segments(engine, as_of)
    if found is None:
        log("customer scoring skipped: no segment model is champion yet (run train_models)")
        return {"status": "skipped", "reason": "no segment model"}
    model, version = found
    snapshot, purchases = history_at(engine, as_of, stored=True)
    labels = assign_segments(model, snapshot, _purchases_ever(snapshot, purchases))
    expected, value_version = expected_revenue(engine, value_rows(snapshot, purchases, as_of),
                                               as_of)
    rows = segment_rows(snapshot, labels, expected, as_of, version).assign(
        value_model_version=value_version)
    profiles = profile_rows(rows, as_of, version)
    with write_transaction(engine) as conn:
        migrations = migration_rows(conn, rows, run_id, as_of)
        written = {name: _replace_run(conn, name, run_id, frame) for name, frame in
                   zip(OUTPUT_TABLES, (rows, profiles, migrations), strict=True)}
    log(f"customer scoring as of {as_of}: {written['ml_customer_segments']} customers in "
        f"{len(profiles)} segments, {written['ml_segment_migrations']} moved ({version})")
    return {"status": "ok", "as_of": str(as_of), "model_version": version,
            "value_model_version": value_version, "rows": written}


def expected_revenue(engine: Engine, rows: pd.DataFrame, as_of: date
                     ) -> tuple[np.ndarray, str | None]:
    """The champion value model's 6-month revenue per row and its version (NaN and None
    without a champion: the segments are still written)."""
    found = load_value(engine, as_of)
    if found is None:
        return np.full(len(rows), np.nan), None
    return found[0].predict(rows), found[1]


def segment_rows(snapshot: pd.DataFrame, labels: pd.Series, expected: np.ndarray,
                 as_of: date, version: str) -> pd.DataFrame:
    frame = snapshot[["customer_id", "recency_days", "frequency", "monetary",
                      "avg_order_value", "tenure_days"]].assign(
        segment=labels.to_numpy(), action=[action_of(s) for s in labels],
        expected_revenue_6m=np.round(expected, 2), as_of_date=as_of, model_version=version)
    rank = frame.groupby("segment").expected_revenue_6m.rank(ascending=False, method="first")
    return frame.assign(value_rank=rank.astype("Int64"))


def profile_rows(rows: pd.DataFrame, as_of: date, version: str) -> pd.DataFrame:
    """One row per segment: size and share, the year's revenue and its share, means."""
    by = rows.groupby("segment")
    out = pd.DataFrame({
        "customers": by.size(),
        "revenue": by.monetary.sum(min_count=1).fillna(0.0),
        "mean_order_value": by.avg_order_value.mean(),
        "mean_frequency": by.frequency.mean(),
        "mean_recency_days": by.recency_days.mean(),
        "mean_monetary": by.monetary.mean(),
        "expected_revenue_6m": by.expected_revenue_6m.sum(min_count=1),
    }).reset_index()
    total = out.revenue.sum()
    return out.assign(
        customer_share=out.customers / out.customers.sum(),
        revenue_share=out.revenue / total if total else np.nan,
        action=[action_of(s) for s in out.segment], as_of_date=as_of, model_version=version)


def migration_rows(conn: Connection, rows: pd.DataFrame, run_id: str,
                   as_of: date) -> pd.DataFrame:
    """Customers whose segment differs from the previous scoring: the latest other run that
    scored an earlier snapshot (several runs of that snapshot: the last run id)."""
    segments = table("ml_customer_segments")
    earlier = (segments.c.as_of_date < as_of) & (segments.c.run_id != run_id)
    last_as_of = conn.execute(select(func.max(segments.c.as_of_date)).where(earlier)).scalar()
    columns = ["customer_id", "from_segment", "to_segment", "from_as_of", "as_of_date"]
    if last_as_of is None:
        return pd.DataFrame(columns=columns)
    last_run = conn.execute(select(func.max(segments.c.run_id)).where(
        earlier, segments.c.as_of_date == last_as_of)).scalar()
    before = read_frame(conn, select(segments.c.customer_id, segments.c.segment)
                        .where(segments.c.run_id == last_run))
    both = rows[["customer_id", "segment"]].merge(before, on="customer_id",
                                                  suffixes=("", "_before"))
    moved = both[both.segment != both.segment_before]
    return pd.DataFrame({"customer_id": moved.customer_id, "from_segment": moved.segment_before,
                         "to_segment": moved.segment, "from_as_of": parse_day(last_as_of),
                         "as_of_date": as_of})[columns]


def parse_day(value: Any) -> date:
    return pd.Timestamp(value).date()


def _replace_run(conn: Connection, name: str, run_id: str, frame: pd.DataFrame) -> int:
    target = table(name)
    conn.execute(delete(target).where(target.c.run_id == run_id))
    if frame.empty:
        return 0
    return bulk_insert(conn, target, frame.assign(run_id=run_id))
