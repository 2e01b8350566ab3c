"""Service-satisfaction benchmark: the low-rating classifier against the generator's truth.

Not a test: prints numbers. On a synthetic world (generated, its customers, ERP and service
extracts ingested for real, feat_service_interaction built in-process: a world without POS, so
the stage's as-of falls back to the last opened day), with the truth in `_truth/service.csv`:

1. The backtest `train_satisfaction` runs (train, calibration weeks, test weeks): ROC-AUC,
   PR-AUC and Brier score on the test's scoring moments (each interaction at every day end it
   was open: what the daily scoring sees) and of the base model at opening on every test
   interaction, beside the oracle (the truth's own p_low_satisfaction, labels the actual
   ratings <= 2) on the same rows, and the baselines (base rate, best one-feature rule).
   Goal: model ROC-AUC >= 0.9 x the oracle's.
2. LightGBM against logistic regression, and calibration with against without hours open.
3. A replay of the last `--replay-days` days: train once at the start, then score daily with
   the champion, as the DAG would; the scores of the open interactions against their eventual
   ratings, the oracle on the same rows, and the digests recorded (one per day at most).

    python benchmarks/bench_satisfaction.py [--scale small] [--seed 42] [--world DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

SOURCES = ("customers", "erp", "service")  # what feat_service_interaction reads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small", choices=("small", "medium", "large"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--world", type=Path, help="reuse a generated world")
    parser.add_argument("--replay-days", type=int, default=28, help="0: no replay")
    parser.add_argument("--keep", type=Path, help="keep the work folder here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_satisfaction_"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["LIFTLINE_HOME"] = str(work / "home")
    os.environ["LIFTLINE_REGISTRY_URL"] = str(work / "registry")
    try:
        world = args.world or _generate(work / "world", args.scale, args.seed)
        engine = _warehouse(world, work)
        truth = pd.read_csv(world / "_truth" / "service.csv").set_index("interaction_id")
        holdout(engine, truth)
        if args.replay_days > 0:
            replay(engine, truth, args.replay_days)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def _generate(out: Path, scale: str, seed: int) -> Path:
    from liftline.synth import generate

    started = time.perf_counter()
    generate(out, scale=scale, seed=seed, progress=False)
    print(f"generate ({scale}, seed {seed}): {time.perf_counter() - started:.1f} s")
    return out


def _warehouse(world: Path, work: Path):
    from liftline.features import build_features
    from liftline.ingest import ingest_source
    from liftline.warehouse import create_schema, get_engine

    home = work / "home"
    for source in SOURCES:
        shutil.copytree(world / source, home / "landing" / source, dirs_exist_ok=True)
    engine = get_engine(f"sqlite:///{work / 'warehouse.db'}")
    create_schema(engine)
    started = time.perf_counter()
    for source in SOURCES:
        ingest_source(source, home=home, engine=engine, settle_seconds=0, log=lambda _: None,
                      run_id="bench")
    ingested = time.perf_counter() - started
    started = time.perf_counter()
    build_features(engine, run_id="bench", tables=["feat_service_interaction"],
                   log=lambda _: None)
    print(f"setup: ingest {ingested:.1f} s ({', '.join(SOURCES)}), feat_service_interaction "
          f"{time.perf_counter() - started:.1f} s")
    return engine


# --- 1 and 2. the backtest against the truth ------------------------------------------------


def holdout(engine, truth: pd.DataFrame) -> None:
    from liftline.customers import load_satisfaction_spec
    from liftline.customers.satisfaction import satisfaction_as_of
    from liftline.customers.satisfaction_backtest import backtest
    from liftline.customers.satisfaction_data import LABEL, labelled, read_interactions

    spec = load_satisfaction_spec()
    as_of = satisfaction_as_of(engine, None, print)
    started = time.perf_counter()
    rows = labelled(read_interactions(engine, as_of), as_of,
                    int(spec.section("model")["settle_days"]))
    metrics, split = backtest(rows, spec, log=print)
    seconds = time.perf_counter() - started
    print(f"\n1. holdout as of {as_of}: {len(rows):,} labelled interactions; test "
          f"{metrics['test_window'][0]} .. {metrics['test_window'][1]} "
          f"({metrics['n_test']:,} interactions, {metrics['n_test_moments']:,} scoring moments, "
          f"{metrics['test_positive_rate']:.0%} low); backtest {seconds:.1f} s")
    moments = split.test_moments
    oracle = truth.p_low_satisfaction.reindex(moments.interaction_id).to_numpy()
    y = moments[LABEL].to_numpy()
    print(f"{'scoring moments':<30}{'ROC-AUC':>9}{'PR-AUC':>9}{'Brier':>9}")
    _row("model (" + metrics["kind"] + ")", metrics["roc_auc"], metrics["pr_auc"],
         metrics["brier"])
    _row("oracle (true p)", roc_auc_score(y, oracle), average_precision_score(y, oracle),
         brier_score_loss(y, oracle))
    _row("base rate", 0.5, None, metrics["base_rate_brier"])
    _row(f"one feature ({metrics['one_feature']})", metrics["one_feature_roc_auc"], None,
         metrics["one_feature_brier"])
    ratio = metrics["roc_auc"] / roc_auc_score(y, oracle)
    print(f"model / oracle ROC-AUC: {ratio:.3f} (goal >= 0.9); precision "
          f"{metrics['precision_at_threshold']:.2f}, recall {metrics['recall_at_threshold']:.2f} "
          f"at p >= {metrics['threshold']} (flags {metrics['flagged_share']:.0%})")
    test = split.test
    oracle_open = truth.p_low_satisfaction.reindex(test.interaction_id).to_numpy()
    oracle_auc = roc_auc_score(test[LABEL], oracle_open)
    print(f"every test interaction at opening: model ROC-AUC {metrics['at_open_roc_auc']:.3f}, "
          f"oracle {oracle_auc:.3f}, ratio {metrics['at_open_roc_auc'] / oracle_auc:.3f}; "
          f"oracle Brier {brier_score_loss(test[LABEL], oracle_open):.4f}")

    print("\n2. candidates on the same test moments (kind chosen by calibration-weeks ROC-AUC)")
    print(f"{'kind':<12}{'calib AUC':>10}{'ROC-AUC':>9}{'Brier':>9}")
    for kind, found in metrics["candidates"].items():
        print(f"{kind:<12}{found['calibration_roc_auc']:>10.3f}{found['roc_auc']:>9.3f}"
              f"{found['brier']:>9.4f}")
    other = "without" if spec.section("model")["use_hours_open"] else "with"
    print(f"calibrated {other} hours open: ROC-AUC {metrics[f'roc_auc_{other}_hours_open']:.3f}, "
          f"Brier {metrics[f'brier_{other}_hours_open']:.4f} (weight of log1p(hours open): "
          f"{metrics['hours_open_weight']:.3f})")
    top = list(metrics["importance"].items())[:6]
    print("importance (mean |log-odds contribution|): "
          + ", ".join(f"{name} {value:.3f}" for name, value in top))


def _row(name: str, auc: float | None, pr: float | None, brier: float | None) -> None:
    def cell(value: float | None, digits: int) -> str:
        return f"{'n/a':>9}" if value is None else f"{value:>9.{digits}f}"

    print(f"{name:<30}{cell(auc, 3)}{cell(pr, 3)}{cell(brier, 4)}")


# --- 3. daily scoring replay ------------------------------------------------------------------


def replay(engine, truth: pd.DataFrame, days: int) -> None:
    from sqlalchemy import select

    from liftline.customers import load_satisfaction_spec, score_satisfaction, train_satisfaction
    from liftline.customers.satisfaction import satisfaction_as_of
    from liftline.warehouse import read_frame, table

    spec = load_satisfaction_spec()
    last = satisfaction_as_of(engine, None, print)
    # Interactions that close on the world's last day are never open at its end: stop before.
    first = last - timedelta(days=days)
    started = time.perf_counter()
    trained = train_satisfaction(engine, "bench-replay-train", first, spec, log=lambda _: None)
    print(f"\n3. replay {first} .. {last - timedelta(days=1)}: train_satisfaction as of {first} "
          f"{time.perf_counter() - started:.1f} s "
          f"({trained.get('registry_status', trained['status'])})")
    seconds = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        started = time.perf_counter()
        score_satisfaction(engine, f"bench-score-{day}", day, spec, log=lambda _: None)
        seconds.append(time.perf_counter() - started)
    scores = read_frame(engine, select(table("ml_satisfaction_scores")).where(
        table("ml_satisfaction_scores").c.run_id.like("bench-score-%")))
    alerts = read_frame(engine, select(table("ops_alerts")).where(
        table("ops_alerts").c.kind == "service_risk"))
    # Their eventual ratings, as the features built at the world's end have them.
    feat = table("feat_service_interaction")
    labels = read_frame(engine, select(feat.c.interaction_id, feat.c.label_low_satisfaction))
    eventual = labels.set_index("interaction_id").label_low_satisfaction.reindex(
        scores.interaction_id)
    known = eventual.notna().to_numpy()
    y = eventual.to_numpy()[known].astype(int)
    p = scores.p_low_satisfaction.to_numpy()[known]
    oracle = truth.p_low_satisfaction.reindex(scores.interaction_id).to_numpy()[known]
    print(f"{len(scores):,} scores of {scores.interaction_id.nunique():,} open interactions "
          f"({scores.risk_level.value_counts().to_dict()}); scoring {np.mean(seconds):.2f} s/day")
    if len(np.unique(y)) == 2:
        print(f"against their eventual truth: ROC-AUC {roc_auc_score(y, p):.3f} (oracle "
              f"{roc_auc_score(y, oracle):.3f}), Brier {brier_score_loss(y, p):.4f} (oracle "
              f"{brier_score_loss(y, oracle):.4f})")
    listed = [len(json.loads(text)["items"]) for text in alerts.details_json]
    distinct = {item["interaction"] for text in alerts.details_json
                for item in json.loads(text)["items"]}
    print(f"digests: {len(alerts)} over {days} days (at most one a day), listing "
          f"{sum(listed)} interaction(s), {len(distinct)} distinct")


if __name__ == "__main__":
    main()
