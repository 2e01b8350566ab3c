"""Promotion-lift benchmark: measurement, lift model and divergence alerts against the truth.

Not a test: prints numbers. On the synthetic small world (generated, ingested and featured for
real), with the generator's truth in `_truth/promotions.csv`:

1. Actual-lift measurement of finished promotions (`forecast` counterfactual and the
   `pre_period` fallback) against the realised true lift: MAE, median error, bias, and how
   often the 90% interval holds the truth.
2. The lift model on its time-based holdout (promotions that started after the training
   cut-off), against the category's mean past lift: MAE in lift points against the measured
   lift and against the true lift; and the promotion-window forecast error (MAPE of the units
   summed over each window: baseline x (1 + predicted lift) against actual units), the number
   planners quote as uplift-forecast accuracy.
3. A replay of the last `--replay-days` days, one as-of day at a time, running the real
   stages: lift model retrained weekly (and the counterfactual's store model refitted weekly),
   predictions frozen at each start, the monitor daily. Alerts are compared with the truth: a
   promotion truly diverges when |true realised lift - frozen prediction| > the threshold.
   Precision and recall are printed (goal: both >= 0.8). The replay cuts the fully ingested
   warehouse at each as-of (every feature is point-in-time, and the stages read nothing after
   as-of), which stands in for delivering the world day by day.

    python benchmarks/bench_promo.py [--seed 42] [--world DIR] [--replay-days 120]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
TABLES = ["feat_calendar", "feat_sales_daily", "feat_sales_store_daily",
          "feat_promo_effectiveness"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--world", type=Path, help="reuse a generated small world")
    parser.add_argument("--replay-days", type=int, default=120, help="0: no replay")
    parser.add_argument("--keep", type=Path, help="keep the work folder here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_promo_"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["LIFTLINE_HOME"] = str(work / "home")
    try:
        world = args.world or _generate(work / "world", args.seed)
        engine = _warehouse(world, work / "warehouse.db")
        truth = pd.read_csv(world / "_truth" / "promotions.csv",
                            parse_dates=["start_date", "end_date"])
        as_of = _last_day(engine)
        print(f"\nsmall world (seed {args.seed}), as of {as_of}: {len(truth)} promotions, "
              f"{(truth['status'] == 'completed').sum()} completed")
        measurement_accuracy(engine, truth, as_of)
        holdout = lift_model_holdout(engine, truth, as_of)
        window_forecast_error(holdout)
        if args.replay_days > 0:
            replay_alerts(engine, truth, as_of, args.replay_days)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def _generate(out: Path, seed: int) -> Path:
    from liftline.synth import generate

    generate(out, scale="small", seed=seed, progress=False)
    return out


def _warehouse(world: Path, path: Path):
    sys.path.insert(0, str(HERE))
    from bench_features import ingest_world

    from liftline.features import build_features
    from liftline.warehouse import create_schema, get_engine

    url = f"sqlite:///{path}"
    seconds = ingest_world(world, url)
    engine = get_engine(url)
    create_schema(engine)
    started = time.perf_counter()
    build_features(engine, run_id="bench", tables=TABLES, log=lambda _: None)
    print(f"setup: ingest {seconds:.0f} s, sales and promotion features "
          f"{time.perf_counter() - started:.0f} s")
    return engine


def _last_day(engine):
    from liftline.features import features_as_of

    return features_as_of(engine)


# --- 1. measurement -------------------------------------------------------------------------


def measurement_accuracy(engine, truth: pd.DataFrame, as_of) -> None:
    from liftline.promo.measure import measure_promotions
    from liftline.promo.spec import load_spec

    print("\n1. actual-lift measurement of completed promotions vs the realised true lift")
    print(f"{'baseline':<12}{'promos':>7}{'MAE pp':>8}{'median':>8}{'bias':>7}{'90% cover':>10}"
          f"{'seconds':>9}")
    spec = load_spec()
    for method in ("forecast", "pre_period"):
        chosen = dataclasses.replace(spec, baseline={**spec.section("baseline"),
                                                     "method": method})
        started = time.perf_counter()
        found = measure_promotions(engine, as_of, chosen, log=lambda _: None)
        seconds = time.perf_counter() - started
        both = found.promos.merge(truth[["promo_id", "realized_lift_pct", "status"]],
                                  on="promo_id", suffixes=("", "_truth"))
        done = both.loc[both["status_truth"] == "completed"]
        error = done["actual_lift_pct"] - done["realized_lift_pct"]
        inside = ((done["actual_lift_lower"] <= done["realized_lift_pct"])
                  & (done["realized_lift_pct"] <= done["actual_lift_upper"]))
        print(f"{method:<12}{len(done):>7}{error.abs().mean():>8.2f}{error.abs().median():>8.2f}"
              f"{error.mean():>+7.2f}{inside.mean():>10.0%}{seconds:>9.1f}")


# --- 2. lift model ----------------------------------------------------------------------------


def lift_model_holdout(engine, truth: pd.DataFrame, as_of) -> pd.DataFrame:
    """Train as the pipeline does and score its holdout promotions against the truth."""
    from liftline.promo.model import train_lift_model
    from liftline.promo.pipeline import training_rows
    from liftline.promo.spec import load_spec

    spec = load_spec()
    rows = training_rows(engine, as_of, spec, log=lambda _: None)
    started = time.perf_counter()
    model = train_lift_model(rows, spec, log=lambda _: None)
    seconds = time.perf_counter() - started
    metrics = model.metrics
    per = pd.DataFrame(metrics.get("holdout_promotions") or [])
    if per.empty:
        print(f"\n2. lift model: no holdout ({metrics.get('reason')})")
        return per
    volume = rows.groupby("promo_id")[["baseline_units", "actual_units"]].sum()
    per = per.join(volume, on="promo_id").join(
        truth.set_index("promo_id")[["true_lift_pct", "realized_lift_pct"]], on="promo_id")
    kinds = [k for k in metrics["candidates"]]
    print(f"\n2. lift model: chose {model.kind} ({'beats' if metrics.get('beats_baseline') else 'does NOT beat'} "
          f"the baseline; trained in {seconds:.1f} s) on a time-based holdout of "
          f"{metrics['n_holdout_promos']} promotions starting {metrics['holdout_start']} or "
          f"later, {metrics['n_train_promos']} before")
    print(f"   {'predictor':<26}{'MAE vs measured':>17}{'MAE vs true':>13}{'MAE vs realised':>17}")
    for name in [*kinds, "baseline"]:
        column = per[f"{name}_lift_pct"]
        label = "category mean (baseline)" if name == "baseline" else name
        print(f"   {label:<26}{(column - per['measured_lift_pct']).abs().mean():>17.2f}"
              f"{(column - per['true_lift_pct']).abs().mean():>13.2f}"
              f"{(column - per['realized_lift_pct']).abs().mean():>17.2f}")
    print(f"   classifier: Brier {metrics.get('brier', float('nan')):.4f} (base rate's "
          f"{metrics.get('brier_base_rate', float('nan')):.4f}); 90% interval half-width "
          f"{metrics.get('promo_interval_halfwidth_pp', float('nan')):.1f} pp per promotion, "
          f"{metrics.get('interval_halfwidth_pp', float('nan')):.1f} pp per store")
    per["chosen"] = per[f"{model.kind}_lift_pct"] if model.kind in kinds else per[
        "baseline_lift_pct"]
    return per


def window_forecast_error(per: pd.DataFrame) -> None:
    if per.empty:
        return
    print("\n   promotion-window forecast error: units summed over each holdout window, "
          "forecast = counterfactual baseline x (1 + predicted lift)")
    for column, label in (("chosen", "chosen model"), ("baseline_lift_pct", "category mean")):
        forecast = per["baseline_units"] * (1 + per[column] / 100)
        ape = (forecast - per["actual_units"]).abs() / per["actual_units"]
        print(f"   {label:<16} MAPE {ape.mean():.1%} (median {ape.median():.1%})")


# --- 3. replay ----------------------------------------------------------------------------------


def replay_alerts(engine, truth: pd.DataFrame, last, days: int) -> None:
    from liftline.forecast.dataset import load_dataset
    from liftline.monitor.lift import DIVERGED, monitor_lift
    from liftline.promo.artifacts import load_lift_model
    from liftline.promo.counterfactual import fit_store_model
    from liftline.promo.pipeline import train_promo_lift, update_predictions
    from liftline.promo.spec import load_spec
    from liftline.warehouse import read_frame, write_transaction

    spec = load_spec()
    rule = spec.section("monitor")
    first = last - timedelta(days=days - 1)
    started = time.perf_counter()
    store_model = model = None
    for step in range(days):
        day = first + timedelta(days=step)
        run = f"replay-{day}"
        if step % 7 == 0:  # the weekly training
            train_promo_lift(engine, run, as_of=day, spec=spec, log=lambda _: None)
            model = load_lift_model(engine)
            data = load_dataset(engine, day, log=lambda _: None)
            frame = data.frame_at(pd.Timestamp(day))
            store_model = fit_store_model(frame.loc[frame["date"] <= pd.Timestamp(day)])
        if model is not None:
            with write_transaction(engine) as conn:
                update_predictions(conn, model, day, run)
        monitor_lift(engine, run, as_of=day, spec=spec, log=lambda _: None,
                     store_model=store_model)
        if step % 14 == 13:
            print(f"   replayed to {day} ({time.perf_counter() - started:.0f} s)", flush=True)
    alerts = read_frame(engine, "SELECT entity_key, state FROM ops_alerts "
                                "WHERE kind = 'lift_divergence'")
    alerted = set(alerts.loc[alerts["state"].isin(DIVERGED), "entity_key"])
    lift = read_frame(engine, "SELECT * FROM ml_promo_lift", parse_dates=["start_date",
                                                                           "end_date"])
    judged = lift.loc[(lift["start_date"] >= pd.Timestamp(first))
                      & (lift["start_date"] <= pd.Timestamp(last - timedelta(
                          days=int(rule["min_days"]))))
                      & lift["prediction_kind"].isin(["frozen", "backfill"])
                      & (lift["observed_days"] >= int(rule["min_days"]))]
    both = judged.merge(truth[["promo_id", "realized_lift_pct", "true_lift_pct", "no_effect",
                               "understocked"]], on="promo_id")
    finished = both["realized_lift_pct"].notna()
    # Promotions still running at the end: their realised lift is not in the truth yet.
    both["truth_lift"] = both["realized_lift_pct"].where(finished, both["true_lift_pct"])
    both["true_gap"] = both["truth_lift"] - both["predicted_lift_pct"]
    both["truly_diverges"] = both["true_gap"].abs() > float(rule["divergence_pp"])
    both["alerted"] = both["promo_id"].isin(alerted)
    tp = int((both["alerted"] & both["truly_diverges"]).sum())
    fp = int((both["alerted"] & ~both["truly_diverges"]).sum())
    fn = int((~both["alerted"] & both["truly_diverges"]).sum())
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    print(f"\n3. replay of {days} days ({first} .. {last}) in "
          f"{time.perf_counter() - started:.0f} s: {len(both)} promotions judged, "
          f"{int(both['truly_diverges'].sum())} truly diverge by > {rule['divergence_pp']} pp")
    print(f"   alerts: TP {tp}, FP {fp}, FN {fn}; precision {precision:.2f}, recall "
          f"{recall:.2f} (goal: both >= 0.8)")
    shown = both[["promo_id", "predicted_lift_pct", "actual_lift_pct", "truth_lift",
                  "true_gap", "alerted", "no_effect", "understocked"]]
    with pd.option_context("display.width", 160, "display.max_rows", 200):
        print(shown.round(1).sort_values("true_gap").to_string(index=False))
    misjudged = both.loc[both["alerted"] != both["truly_diverges"]]
    if len(misjudged):
        print(f"   misjudged (near the threshold?): |true gap| "
              f"{np.round(misjudged['true_gap'].abs().to_numpy(), 1).tolist()}")


if __name__ == "__main__":
    main()
