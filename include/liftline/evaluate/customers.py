"""Customer models against the truth: segments (adjusted Rand index with the latent customer
types) and satisfaction risk (ROC-AUC and Brier score beside the oracle's).

Segments: the latest scoring run of `ml_customer_segments`, consumers only (the truth labels
B2B accounts `b2b_account`: they have no latent type). The baseline cuts customers into as many
equal groups by monetary value as the model has segments. Goal: ARI >= 0.6.

Satisfaction: the latest score of each interaction in `ml_satisfaction_scores` that the truth
knows, against its `is_low`; the oracle scores the same interactions with the truth's own
probability. Goal: AUC >= 0.9 x the oracle's. The baseline scores everyone with the share of
low ratings (AUC 0.5). Only interactions open at a scoring run are scored, and a world may
have none (or a handful) open on its last day: then the champion's own test (its card: ROC-AUC of the test
interactions as they stood when they opened) is set beside the oracle over the interactions
the truth has opened in the same test window.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from liftline.registry import champion

from .result import absent, evaluated, not_evaluated, output_rows
from .truth import Truth

SEGMENTS, SCORES = "ml_customer_segments", "ml_satisfaction_scores"
B2B = "b2b_account"
ARI_GOAL = 0.6
AUC_GOAL_OF_ORACLE = 0.9
SATISFACTION_MODEL = "satisfaction"
# Fewer scored interactions the truth knows: an AUC of a handful is noise (9 open interactions
# once gave 1.000 against an oracle of 0.70); the champion's own test is reported instead.
MIN_SCORED_INTERACTIONS = 50


def evaluate_segments(engine: Engine, truth: Truth) -> dict[str, Any]:
    from sklearn.metrics import adjusted_rand_score

    customers = truth.frame("customers.csv")
    if customers is None:
        return not_evaluated(truth.missing("customers.csv"))
    consumers = customers[customers["latent_type"] != B2B]
    segments = output_rows(engine, SEGMENTS)
    reason = absent(SEGMENTS, segments)
    if reason:
        return not_evaluated(reason)
    latest = latest_run(segments)
    rows = latest.merge(consumers[["customer_id", "latent_type"]], on="customer_id")
    rows = rows[rows["segment"].notna()]
    if rows.empty:
        return not_evaluated(f"no customer of the latest {SEGMENTS} run is a consumer of the "
                             "truth")
    ari = float(adjusted_rand_score(rows["latent_type"], rows["segment"]))
    baseline = _monetary_baseline(rows, adjusted_rand_score)
    verdict = f"{'meets' if ari >= ARI_GOAL else 'misses'} goal {ARI_GOAL}"
    return evaluated(
        "ARI", ari, baseline, 1.0, verdict, ari=ari, goal=ARI_GOAL, baseline_ari=baseline,
        baseline_name="equal groups by monetary value, as many as the segments",
        run_id=str(latest["run_id"].iloc[0]), scored=len(rows),
        truth_consumers=len(consumers), run_customers=len(latest),
        segments=int(rows["segment"].nunique()),
        latent_types=int(rows["latent_type"].nunique()),
        crosstab=_crosstab(rows))


def evaluate_satisfaction(engine: Engine, truth: Truth) -> dict[str, Any]:
    service = truth.frame("service.csv")
    if service is None:
        return not_evaluated(truth.missing("service.csv"))
    scores = output_rows(engine, SCORES)
    reason = absent(SCORES, scores)
    if reason:  # no table: an older warehouse; an empty one: nothing was open when scored
        return (not_evaluated(reason) if scores is None
                else _satisfaction_from_card(engine, service, reason))
    latest = latest_per_interaction(scores)
    rows = latest.merge(service[["interaction_id", "p_low_satisfaction", "is_low"]]
                        .rename(columns={"p_low_satisfaction": "oracle_p"}), on="interaction_id")
    rows = rows.dropna(subset=["p_low_satisfaction", "oracle_p", "is_low"])
    if len(rows) < MIN_SCORED_INTERACTIONS:
        return _satisfaction_from_card(
            engine, service, f"only {len(rows)} scored interaction(s) of {SCORES} are in the "
                             f"truth (fewer than {MIN_SCORED_INTERACTIONS})")
    y = truth_flags(rows["is_low"])
    if y.all() or not y.any():
        return not_evaluated(f"the {len(rows)} scored interactions are all "
                             f"{'low' if y.all() else 'not low'} in the truth: AUC needs both")
    auc, oracle = roc_auc(y, rows["p_low_satisfaction"]), roc_auc(y, rows["oracle_p"])
    rate = float(y.mean())
    ratio = auc / oracle if oracle else None
    verdict = (f"{'meets' if ratio is not None and ratio >= AUC_GOAL_OF_ORACLE else 'misses'} "
               f"goal {AUC_GOAL_OF_ORACLE} x oracle")
    return evaluated(
        "ROC-AUC", auc, 0.5, oracle, verdict, auc=auc, oracle_auc=oracle, auc_ratio=ratio,
        goal_ratio=AUC_GOAL_OF_ORACLE, brier=brier(y, rows["p_low_satisfaction"]),
        oracle_brier=brier(y, rows["oracle_p"]), baseline_brier=rate * (1 - rate),
        baseline_name="everyone scored with the share of low ratings",
        interactions=len(rows), low_share=rate, scored_interactions=len(latest))


def _satisfaction_from_card(engine: Engine, service: pd.DataFrame, why: str
                            ) -> dict[str, Any]:
    """The champion's test ROC-AUC beside the oracle's on the truth's interactions opened in
    the same test window (no scores to judge: `why`)."""
    found = champion(engine, SATISFACTION_MODEL)
    if found is None or "opened_at" not in service:
        return not_evaluated(why if found is None else
                             f"{why}; the truth's service.csv has no opened_at to find the "
                             "champion's test window")
    card = found.card()
    start, end = (card.backtest_window.get("test_window") or [None, None])
    auc = card.metrics.get("at_open_roc_auc")
    if start is None or auc is None:
        return not_evaluated(f"{why}; the champion {found.version} has no test to report")
    opened = pd.to_datetime(service["opened_at"]).dt.normalize()
    window = service[(opened >= pd.Timestamp(start)) & (opened <= pd.Timestamp(end))]
    window = window.dropna(subset=["p_low_satisfaction", "is_low"])
    y = truth_flags(window["is_low"])
    if y.all() or not y.any():
        return not_evaluated(f"{why}; the truth's interactions of the champion's test window "
                             "are all one class")
    oracle = roc_auc(y, window["p_low_satisfaction"])
    ratio = auc / oracle if oracle else None
    verdict = (f"{'meets' if ratio is not None and ratio >= AUC_GOAL_OF_ORACLE else 'misses'} "
               f"goal {AUC_GOAL_OF_ORACLE} x oracle (champion's test)")
    return evaluated(
        "ROC-AUC (test)", auc, 0.5, oracle, verdict, source="registry_test", why=why,
        version=found.version, test_window=[start, end], auc=auc, oracle_auc=oracle,
        auc_ratio=ratio, goal_ratio=AUC_GOAL_OF_ORACLE, brier=card.metrics.get("brier"),
        oracle_brier=brier(y, window["p_low_satisfaction"]),
        baseline_brier=card.metrics.get("base_rate_brier"),
        note="the card's AUC is on the rated test interactions as they opened; the oracle's "
             "on every interaction the truth has opened in the window; the card's Brier is on "
             "the daily scoring moments",
        interactions=len(window))


def latest_run(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of the newest run: by as_of_date when the table has it, then run id."""
    runs = rows.assign(_as_of=rows.get("as_of_date", pd.Series(pd.NaT, index=rows.index)))
    runs = runs.groupby("run_id", as_index=False)["_as_of"].max().sort_values(
        ["_as_of", "run_id"], ascending=False, na_position="last")
    return rows[rows["run_id"] == runs["run_id"].iloc[0]]


def latest_per_interaction(scores: pd.DataFrame) -> pd.DataFrame:
    order = [c for c in ("as_of_date", "scored_at", "run_id") if c in scores]
    return scores.sort_values(order, na_position="first").drop_duplicates(
        "interaction_id", keep="last")


def truth_flags(values: pd.Series) -> np.ndarray:
    """The truth's is_low as booleans, whether it was written as True/False or 1/0."""
    text = values.astype(str).str.strip().str.lower()
    return text.isin(["true", "1", "1.0", "yes"]).to_numpy()


def roc_auc(y: np.ndarray, p: pd.Series) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p.astype(float)))


def brier(y: np.ndarray, p: pd.Series) -> float:
    return float(np.mean((p.astype(float).to_numpy() - y.astype(float)) ** 2))


def _monetary_baseline(rows: pd.DataFrame, score) -> float | None:
    if "monetary" not in rows or rows["monetary"].isna().all():
        return None
    groups = max(int(rows["segment"].nunique()), 1)
    ranks = rows["monetary"].fillna(0.0).rank(method="first")
    cut = pd.qcut(ranks, q=groups, labels=False) if groups > 1 else pd.Series(0, rows.index)
    return float(score(rows["latent_type"], cut))


def _crosstab(rows: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Customers per segment (rows) and latent type (columns), to read what a segment is."""
    table = pd.crosstab(rows["segment"], rows["latent_type"])
    return {str(s): {str(t): int(n) for t, n in counts.items() if n}
            for s, counts in table.iterrows()}
