"""Quarter plan section: the latest plan against business as usual.

`liftline plan` (or `score_models` with `plan_quarter: true`) writes `ml_plan_summary` and the
plan's lines in `ml_plan`; this section shows the newest plan: its margin and revenue against
business as usual with their interval, media by channel, and the promotions worth the most.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from sqlalchemy import Engine

from liftline.report import formatting as fmt
from liftline.report.model import Section, Table
from liftline.report.sources import absent, read_rows
from liftline.warehouse import table

TOP_PROMOTIONS = 10


@dataclass
class PlanData:
    summary: pd.Series | None
    lines: pd.DataFrame
    missing: list[str] = field(default_factory=list)


def gather_plan(engine: Engine, as_of: date | None) -> PlanData:  # noqa: ARG001 - plans are
    # for weeks ahead of any as-of: the newest one made is the one to show.
    summaries = read_rows(engine, "ml_plan_summary")
    if summaries.empty:
        return PlanData(None, pd.DataFrame(), [absent(
            engine, "ml_plan_summary", "quarter plan",
            "`liftline plan` writes one, or score_models triggered with plan_quarter: true.")])
    latest = summaries.sort_values(["created_at", "plan_id"]).iloc[-1]
    lines = read_rows(engine, "ml_plan", table("ml_plan").c.plan_id == latest["plan_id"])
    return PlanData(latest, lines)


def plan_section(data: PlanData) -> Section:
    section = Section("plan", "Quarter plan")
    for text in data.missing:
        section.missing(text)
    s = data.summary
    if s is None:
        return section
    missing = json.loads(s["missing_models"] or "[]")
    if missing:
        section.warn(f"Planned without {', '.join(missing)}: what those models decide stays as "
                     "business as usual.")
    interval = ("" if not fmt.known(s["incremental_margin_lower"]) else
                f" (90% interval {fmt.money(s['incremental_margin_lower'], signed=True)} to "
                f"{fmt.money(s['incremental_margin_upper'], signed=True)})")
    start = pd.Timestamp(s["start_date"])
    section.say(
        f"Plan {s['plan_id']} for the {int(s['weeks'])} weeks from {start:%d %b %Y}: margin "
        f"{fmt.money(s['margin'])} against {fmt.money(s['bau_margin'])} as usual, "
        f"{fmt.money(s['incremental_margin'], signed=True)}{interval}; revenue "
        f"{fmt.money(s['incremental_revenue'], signed=True)}.",
        f"{fmt.plural(int(s['promotions']), 'promotion')} against "
        f"{int(s['bau_promotions'])} as usual; media {fmt.money(s['media_spend'])} against "
        f"{fmt.money(s['bau_media_spend'])}.")
    lines = data.lines
    media = lines[lines["kind"] == "media"] if not lines.empty else lines
    if not media.empty:
        by_channel = media.groupby("channel")[["planned_value", "bau_value"]].sum()
        section.add(Table(["Channel", "Plan spend", "As usual", "Change"], [
            [str(channel), fmt.money(row.planned_value), fmt.money(row.bau_value),
             fmt.pct(fmt.change(row.planned_value, row.bau_value), signed=True)]
            for channel, row in by_channel.iterrows()], caption="Media by channel, all weeks"))
    promos = lines[lines["kind"] == "promotion"] if not lines.empty else lines
    if not promos.empty:
        best = promos.sort_values(["expected_incremental_margin", "line"],
                                  ascending=[False, True]).head(TOP_PROMOTIONS)
        section.add(Table(["SKU", "Store", "Week of", "Discount", "Origin", "Expected margin"], [
            [str(p.sku), str(p.store_id), f"{pd.Timestamp(p.week_start):%d %b}",
             fmt.pct(p.discount_pct, digits=0), str(p.origin),
             fmt.money(p.expected_incremental_margin, signed=True)]
            for p in best.itertuples()], caption=f"The {len(best)} promotions worth the most"))
    return section
