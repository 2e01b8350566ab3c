"""Plan against actual: the weeks of the newest quarter plan that have passed, as they went.

For each complete week of the plan (Monday to Sunday, on or before the as-of date) three things
are compared with what the plan said:

- sales: the stores' actual revenue that week against the plan's expected revenue and its 90%
  interval (`ml_plan_weekly`, summed over the stores the plan covers);
- media: each country x channel's actual spend (`feat_mmm_weekly`) against the plan's
  (`ml_plan` media lines); off plan when it departs by more than SPEND_TOLERANCE of the planned
  spend (and SPEND_FLOOR in money, so a channel planned near zero is not judged on noise);
- promotions: each planned SKU x store promotion line, run or not (any promoted day of the SKU
  in the store that week, `feat_sales_daily.promo_count`), and promotions run that the plan did
  not hold.

The plan is judged into one state, `on_plan`, `off_plan` (execution departed, sales inside the
interval), `sales_below` or `sales_above` (the latest complete week's sales outside the
interval), and one `plan_deviation` alert is recorded per change of state (as every monitor
does). Its probable cause says whether execution departed from the plan (which levers, by how
much) or the plan was executed and sales moved anyway (the models or the market, not the plan).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, and_, func, inspect, select

from liftline.alerts import latest_states
from liftline.modeling import resolve_as_of
from liftline.warehouse import read_frame, table

from .states import OK, Log, plain, record_change

KIND = "plan_deviation"
ON_PLAN, OFF_PLAN, SALES_BELOW, SALES_ABOVE = OK, "off_plan", "sales_below", "sales_above"
SPEND_TOLERANCE = 0.2  # a channel's week off by more than 20% of its planned spend
SPEND_FLOOR = 100.0  # ... and by more than this much money
PLAN_TABLES = ("ml_plan_summary", "ml_plan_weekly", "ml_plan")


def check_plan(engine: Engine, run_id: str, as_of: date | str | None = None, log: Log = print,
               link: str | None = None) -> dict[str, Any]:
    """The newest plan's passed weeks against actual sales, spend and promotions."""
    day = resolve_as_of(engine, as_of, log)
    if day is None:
        return _skipped(log, "no sales features yet (deliver pos and build features)")
    names = set(inspect(engine).get_table_names())
    if not set(PLAN_TABLES) <= names:
        return _skipped(log, "no plan tables yet (run `liftline plan`)")
    plan = newest_plan(engine, day)
    if plan is None:
        return _skipped(log, f"no plan has a complete week on or before {day}")
    weeks = passed_weeks(plan, day)
    sales = weekly_sales(engine, plan["plan_id"], weeks)
    media = media_execution(engine, plan["plan_id"], weeks)
    promotions = promotion_execution(engine, plan["plan_id"], weeks)
    found = judge(plan, sales, media, promotions)
    alerts = record_change(
        engine, kind=KIND, entity_key=f"plan/{plan['plan_id']}", state=found["state"],
        severity="warning", title=deviation_title(found), details=plain(found), run_id=run_id,
        link=link, log=log, previous=latest_states(engine, KIND).get(f"plan/{plan['plan_id']}"))
    log(f"plan {plan['plan_id']} as of {day}: {len(weeks)} week(s) passed, {found['state']}")
    return plain({"status": "ok", "as_of": str(day), **found, "alerts": int(alerts)})


def _skipped(log: Log, reason: str) -> dict[str, Any]:
    log(f"plan check skipped: {reason}")
    return {"status": "skipped", "reason": reason, "alerts": 0}


def newest_plan(engine: Engine, day: date) -> dict[str, Any] | None:
    """The newest plan (by when it was written) whose first week has ended by `day`."""
    summary = table("ml_plan_summary")
    query = (select(summary.c.plan_id, summary.c.start_date, summary.c.weeks)
             .where(summary.c.start_date <= day - timedelta(days=6))
             .order_by(summary.c.created_at.desc(), summary.c.plan_id).limit(1))
    rows = read_frame(engine, query)
    if rows.empty:
        return None
    row = rows.iloc[0]
    return {"plan_id": str(row["plan_id"]), "start": pd.Timestamp(row["start_date"]).date(),
            "weeks": int(row["weeks"])}


def passed_weeks(plan: dict[str, Any], day: date) -> list[date]:
    """The plan's weeks whose Sunday is on or before `day`."""
    starts = [plan["start"] + timedelta(weeks=i) for i in range(plan["weeks"])]
    return [w for w in starts if w + timedelta(days=6) <= day]


def weekly_sales(engine: Engine, plan_id: str, weeks: list[date]) -> pd.DataFrame:
    """Per passed week: the plan's revenue and interval beside the stores' actual revenue."""
    weekly = table("ml_plan_weekly")
    planned = read_frame(engine, select(
        weekly.c.week_start, func.sum(weekly.c.revenue).label("planned"),
        func.sum(weekly.c.revenue_lower).label("lower"),
        func.sum(weekly.c.revenue_upper).label("upper"))
        .where(weekly.c.plan_id == plan_id, weekly.c.week_start.in_(weeks))
        .group_by(weekly.c.week_start).order_by(weekly.c.week_start))
    stores = select(weekly.c.store_id).where(weekly.c.plan_id == plan_id).distinct()
    sales = table("feat_sales_store_daily")
    daily = read_frame(engine, select(sales.c.date, sales.c.revenue)
                       .where(sales.c.store_id.in_(stores), sales.c.is_future.is_(False),
                              sales.c.date.between(min(weeks, default=date.min),
                                                   max(weeks, default=date.min)
                                                   + timedelta(days=6))))
    if planned.empty:
        return planned.assign(actual=pd.Series(dtype=float))
    daily["week_start"] = pd.to_datetime(daily["date"]).dt.to_period("W-SUN").dt.start_time
    actual = daily.groupby("week_start")["revenue"].sum()
    planned["week_start"] = pd.to_datetime(planned["week_start"])
    return planned.assign(actual=planned["week_start"].map(actual).astype(float))


def media_execution(engine: Engine, plan_id: str, weeks: list[date]) -> pd.DataFrame:
    """Per planned country x channel x passed week: planned and actual spend."""
    lines, spend = table("ml_plan"), table("feat_mmm_weekly")
    planned = read_frame(engine, select(lines.c.country, lines.c.channel, lines.c.week_start,
                                        lines.c.planned_value.label("planned"))
                         .where(lines.c.plan_id == plan_id, lines.c.kind == "media",
                                lines.c.week_start.in_(weeks)))
    actual = read_frame(engine, select(spend.c.country, spend.c.channel, spend.c.week_start,
                                       spend.c.spend.label("actual"))
                        .where(spend.c.segment == "all", spend.c.week_start.in_(weeks)))
    if planned.empty:
        return planned.assign(actual=pd.Series(dtype=float))
    for frame in (planned, actual):
        frame["week_start"] = pd.to_datetime(frame["week_start"])
    out = planned.merge(actual, on=["country", "channel", "week_start"], how="left")
    out["actual"] = out["actual"].fillna(0.0)
    gap = out["actual"] - out["planned"]
    out["off"] = (gap.abs() > SPEND_TOLERANCE * out["planned"]) & (gap.abs() > SPEND_FLOOR)
    return out.sort_values(["week_start", "country", "channel"]).reset_index(drop=True)


def promotion_execution(engine: Engine, plan_id: str, weeks: list[date]) -> dict[str, Any]:
    """Planned promotion lines of the passed weeks run or not, and unplanned ones that ran."""
    lines, sales = table("ml_plan"), table("feat_sales_daily")
    planned = read_frame(engine, select(lines.c.sku, lines.c.store_id, lines.c.week_start)
                         .where(lines.c.plan_id == plan_id, lines.c.kind == "promotion",
                                lines.c.week_start.in_(weeks)))
    if not weeks:
        return {"planned": 0, "not_run": [], "unplanned": 0}
    last = max(weeks) + timedelta(days=6)
    stores = select(table("ml_plan_weekly").c.store_id).where(
        table("ml_plan_weekly").c.plan_id == plan_id).distinct()
    promoted = read_frame(engine, select(sales.c.sku, sales.c.store_id, sales.c.date)
                          .where(and_(sales.c.promo_count > 0, sales.c.store_id.in_(stores),
                                      sales.c.date.between(min(weeks), last))))
    promoted["week_start"] = (pd.to_datetime(promoted["date"]).dt.to_period("W-SUN")
                              .dt.start_time)
    ran = set(map(tuple, promoted[["sku", "store_id", "week_start"]].drop_duplicates()
                  .itertuples(index=False)))
    planned["week_start"] = pd.to_datetime(planned["week_start"])
    keys = list(map(tuple, planned[["sku", "store_id", "week_start"]].itertuples(index=False)))
    not_run = sorted(f"{sku}@{store} {week.date()}" for sku, store, week in keys
                     if (sku, store, week) not in ran)
    return {"planned": len(keys), "not_run": not_run, "unplanned": len(ran - set(keys))}


def judge(plan: dict[str, Any], sales: pd.DataFrame, media: pd.DataFrame,
          promotions: dict[str, Any]) -> dict[str, Any]:
    """The plan's state and the numbers behind it; the latest passed week decides sales."""
    off_media = media.loc[media["off"]]
    departed = bool(len(off_media) or promotions["not_run"])
    state, week = (OFF_PLAN if departed else ON_PLAN), None
    measured = sales.dropna(subset=["actual"])
    if len(measured):
        last = measured.iloc[-1]
        week = {"week_start": str(last["week_start"].date()), "actual": float(last["actual"]),
                "planned": float(last["planned"]), "lower": float(last["lower"]),
                "upper": float(last["upper"])}
        if last["actual"] < last["lower"]:
            state = SALES_BELOW
        elif last["actual"] > last["upper"]:
            state = SALES_ABOVE
    return {"plan_id": plan["plan_id"], "state": state, "weeks_passed": int(len(sales)),
            "latest_week": week, "media_off_plan": _media_rows(off_media),
            "promotions_planned": promotions["planned"],
            "promotions_not_run": promotions["not_run"][:10],
            "promotions_not_run_count": len(promotions["not_run"]),
            "promotions_unplanned": promotions["unplanned"],
            "probable_cause": probable_cause(state, off_media, promotions)}


def _media_rows(off: pd.DataFrame) -> list[dict[str, Any]]:
    return [{"country": r.country, "channel": r.channel, "week_start": str(r.week_start.date()),
             "planned": float(r.planned), "actual": float(r.actual)}
            for r in off.head(10).itertuples()]


def probable_cause(state: str, off_media: pd.DataFrame, promotions: dict[str, Any]) -> str:
    levers = []
    if len(off_media):
        gap = (off_media["actual"].sum() - off_media["planned"].sum())
        channels = sorted(set(off_media["channel"]))
        levers.append(f"media spend {gap:+,.0f} against the plan on {', '.join(channels)}")
    if promotions["not_run"]:
        levers.append(f"{len(promotions['not_run'])} of {promotions['planned']} planned "
                      "promotions not run")
    if levers:
        return "execution departed from the plan: " + "; ".join(levers)
    if state in (SALES_BELOW, SALES_ABOVE):
        return ("the plan was executed and sales moved anyway: the market or the models, not "
                "the plan (see forecast_drop, drift and model_degraded alerts)")
    return "none: on plan"


def deviation_title(found: dict[str, Any]) -> str:
    week = found["latest_week"]
    if found["state"] == ON_PLAN:
        return f"plan {found['plan_id']}: back on plan"
    if found["state"] in (SALES_BELOW, SALES_ABOVE) and week:
        side = "below" if found["state"] == SALES_BELOW else "above"
        return (f"plan {found['plan_id']}: week of {week['week_start']} sold {week['actual']:,.0f}, "
                f"{side} the plan's {week['lower']:,.0f}-{week['upper']:,.0f}")
    return f"plan {found['plan_id']}: {found['probable_cause']}"
