"""The weekly summary: one Slack message per ISO week with the numbers that matter and a chart.

It summarises the last complete ISO week (Monday to Sunday) on or before the as-of date, so the
daily monitoring run whose as-of first reaches a Sunday records it (normally Monday's run), and
a replay of past days summarises the weeks of those days. It goes through the outbox like every
alert: one `weekly_summary` per week (entity `week/2024-W26`), recorded once however often the
check runs, delivered and retried by `deliver_alerts`.

Its numbers come from the report's own gathering (`liftline.report`), so Slack and the report
say the same: sales against the forecast made before each day and against the same week a year
before, the promotions that ran and diverged, the decisions waiting, the mix model's best
channel (only from a champion fit the report does not warn about), customers at high service
risk, and the alerts of the last 7 days by kind. The chart (last 8 weeks, actual units against
the forecast) is kept as numbers in the alert and drawn when it is delivered.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import Engine

from liftline.alerts import latest_alert_state, naive_utc, record_alert
from liftline.modeling import resolve_as_of
from liftline.report import (
    CustomerData,
    ForecastData,
    HeadlineData,
    HealthData,
    MediaData,
    PromoData,
    decisions,
    diverged,
    fit_banner,
    gather_customers,
    gather_forecast,
    gather_headline,
    gather_health,
    gather_media,
    gather_promotions,
)

from .states import Log, plain

KIND = "weekly_summary"
SUMMARISED = "summarised"
CHART_WEEKS = 8
TOP_ACTIONS = 3
# A week's forecast is compared only when forecasts made before the day cover nearly all of its
# store-days; a forecast of half the stores would read as a huge miss.
MIN_FORECAST_COVERAGE = 0.9
FIELD_ORDER = ["revenue", "units", "units_vs_forecast_change_pct",
               "revenue_vs_last_year_change_pct", "promotions_run", "promotions_diverged",
               "high_service_risk", "mix_model", "alerts_last_7_days"]

T = TypeVar("T")


def summary_week(day: date) -> tuple[date, date]:
    """Monday and Sunday of the last complete ISO week ending on or before `day`."""
    sunday = day - timedelta(days=day.isoweekday() % 7)
    return sunday - timedelta(days=6), sunday


def week_key(monday: date) -> str:
    """The summary's entity: `week/2024-W26` (ISO year and week)."""
    year, week, _ = monday.isocalendar()
    return f"week/{year}-W{week:02d}"


def record_weekly_summary(engine: Engine, run_id: str, as_of: date | str | None = None,
                          log: Log = print, link: str | None = None,
                          now: datetime | None = None) -> dict[str, Any]:
    """Record the summary of the last complete week before `as_of` unless it already exists.

    Returns a strict-JSON summary with the week, the alert_id (None when nothing was recorded)
    and `alerts` (0 or 1), like the other checks.
    """
    day = resolve_as_of(engine, as_of, log)
    if day is None:
        log("weekly summary skipped: no sales features yet (deliver pos and build features)")
        return {"status": "skipped", "reason": "no sales features", "alerts": 0}
    monday, sunday = summary_week(day)
    key = week_key(monday)
    if latest_alert_state(engine, KIND, key) is not None:
        log(f"weekly summary {key}: already recorded")
        return {"status": "ok", "week": key, "alert_id": None, "alerts": 0}
    details = weekly_details(engine, monday, sunday, naive_utc(now), log)
    alert_id = record_alert(engine, kind=KIND, entity_key=key, severity="info",
                            title=weekly_title(key, monday, sunday), details=details,
                            state=SUMMARISED, run_id=run_id, link=link, now=now)
    log(f"weekly summary {key}: {'recorded' if alert_id else 'already recorded'}")
    return plain({"status": "ok", "week": key, "alert_id": alert_id,
                  "alerts": int(alert_id is not None)})


def weekly_title(key: str, monday: date, sunday: date) -> str:
    return f"Weekly summary {key.removeprefix('week/')} ({monday:%d %b} – {sunday:%d %b %Y})"


def weekly_details(engine: Engine, monday: date, sunday: date, now: datetime,
                   log: Log = print) -> dict[str, Any]:
    """The summary's key numbers, decisions and chart for the week monday..sunday."""
    empty = pd.DataFrame()
    headline = _gathered("sales", lambda: gather_headline(engine, sunday), log,
                         HeadlineData(sunday, empty, empty, empty))
    forecast = _gathered("forecast", lambda: gather_forecast(engine, sunday), log,
                         ForecastData(sunday, empty, empty, empty))
    promos = _gathered("promotions", lambda: gather_promotions(engine, sunday), log,
                       PromoData(empty, empty))
    media = _gathered("media mix", lambda: gather_media(engine, sunday), log,
                      MediaData({}, empty, empty, empty))
    customers = _gathered("customers", lambda: gather_customers(engine, sunday), log,
                          CustomerData(empty, empty, empty))
    health = _gathered("health", lambda: gather_health(engine, sunday), log,
                       HealthData(sunday, empty, empty, empty))
    weekly = weekly_units(forecast, sunday)
    details: dict[str, Any] = {
        **_sales(headline, monday, sunday),
        "units_vs_forecast_change_pct": _change(weekly["actual"].iloc[-1],
                                                weekly["forecast"].iloc[-1]),
        **_promotions(promos.measured, monday, sunday),
        "high_service_risk": _high_risk(customers.scores),
        "mix_model": _mix_headline(media),
        "alerts_last_7_days": _alerts_by_kind(headline.alerts, now),
        "action": _actions(decisions(promos, media, customers, health)),
        "field_order": FIELD_ORDER,
        "chart": _chart(weekly),
    }
    return {key: value for key, value in details.items() if value is not None}


def weekly_units(data: ForecastData, sunday: date, weeks: int = CHART_WEEKS) -> pd.DataFrame:
    """Actual units and the forecast made before each day, all stores, per ISO week (the
    `weeks` weeks to `sunday`); forecast is NaN where it covers too few store-days."""
    mondays = [sunday - timedelta(days=6 + 7 * back) for back in reversed(range(weeks))]
    frame = pd.DataFrame({"monday": mondays, "actual": float("nan"),
                          "forecast": float("nan")})
    actuals, earlier = data.actuals, data.earlier
    if actuals.empty:
        return frame
    actuals = actuals.assign(units=pd.to_numeric(actuals["units"], errors="coerce"))
    if not earlier.empty:
        earlier = earlier.assign(yhat=pd.to_numeric(earlier["yhat"], errors="coerce"))
    actual_week = _monday_of(actuals["date"])
    frame["actual"] = [actuals.loc[actual_week == m, "units"].sum() if (actual_week == m).any()
                       else float("nan") for m in mondays]
    if earlier.empty:
        return frame
    matched = actuals.merge(earlier, left_on=["store_id", "date"],
                            right_on=["series_key", "date"], how="left")
    matched_week = _monday_of(matched["date"])
    for index, monday in enumerate(mondays):
        week = matched[matched_week == monday]
        if not week.empty and week["yhat"].notna().mean() >= MIN_FORECAST_COVERAGE:
            frame.loc[index, "forecast"] = week["yhat"].sum()
    return frame


def _monday_of(days: pd.Series) -> pd.Series:
    moments = pd.to_datetime(days)
    return (moments - pd.to_timedelta(moments.dt.weekday, unit="D")).dt.date


def _gathered(what: str, gather: Callable[[], T], log: Log, fallback: T) -> T:
    """One part's data, or its empty fallback: a missing table costs that line, not the week."""
    try:
        return gather()
    except Exception as exc:  # noqa: BLE001 - the report gathers the same way, section by section
        log(f"weekly summary: {what} not available ({type(exc).__name__}: {exc})")
        return fallback


def _sales(headline: HeadlineData, monday: date, sunday: date) -> dict[str, Any]:
    sales = headline.sales
    if sales.empty:
        return {}
    days = pd.to_datetime(sales["date"]).dt.date
    week = sales[(days >= monday) & (days <= sunday)]
    if week.empty:
        return {}
    revenue = float(week["revenue"].sum())
    # Like the report's headline: compared with last year only when both weeks are complete.
    last_year = headline.last_year
    complete = len(week) == 7 and len(last_year) == 7
    return {"revenue": revenue, "units": float(week["units"].sum()),
            "revenue_vs_last_year_change_pct":
                _change(revenue, last_year["revenue"].sum()) if complete else None}


def _promotions(measured: pd.DataFrame, monday: date, sunday: date) -> dict[str, Any]:
    if measured.empty:
        return {}
    start = pd.to_datetime(measured["start_date"]).dt.date
    end = pd.to_datetime(measured["end_date"]).dt.date
    ran = measured[(start <= sunday) & (end.isna() | (end >= monday))]
    return {"promotions_run": len(ran), "promotions_diverged": len(diverged(ran))}


def _high_risk(scores: pd.DataFrame) -> int | None:
    if scores.empty or "risk_level" not in scores:
        return None
    return int((scores["risk_level"] == "high").sum())


def _mix_headline(media: MediaData) -> str | None:
    """The best channel's return, from a champion fit the report would not warn about."""
    channels = media.channels
    if channels.empty or fit_banner(media) is not None or channels["roi"].dropna().empty:
        return None
    best = channels.loc[channels["roi"].astype(float).idxmax()]
    name = str(best["channel"]).replace("_", " ")
    return (f"{name} returns {float(best['roi']):.2f} per unit spent, the best of "
            f"{len(channels)} channels")


def _alerts_by_kind(alerts: pd.DataFrame, now: datetime) -> str:
    if alerts.empty:
        return "none"
    recent = alerts[(pd.to_datetime(alerts["created_at"]) > now - timedelta(days=7))
                    & (alerts["kind"] != KIND)]
    counts = recent["kind"].value_counts()
    return ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items()) or "none"


def _actions(todo: list[list[str]]) -> str:
    if not todo:
        return "No decision is waiting this week; the report has the details."
    return "\n".join(f"{n}. {decision}: {why} (report: {where})"
                     for n, (decision, why, where) in enumerate(todo[:TOP_ACTIONS], start=1))


def _chart(weekly: pd.DataFrame) -> dict[str, Any] | None:
    if weekly["actual"].isna().all():
        return None
    labels = [f"W{monday.isocalendar()[1]:02d}" for monday in weekly["monday"]]
    series = [{"name": "actual", "values": _values(weekly["actual"])}]
    title = f"Units sold per week, last {len(weekly)} weeks"
    if weekly["forecast"].notna().any():
        series.append({"name": "forecast made before the day",
                       "values": _values(weekly["forecast"])})
        title += ": actual vs forecast"
    else:  # say so rather than draw an empty legend entry
        title += " (no forecast made before these weeks yet)"
    return {"title": title, "y_label": "units (all stores)", "x": labels, "series": series}


def _values(series: pd.Series) -> list[float | None]:
    return [None if pd.isna(v) else round(float(v), 1) for v in series]


def _change(now: Any, before: Any) -> float | None:
    """Relative change in percent; None when either is missing or the base is zero."""
    if now is None or before is None or pd.isna(now) or pd.isna(before) or float(before) == 0:
        return None
    return round((float(now) / float(before) - 1) * 100, 2)
