"""The daily lift monitor: actual against predicted lift, and `lift_divergence` alerts.

Each run measures the promotions still running or in their post-period (all of them on the
first run), writes their actual lift and money figures to ml_promo_lift, and judges each one
(`alert_state`):

- `too_early`: it has run fewer than `min_days` trading days, or its baseline expects fewer
  than `min_baseline_units` units so far: not judged yet;
- `above_prediction` / `below_prediction`: |actual - predicted| > `divergence_pp` lift points;
- `ok`: within the threshold. Hysteresis: a diverged promotion stays diverged until it is back
  within `recover_pp`, so a promotion hovering at the threshold does not flap;
- `unpredicted`: no prediction to compare with (no lift model has been trained yet).

A promotion is alerted through the outbox (one alert per state change, recorded in the same
transaction as the figures) while it runs and for `alert_window_days` after its end; a
diverged one that comes back within `recover_pp` gets a `recovered` follow-up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from liftline.alerts import record_alert
from liftline.modeling import resolve_as_of
from liftline.promo import (
    ACTUAL_COLUMNS,
    PromoSpec,
    current_rows,
    load_counterfactual,
    load_spec,
    measure_promotions,
    probable_causes,
    write_rows,
)
from liftline.warehouse import write_transaction

Log = Callable[[str], None]
ABOVE, BELOW, OK = "above_prediction", "below_prediction", "ok"
TOO_EARLY, UNPREDICTED, RECOVERED = "too_early", "unpredicted", "recovered"
DIVERGED = (ABOVE, BELOW)


def monitor_lift(engine: Engine, run_id: str, as_of: date | str | None = None,
                 spec: PromoSpec | None = None, log: Log = print,
                 link: str | None = None, store_model=None) -> dict[str, Any]:
    """Measure, judge and alert; returns a summary (status, promotions, alerts).

    `store_model`: a fitted sales-forecast model to reuse for the counterfactual; by default
    the one registered with the champion lift model (trained weekly), so the daily monitor
    does not refit it. Without a registered one it is fitted on everything up to as-of.
    """
    spec = spec or load_spec()
    as_of = resolve_as_of(engine, as_of, log)
    if as_of is None:
        log("lift monitor skipped: no sales features yet (deliver pos and build features)")
        return {"status": "skipped", "promotions": 0, "alerts": 0}
    rule = spec.section("monitor")
    existing = current_rows(engine)
    measured_before = len(existing) and existing["actual_lift_pct"].notna().any()
    reach = int(spec.section("baseline")["post_days"]) + int(rule["alert_window_days"])
    ends_after = as_of - timedelta(days=reach) if measured_before else None
    if store_model is None:
        store_model = load_counterfactual(engine, as_of)
        if store_model is None:
            log("lift monitor: no registered counterfactual model (the lift model has not been "
                "trained yet): fitting one on the history up to the as-of date")
    found = measure_promotions(engine, as_of, spec, log, ends_after=ends_after,
                               store_model=store_model)
    if found.promos.empty:
        log(f"lift monitor: no promotion to measure as of {as_of}")
        return {"status": "ok", "promotions": 0, "alerts": 0, "as_of": str(as_of)}
    judged = judge(found.promos, existing, rule, as_of)
    judged["baseline_note"] = "; ".join(found.notes) or None
    with write_transaction(engine) as conn:
        write_rows(conn, judged, ACTUAL_COLUMNS, run_id)
        alerts = record_divergence_alerts(conn, judged, rule, as_of, run_id, link, log)
    counts = judged["alert_state"].value_counts().to_dict()
    log(f"lift monitor as of {as_of}: {len(judged)} promotion(s) measured; states {counts}; "
        f"{alerts} alert(s) recorded")
    return {"status": "ok", "promotions": len(judged), "alerts": alerts, "states": counts,
            "as_of": str(as_of)}


def judge(promos: pd.DataFrame, existing: pd.DataFrame, rule: dict, as_of: date
          ) -> pd.DataFrame:
    """Each measured promotion with its prediction, divergence, status and alert_state."""
    columns = ["promo_id", "predicted_lift_pct", "predicted_lift_lower", "predicted_lift_upper",
               "prediction_kind", "alert_state"]
    before = existing[columns] if len(existing) else pd.DataFrame(columns=columns)
    out = promos.merge(before.rename(columns={"alert_state": "previous_state"}),
                       on="promo_id", how="left")
    out["divergence_pp"] = out["actual_lift_pct"] - out["predicted_lift_pct"]
    out["status"] = _status(out, as_of)
    out["as_of_date"] = pd.Timestamp(as_of)
    out["alert_state"] = [_state(row, rule) for row in out.to_dict("records")]
    return out


def _status(promos: pd.DataFrame, as_of: date) -> np.ndarray:
    day = pd.Timestamp(as_of)
    end = pd.to_datetime(promos["end_date"])
    return np.where(end >= day, "running",
                    np.where(end + pd.Timedelta(days=14) >= day, "post", "completed"))


def _state(row: dict, rule: dict) -> str:
    if pd.isna(row["predicted_lift_pct"]):
        return UNPREDICTED
    enough_days = row["observed_days"] >= int(rule["min_days"])
    if not enough_days or row["baseline_units"] < float(rule["min_baseline_units"]):
        return TOO_EARLY
    gap = row["divergence_pp"]
    if pd.isna(gap):
        return TOO_EARLY
    if abs(gap) > float(rule["divergence_pp"]):
        return ABOVE if gap > 0 else BELOW
    if row.get("previous_state") in DIVERGED and abs(gap) > float(rule["recover_pp"]):
        return row["previous_state"]  # not yet back within recover_pp: still diverged
    return OK


def record_divergence_alerts(conn, judged: pd.DataFrame, rule: dict, as_of: date, run_id: str,
                             link: str | None, log: Log) -> int:
    """Alerts for promotions that diverged, changed direction or recovered; returns count."""
    window = pd.Timedelta(days=int(rule["alert_window_days"]))
    recorded = 0
    for row in judged.to_dict("records"):
        if pd.Timestamp(row["end_date"]) + window < pd.Timestamp(as_of):
            continue  # long finished: measured, not alerted
        state, previous = row["alert_state"], row.get("previous_state")
        if state in DIVERGED:
            severity = _severity(row, rule)
        elif state == OK and previous in DIVERGED:
            state, severity = RECOVERED, "info"
        else:
            continue
        alert_id = record_alert(conn, kind="lift_divergence", entity_key=row["promo_id"],
                                severity=severity, title=divergence_title(row, state),
                                details=divergence_details(row, state), state=state,
                                run_id=run_id, link=link)
        if alert_id:
            recorded += 1
            log(f"lift_divergence alert: {divergence_title(row, state)}")
    return recorded


def _severity(row: dict, rule: dict) -> str:
    at_stake = abs(margin_at_stake(row) or 0.0)
    return "critical" if at_stake > float(rule["critical_margin"]) else str(rule["severity"])


def margin_at_stake(row: dict) -> float | None:
    """Margin (else revenue) the gap between actual and predicted lift is worth so far."""
    per_unit = row.get("promo_unit_margin")
    if per_unit is None or pd.isna(per_unit):
        per_unit = row.get("promo_unit_revenue")
    if per_unit is None or pd.isna(per_unit) or pd.isna(row["divergence_pp"]):
        return None
    return float(row["divergence_pp"] / 100 * row["baseline_units"] * per_unit)


def divergence_title(row: dict, state: str) -> str:
    what = f"{row['promo_id']} ({_scope(row)})"
    if state == RECOVERED:
        return (f"{what}: lift back in line with the prediction: actual "
                f"{row['actual_lift_pct']:+.1f}% vs predicted {row['predicted_lift_pct']:+.1f}%")
    direction = "above" if state == ABOVE else "below"
    return (f"{what}: actual lift {row['actual_lift_pct']:+.1f}% is "
            f"{abs(row['divergence_pp']):.1f} points {direction} the predicted "
            f"{row['predicted_lift_pct']:+.1f}%")


def divergence_details(row: dict, state: str) -> dict[str, Any]:
    """What a marketer needs to act, in the order the Slack message shows it."""
    causes = probable_causes(pd.Series(row))
    money = margin_at_stake(row)
    details = {
        "promo_id": row["promo_id"],
        "skus": _scope(row),
        "stores": _stores(row),
        "window": f"{_day(row['start_date'])} to {_day(row['end_date'])}",
        "predicted_lift_pct": _round(row["predicted_lift_pct"]),
        "predicted_interval": _interval(row, "predicted_lift_lower", "predicted_lift_upper"),
        "actual_lift_pct": _round(row["actual_lift_pct"]),
        "actual_interval": _interval(row, "actual_lift_lower", "actual_lift_upper"),
        "divergence_pp": _round(row["divergence_pp"]),
        "observed_days": int(row["observed_days"]),
        "margin_at_stake": None if money is None else round(money, 2),
        "incremental_units": _round(row.get("incremental_units")),
        "baseline_method": row.get("baseline_method"),
        "probable_cause": "; ".join(causes) if causes else "none visible in the data",
    }
    if state == RECOVERED:
        details["action"] = "No action needed: the promotion is performing as predicted again."
    elif causes:
        details["action"] = (f"Check the probable cause first ({causes[0]}), then compare the "
                             "promotion as run with its plan.")
    return details


def _scope(row: dict) -> str:
    sku = row.get("sku")
    if sku is not None and not pd.isna(sku):
        return str(sku)
    category = row.get("category")
    return f"all {category} SKUs" if category is not None and not pd.isna(category) else "all SKUs"


def _stores(row: dict) -> str:
    stores = row.get("store_ids")
    if not isinstance(stores, list | tuple | np.ndarray) or not len(stores):
        return ""
    shown = ", ".join(list(stores)[:8])
    return shown + (f" and {len(stores) - 8} more" if len(stores) > 8 else "")


def _interval(row: dict, low: str, high: str) -> str | None:
    a, b = row.get(low), row.get(high)
    if a is None or b is None or pd.isna(a) or pd.isna(b):
        return None
    return f"{a:+.1f}% to {b:+.1f}%"


def _round(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 1)


def _day(value: Any) -> str:
    return str(pd.Timestamp(value).date())

