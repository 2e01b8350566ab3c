"""Realised accuracy: past predictions against what happened, per model version, compared
with the error the version's model card promised (its backtest score).

- Sales forecast: `ml_sales_forecast` units rows at the store x day grain whose day is now observed
  (dated within the `FORECAST_WINDOW_DAYS` up to the as-of date, after the origin they were
  made at), every horizon the backtest covered (the card's `backtest_window.horizon_days`,
  56): the card's WAPE averages over those horizons, so the realised WAPE does too (reruns of
  a scoring run count once). Actual units come from `feat_sales_store_daily`. Judged with at
  least `MIN_FORECAST_DAYS` days and `MIN_FORECAST_PAIRS` forecast-actual pairs.
- Promotion lift: `ml_promo_lift` rows whose prediction was frozen at the promotion's start
  (`prediction_kind` frozen; a backfilled prediction may come from a model that saw the
  promotion) and whose window has ended and been measured, ended within the
  `LIFT_WINDOW_DAYS` up to the as-of date: mean absolute error of the lift in points against
  the card's holdout `mae_pp`. Judged with at least `MIN_LIFT_PROMOTIONS` promotions.
- Satisfaction risk: `ml_satisfaction_scores` rows scored in the `SATISFACTION_WINDOW_DAYS`
  up to the as-of date (one per interaction and scoring day, as the card's test counts them)
  whose interaction has since been rated (`feat_service_interaction.label_low_satisfaction`):
  the Brier score against the card's. Judged with at least `MIN_SATISFACTION_ROWS` rows.

A model is `degraded` when the newest of its versions with enough data has a realised error
above backtest x (1 + `lifecycle.degraded_margin`) of its spec (default 0.25): one
`model_degraded` alert (warning), and an `ok` follow-up when it is back within the margin.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, or_, select

from liftline.alerts import latest_states
from liftline.modeling import resolve_as_of
from liftline.registry import Version, lifecycle, versions
from liftline.warehouse import read_frame, table

from .states import OK, Log, family_of, plain, record_change

KIND = "model_degraded"
DEGRADED = "degraded"
FORECAST_WINDOW_DAYS = 28
MIN_FORECAST_DAYS = 7
MIN_FORECAST_PAIRS = 50
LIFT_WINDOW_DAYS = 91  # promotions end a few a week: a quarter gives enough to judge
MIN_LIFT_PROMOTIONS = 8
SATISFACTION_WINDOW_DAYS = 28
MIN_SATISFACTION_ROWS = 50


def check_accuracy(engine: Engine, run_id: str, as_of: date | str | None = None,
                   log: Log = print, link: str | None = None) -> dict[str, Any]:
    """Realised error of the forecasts, lift predictions and satisfaction scores;
    `model_degraded` on a change."""
    day = resolve_as_of(engine, as_of, log)
    if day is None:
        log("accuracy check skipped: no sales features yet (deliver pos and build features)")
        return {"status": "skipped", "reason": "no sales features", "models": [], "alerts": 0}
    registered = {v.version: v for v in versions(engine)}
    evaluated = [*forecast_errors(engine, day, registered), *lift_errors(engine, day, registered),
                 *satisfaction_errors(engine, day, registered)]
    previous = latest_states(engine, KIND)
    judged, alerts = [], 0
    for model, own in _by_model(evaluated).items():
        verdict = judge_model(model, own)
        judged.append(verdict)
        if verdict["status"] not in (DEGRADED, OK):
            log(f"accuracy {model}: not judged ({verdict['reason']})")
            continue
        log(f"accuracy {model}: {verdict['status']} (realised {verdict['metric']} "
            f"{verdict['realised']:.4g} vs backtest {verdict['backtest']:.4g}, limit "
            f"{verdict['limit']:.4g}, version {verdict['version']})")
        alerts += record_change(engine, kind=KIND, entity_key=model, state=verdict["status"],
                                severity="warning", title=degraded_title(verdict),
                                details=degraded_details(verdict), run_id=run_id, link=link,
                                log=log, previous=previous.get(model))
    return plain({"status": "ok", "as_of": str(day), "models": judged,
                  "versions": evaluated, "alerts": alerts})


def forecast_errors(engine: Engine, day: date, registered: dict[str, Version]
                    ) -> list[dict[str, Any]]:
    """Realised WAPE of each forecast version over the window (one dict per version)."""
    start = day - timedelta(days=FORECAST_WINDOW_DAYS - 1)
    pairs = _forecast_pairs(engine, start, day)
    out = []
    for name, rows in pairs.groupby("model_version", sort=True):
        version = registered.get(str(name))
        found = _evaluation(version, str(name), "wape", f"{start} to {day}")
        if version is None:
            out.append({**found, "reason": "not a registered version"})
            continue
        if found.get("horizon_days"):
            rows = rows.loc[rows["horizon_days"] <= int(found["horizon_days"])]
        total = float(rows["units"].abs().sum())
        found.update(days=int(rows["date"].nunique()), pairs=len(rows),
                     series=int(rows["series_key"].nunique()),
                     realised=float((rows["units"] - rows["yhat"]).abs().sum() / total)
                     if total > 0 else None)
        enough = found["days"] >= MIN_FORECAST_DAYS and found["pairs"] >= MIN_FORECAST_PAIRS
        if not enough or found["realised"] is None:
            found["reason"] = (f"{found['days']} days and {found['pairs']} forecast-actual "
                               f"pairs; needs {MIN_FORECAST_DAYS} and {MIN_FORECAST_PAIRS} "
                               "with sales")
        out.append(found)
    return out


def lift_errors(engine: Engine, day: date, registered: dict[str, Version]
                ) -> list[dict[str, Any]]:
    """Realised lift MAE (points) of each lift-model version over the window."""
    start = day - timedelta(days=LIFT_WINDOW_DAYS - 1)
    lift = table("ml_promo_lift")
    rows = read_frame(engine, select(
        lift.c.promo_id, lift.c.model_version, lift.c.predicted_lift_pct,
        lift.c.actual_lift_pct).where(
        lift.c.prediction_kind == "frozen", lift.c.model_version.isnot(None),
        lift.c.predicted_lift_pct.isnot(None), lift.c.actual_lift_pct.isnot(None),
        lift.c.end_date >= start, lift.c.end_date <= day, lift.c.as_of_date >= lift.c.end_date))
    out = []
    for name, own in rows.groupby("model_version", sort=True):
        version = registered.get(str(name))
        found = _evaluation(version, str(name), "mae_pp", f"promotions ended {start} to {day}")
        if version is None:
            out.append({**found, "reason": "not a registered version"})
            continue
        errors = (own["actual_lift_pct"].astype(float) - own["predicted_lift_pct"].astype(float))
        found.update(promotions=len(own), realised=float(np.abs(errors).mean()))
        if len(own) < MIN_LIFT_PROMOTIONS:
            found["reason"] = (f"{len(own)} finished promotions with a frozen prediction; "
                               f"needs {MIN_LIFT_PROMOTIONS}")
        out.append(found)
    return out


def satisfaction_errors(engine: Engine, day: date, registered: dict[str, Version]
                        ) -> list[dict[str, Any]]:
    """Realised Brier score of each satisfaction-model version's daily scores over the window,
    on the interactions rated since."""
    start = day - timedelta(days=SATISFACTION_WINDOW_DAYS - 1)
    scores, feat = table("ml_satisfaction_scores"), table("feat_service_interaction")
    rows = read_frame(engine, select(
        scores.c.model_version, scores.c.interaction_id, scores.c.as_of_date,
        scores.c.p_low_satisfaction, feat.c.label_low_satisfaction)
        .join(feat, feat.c.interaction_id == scores.c.interaction_id)
        .where(scores.c.as_of_date >= start, scores.c.as_of_date <= day,
               scores.c.model_version.isnot(None), scores.c.p_low_satisfaction.isnot(None),
               feat.c.label_low_satisfaction.isnot(None)))
    # A scoring day rerun under another run id scored the same interactions again: once.
    rows = rows.drop_duplicates(["model_version", "interaction_id", "as_of_date"])
    out = []
    for name, own in rows.groupby("model_version", sort=True):
        version = registered.get(str(name))
        found = _evaluation(version, str(name), "brier", f"scored {start} to {day}, rated since")
        if version is None:
            out.append({**found, "reason": "not a registered version"})
            continue
        label = own["label_low_satisfaction"].astype(bool).astype(float)
        found.update(rows=len(own), interactions=int(own["interaction_id"].nunique()),
                     realised=float(((own["p_low_satisfaction"] - label) ** 2).mean()))
        if len(own) < MIN_SATISFACTION_ROWS:
            found["reason"] = (f"{len(own)} scored rows rated since; needs "
                               f"{MIN_SATISFACTION_ROWS}")
        out.append(found)
    return out


def judge_model(model: str, evaluated: list[dict[str, Any]]) -> dict[str, Any]:
    """The verdict on `model`: from its newest version with enough data and a backtest."""
    usable = [e for e in evaluated if not e.get("reason") and e.get("backtest") is not None]
    if not usable:
        reasons = "; ".join(f"{e['version']}: {e.get('reason') or 'no backtest score'}"
                            for e in evaluated)
        return {"model": model, "status": "not_judged", "reason": reasons}
    newest = max(usable, key=lambda e: (str(e["trained_at"]), e["version"]))
    margin = lifecycle(family_of(model)).degraded_margin
    limit = newest["backtest"] * (1 + margin)
    status = DEGRADED if newest["realised"] > limit else OK
    return {**newest, "status": status, "limit": limit, "degraded_margin": margin}


def degraded_title(verdict: dict[str, Any]) -> str:
    metric, margin = verdict["metric"], verdict["degraded_margin"]
    realised = (f"{verdict['model']}: realised {_metric_text(metric, verdict['realised'])} "
                f"({verdict['window']})")
    backtest = _metric_text(metric, verdict["backtest"])
    if verdict["status"] == OK:
        return f"{realised} is back within {margin:.0%} of its backtest {backtest}"
    return f"{realised} is more than {margin:.0%} above its backtest {backtest}"


def _metric_text(metric: str, value: float) -> str:
    if metric == "wape":
        return f"WAPE {value:.1%}"
    if metric == "mae_pp":
        return f"lift MAE {value:.1f} points"
    if metric == "brier":
        return f"Brier score {value:.3f}"
    return f"{metric} {value:.3g}"


def degraded_details(verdict: dict[str, Any]) -> dict[str, Any]:
    details = {"model": verdict["model"], "version": verdict["version"],
               **_metric_details(verdict),
               "degraded_margin_pct": round(verdict["degraded_margin"] * 100, 1),
               "window": verdict["window"]}
    for count in ("days", "series", "pairs", "promotions", "interactions"):
        if count in verdict:
            details[count] = verdict[count]
    if verdict["status"] == OK:
        details["action"] = "No action needed: the model is as accurate as its backtest again."
    return details


def _metric_details(verdict: dict[str, Any]) -> dict[str, float]:
    """Realised, backtest and limit, named so Slack shows them in their unit."""
    metric = verdict["metric"]
    name, scale = {"wape": ("wape_pct", 100.0), "mae_pp": ("lift_mae_points", 1.0)}.get(
        metric, (metric, 1.0))
    return {f"{which}_{name}": round(verdict[which] * scale, 2)
            for which in ("realised", "backtest", "limit")}


def _forecast_pairs(engine: Engine, start: date, day: date) -> pd.DataFrame:
    """Store-day forecasts of days start..day made before the day, with the day's units."""
    f = table("ml_sales_forecast")
    forecasts = read_frame(engine, select(
        f.c.model_version, f.c.series_key, f.c.date, f.c.as_of_date, f.c.horizon_days,
        f.c.yhat, f.c.created_at).where(
        f.c.grain == "store_day", or_(f.c.measure == "units", f.c.measure.is_(None)),
        f.c.date >= start, f.c.date <= day,
        f.c.as_of_date < f.c.date, f.c.yhat.isnot(None)))
    if forecasts.empty:
        return forecasts.assign(units=pd.Series(dtype="float64"))
    # A scoring run rerun under another run id wrote the same forecasts again: count them once.
    forecasts = (forecasts.sort_values("created_at")
                 .drop_duplicates(["model_version", "series_key", "date", "as_of_date"],
                                  keep="last"))
    feat = table("feat_sales_store_daily")
    actuals = read_frame(engine, select(
        feat.c.store_id.label("series_key"), feat.c.date, feat.c.units).where(
        feat.c.date >= start, feat.c.date <= day, feat.c.is_future.is_(False),
        feat.c.units.isnot(None)))
    for frame in (forecasts, actuals):
        frame["date"] = pd.to_datetime(frame["date"])
    return forecasts.merge(actuals, on=["series_key", "date"], how="inner")


def _evaluation(version: Version | None, name: str, metric: str, window: str) -> dict[str, Any]:
    """A version's evaluation so far: which model, and its card's backtest `metric`."""
    found = {"model": version.model if version else None, "version": name, "metric": metric,
             "window": window}
    if version is None:
        return found
    card = _card(version)
    score = card.get("score")
    known = card.get("metric") == metric and score is not None and np.isfinite(float(score))
    return {**found, "trained_at": str(version.trained_at),
            "backtest": float(score) if known else None,
            "horizon_days": (card.get("backtest_window") or {}).get("horizon_days")}


def _card(version: Version) -> dict[str, Any]:
    try:
        return version.card().to_dict()
    except (FileNotFoundError, OSError, ValueError, TypeError):
        # The artifact cannot be read: its registry row indexes the card's headline.
        return {"metric": version.metrics.get("metric"), "score": version.metrics.get("score")}


def _by_model(evaluated: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for found in evaluated:
        if found.get("model"):
            grouped.setdefault(found["model"], []).append(found)
    return dict(sorted(grouped.items()))
