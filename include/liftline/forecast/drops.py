"""forecast_drop alerts: the next weeks of a store forecast well below the same weeks last year.

"Same weeks last year" are the days 364 days earlier (the same weekdays). A store is
`dropping` when its forecast over the next `weeks` x 7 days is more than `threshold_pct`
below last year's actual units over the matching days. Alerts go through the outbox, one per
state change (liftline.alerts): a store that keeps dropping is alerted once, and a store that
recovers gets one `recovered` info alert, so the next drop alerts again.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, select

from liftline.alerts import record_alert
from liftline.warehouse import table

from .base import Log
from .frames import KEY, TARGET

YEAR = pd.Timedelta(days=364)
DROPPING, RECOVERED = "dropping", "recovered"


def compare_with_last_year(forecast: pd.DataFrame, history: pd.DataFrame, as_of: pd.Timestamp,
                           weeks: int) -> pd.DataFrame:
    """Per store: the forecast over the next `weeks` weeks and last year's over the same.

    In the forecast's measure (the target column): the `*_units` names are kept for units and
    revenue alike, and the caller adds a `measure` column."""
    end = as_of + pd.Timedelta(days=7 * weeks)
    window = forecast.loc[(forecast["date"] > as_of) & (forecast["date"] <= end)]
    ahead = window.groupby(KEY)["yhat"].agg(["sum", "size"]).rename(
        columns={"sum": "forecast_units", "size": "days"})
    past = history[[KEY, "date", TARGET]].assign(date=history["date"] + YEAR)
    past = past.loc[(past["date"] > as_of) & (past["date"] <= end)]
    before = past.groupby(KEY)[TARGET].agg(["sum", "count"]).rename(
        columns={"sum": "last_year_units", "count": "last_year_days"})
    out = ahead.join(before, how="left").reset_index()
    out["change_pct"] = (out["forecast_units"] / out["last_year_units"] - 1.0) * 100
    out["window_start"] = (as_of + pd.Timedelta(days=1)).date()
    out["window_end"] = end.date()
    return out


def flag_drops(comparison: pd.DataFrame, rule: dict) -> pd.DataFrame:
    threshold = float(rule.get("threshold_pct", 20))
    enough = (comparison["last_year_days"] == comparison["days"]) & (
        comparison["last_year_units"] >= float(rule.get("min_last_year_units", 1)))
    return comparison.assign(comparable=enough,
                             dropping=enough & (comparison["change_pct"] < -threshold))


def record_drop_alerts(conn: Connection, flagged: pd.DataFrame, rule: dict, run_id: str,
                       model: str, log: Log) -> int:
    """Record alerts for stores that started or stopped dropping; returns alerts recorded."""
    latest = _latest_states(conn, list(flagged[KEY]))
    weeks, threshold = int(rule.get("weeks", 4)), float(rule.get("threshold_pct", 20))
    recorded = 0
    for row in flagged.itertuples(index=False):
        key = getattr(row, KEY)
        measure = getattr(row, "measure", "units")
        if row.dropping:
            state, severity = DROPPING, str(rule.get("severity", "warning"))
            amount = f"{row.forecast_units:,.0f}" + (" in revenue" if measure == "revenue"
                                                      else " units")
            title = (f"{key}: next {weeks} weeks forecast {amount}, "
                     f"{-row.change_pct:.0f}% below the same weeks last year")
        elif latest.get(key) == DROPPING and row.comparable:
            state, severity = RECOVERED, "info"
            title = (f"{key}: next {weeks} weeks forecast back within {threshold:.0f}% of "
                     f"last year ({row.change_pct:+.0f}%)")
        else:
            continue
        alert_id = record_alert(
            conn, kind="forecast_drop", entity_key=key, severity=severity, title=title,
            details={"store_id": key, "forecast_units": round(float(row.forecast_units), 1),
                     "last_year_units": round(float(row.last_year_units), 1),
                     "change_pct": round(float(row.change_pct), 1),
                     "threshold_pct": threshold, "window_start": str(row.window_start),
                     "window_end": str(row.window_end), "model": model, "measure": measure,
                     "action": "Check planned promotions, closures and the store's recent "
                               "trend; the forecast is in ml_sales_forecast for this run."},
            state=state, run_id=run_id)
        if alert_id:
            recorded += 1
            log(f"forecast_drop alert: {title}")
    return recorded


def _latest_states(conn: Connection, keys: list[str]) -> dict[str, str]:
    alerts = table("ops_alerts")
    rows = conn.execute(
        select(alerts.c.entity_key, alerts.c.state, alerts.c.created_at, alerts.c.alert_id)
        .where(alerts.c.kind == "forecast_drop", alerts.c.entity_key.in_(keys))
        .order_by(alerts.c.created_at, alerts.c.alert_id)).all()
    return {row.entity_key: row.state for row in rows}  # ordered: the latest wins
