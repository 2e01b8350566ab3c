"""Headline: what changed since last week, alerts by kind, and the decisions to take.

Built last, from its own small reads (sales of the last two weeks, alerts) and the data the
other sections gathered, so each decision points at the section that explains it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from liftline.report import charts
from liftline.report import formatting as fmt
from liftline.report.customers import CustomerData
from liftline.report.health import HealthData
from liftline.report.media import MediaData, fit_banner
from liftline.report.model import Plot, Section, Table
from liftline.report.promotions import PromoData, diverged, offers
from liftline.report.sources import read_rows
from liftline.warehouse import table

WEEK = timedelta(days=7)
YEAR = timedelta(days=364)  # 52 weeks: the same weekdays a year before


@dataclass
class HeadlineData:
    as_of: date | None
    sales: pd.DataFrame  # date, units, revenue: all stores, the 14 days to as-of
    last_year: pd.DataFrame  # the same, the 7 days 52 weeks before the last week
    alerts: pd.DataFrame  # kind, severity, title, created_at of the last 14 days of alerts


def gather_headline(engine: Engine, as_of: date | None) -> HeadlineData:
    sales = _daily_sales(engine, as_of - 2 * WEEK if as_of else None, as_of)
    if not sales.empty:
        sales = sales[pd.to_datetime(sales["date"]) > pd.to_datetime(sales["date"]).max()
                      - pd.Timedelta(2 * WEEK)]
    last_year = pd.DataFrame()
    if as_of is not None:  # the same weekdays a year before: 52 weeks back
        last_year = _daily_sales(engine, as_of - YEAR - WEEK, as_of - YEAR)
    alerts = read_rows(engine, "ops_alerts", columns=("kind", "severity", "title", "created_at",
                                                      "state"))
    if not alerts.empty:
        alerts["created_at"] = pd.to_datetime(alerts["created_at"])
        alerts = alerts[alerts["created_at"] > alerts["created_at"].max() - pd.Timedelta(2 * WEEK)]
        alerts = alerts[alerts["state"].fillna("") != "ok"]  # recoveries are not news to act on
    return HeadlineData(as_of, sales, last_year, alerts)


def _daily_sales(engine: Engine, after: date | None, until: date | None) -> pd.DataFrame:
    """Units and revenue of all stores per day in (after, until]."""
    feat = table("feat_sales_store_daily")
    where = [feat.c.is_future.is_(False)]
    if after is not None and until is not None:
        where += [feat.c.date > after, feat.c.date <= until]
    sales = read_rows(engine, "feat_sales_store_daily", *where,
                      columns=("date", "units", "revenue", "is_closed"))
    if sales.empty:
        return sales
    sales["closed"] = sales["is_closed"].astype(bool).astype(int)
    return sales.groupby("date", as_index=False)[["units", "revenue", "closed"]].sum()


def headline_section(data: HeadlineData, promos: PromoData, media: MediaData,
                     customers: CustomerData, health: HealthData) -> Section:
    section = Section("headline", "This week")
    section.say(*_sales_sentences(data.sales, data.last_year))
    todo = decisions(promos, media, customers, health)
    if todo:
        section.add(Table(["decision", "why", "where to read more"], todo,
                          "Decisions to take"))
    else:
        section.say("No decision is waiting: no recommendation, budget move or high service "
                    "risk in the latest outputs.")
    section.say(*_alert_sentences(data.alerts))
    if not data.alerts.empty:
        section.add(Plot("alerts_by_kind", _alert_figure(data.alerts)))
    return section


def _week_split(frame: pd.DataFrame, column: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    moment = pd.to_datetime(frame[column])
    cut = moment.max() - pd.Timedelta(WEEK)
    return frame[moment > cut], frame[moment <= cut]


def _sales_sentences(sales: pd.DataFrame, last_year: pd.DataFrame) -> list[str]:
    if sales.empty:
        return ["No sales in the feature tables yet, so nothing to compare week on week."]
    this, last = _week_split(sales, "date")
    end = pd.Timestamp(this["date"].max())
    text = (f"Week to {end:%a %d %b %Y}: {fmt.money(this['revenue'].sum())} revenue from "
            f"{fmt.count(this['units'].sum())} units")
    if len(last) == 7 and len(this) == 7:
        revenue = fmt.change(this["revenue"].sum(), last["revenue"].sum())
        units = fmt.change(this["units"].sum(), last["units"].sum())
        text += (f", {fmt.pct(revenue, signed=True)} revenue and {fmt.pct(units, signed=True)} "
                 "units against the week before")
        closed, before = int(this["closed"].sum()), int(last["closed"].sum())
        if closed != before:  # holidays and closures explain most week-on-week swings
            text += (f" (stores were closed on {fmt.plural(closed, 'store-day')} of it, "
                     f"against {before} the week before)")
    if len(last_year) == 7 and len(this) == 7:
        # Week on week swings with holidays; the same week a year before says whether it is
        # the season or the business.
        year = fmt.change(this["revenue"].sum(), last_year["revenue"].sum())
        text += f", and {fmt.pct(year, signed=True)} revenue against the same week last year"
    return [text + "."]


def _alert_sentences(alerts: pd.DataFrame) -> list[str]:
    if alerts.empty:
        return ["No alert was raised in the last two weeks of pipeline runs."]
    this, last = _week_split(alerts, "created_at")
    kinds = this["kind"].value_counts()
    listed = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in kinds.items()) or "none"
    critical = int((this["severity"] == "critical").sum())
    return [f"{fmt.plural(len(this), 'alert')} in the week to the latest run ({listed}; "
            f"{critical} critical), against {len(last)} the week before."]


def _alert_figure(alerts: pd.DataFrame) -> dict[str, Any]:
    this, last = _week_split(alerts, "created_at")
    kinds = sorted(set(alerts["kind"]))
    now, before = this["kind"].value_counts(), last["kind"].value_counts()
    pretty = [k.replace("_", " ") for k in kinds]
    return charts.figure(
        [charts.bar(pretty, [before.get(k, 0) for k in kinds], "week before", charts.GREY),
         charts.bar(pretty, [now.get(k, 0) for k in kinds], "latest week", charts.ORANGE)],
        charts.layout("Alerts by kind", "", "alerts", barmode="group", height=300))


def decisions(promos: PromoData, media: MediaData, customers: CustomerData,
              health: HealthData) -> list[list[str]]:
    """The decisions waiting, as the headline lists them: [decision, why, section to read]."""
    out: list[list[str]] = []
    recs = promos.recommendations
    if not recs.empty:
        good = recs[recs["expected_incremental_margin"] > 0]
        if not good.empty:
            out.append([f"Run {fmt.plural(len(offers(good)), 'recommended offer')} "
                        f"({fmt.plural(len(good), 'SKU × store promotion')})",
                        f"{fmt.money(good['expected_incremental_margin'].sum(), signed=True)} "
                        "expected incremental margin", "Promotions"])
    off = diverged(promos.measured)
    if not off.empty:
        out.append([f"Review {fmt.plural(len(off), 'promotion')} that diverged from the "
                    "prediction", "measured lift outside what was planned", "Promotions"])
    if not media.budget.empty:
        moves = media.budget[media.budget["change_pct"].abs() >= 10]
        banner = fit_banner(media)
        if not moves.empty and banner is None:
            out.append([f"Reallocate media budget across {fmt.plural(len(moves), 'channel')}",
                        "same total, more revenue credited", "Media mix"])
        elif not moves.empty:
            out.append(["Hold the media budget moves", "the mix model is not to be acted on "
                        "yet (see the banner)", "Media mix"])
    scores = customers.scores
    if not scores.empty:
        high = int((scores["risk_level"] == "high").sum())
        if high:
            out.append([f"Contact {fmt.plural(high, 'customer interaction')} at high service "
                        "risk", "likely to end in a 1–2 rating", "Customers"])
    if not health.ingest.empty:
        quarantined = int((health.ingest["status"] == "quarantined").sum())
        if quarantined:
            out.append([f"Re-deliver {fmt.plural(quarantined, 'quarantined file')}",
                        "their rows are missing from every figure", "Data quality"])
    return out
