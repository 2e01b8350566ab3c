"""`plan_quarter`: the joint plan of a request, compared with business as usual, into the warehouse.

The responses come from the warehouse's champion models (`liftline.plan.fitted`), business as
usual and the promotion grid from its history (`liftline.plan.bau`, `fitted`). The plan is
optimised (`optimize.optimise_plan`), it and business as usual are evaluated by the same formula,
and one transaction replaces the plan's rows in `ml_plan`, `ml_plan_weekly`, `ml_plan_summary`
and records its `plan_summary` alert (once per distinct result).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from liftline.warehouse import (
    create_schema,
    read_frame,
    replace_partition,
    table,
    write_transaction,
)

from .optimize import (
    PROMOTION_KEY,
    PlanOutcome,
    evaluate_plan,
    optimise_plan,
    plan_digest,
    plan_media,
    uplift_frame,
)
from .types import MEDIA_COLUMNS, PROMOTION_COLUMNS, Plan, PlanRequest, Responses

Log = Callable[[str], None]
ALERT_KIND = "plan_summary"
_MEASURES = ("units", "revenue", "gross_margin")


@dataclass
class PlanResult:
    """A plan, business as usual, both evaluated, and the rows written for them."""

    plan_id: str
    run_id: str
    request: PlanRequest
    plan: Plan
    bau: Plan
    outcome: PlanOutcome
    bau_outcome: PlanOutcome
    summary: dict[str, Any]
    lines: pd.DataFrame  # ml_plan rows
    weekly: pd.DataFrame  # ml_plan_weekly rows
    missing: list[str] = field(default_factory=list)
    responses: Responses | None = None  # kept for what-ifs, never stored


def plan_id_for(request: PlanRequest, run_id: str, mode: str = "joint") -> str:
    """Readable and deterministic: the start, the weeks and a hash of the whole request + run."""
    digest = plan_digest(request.start, request.weeks, request.media_budget,
                         request.media_bounds, request.promo_margin_floor, mode, run_id)
    return f"plan-{request.start:%Y%m%d}-{request.weeks}w-{digest}"


def plan_quarter(engine: Engine, request: PlanRequest, run_id: str, log: Log = print,
                 mode: str = "joint", challengers: bool = False) -> PlanResult:
    """Optimise, evaluate against business as usual, write the plan's rows; its result.

    `challengers`: a model without a champion answers with its latest challenger (benchmarks;
    `liftline plan` plans with champions only)."""
    from .bau import business_as_usual
    from .fitted import promotion_candidates

    responses = fitted_responses(engine, request, log=log, challengers=challengers)
    missing = list(getattr(responses, "missing", []) or [])
    if missing:
        log(f"plan: no {', '.join(missing)} in the warehouse; planning what the others allow")
    # The fitted responses built business as usual to clean their base: the same plan, reused.
    bau = getattr(responses, "bau", None) or business_as_usual(engine, request, log=log)
    candidates = promotion_candidates(engine, request, log=log)
    plan = optimise_plan(responses, request, bau, candidates, mode=mode, log=log)
    plan.notes = [*getattr(responses, "notes", []), *bau.notes, *plan.notes]
    result = plan_result(responses, request, run_id, plan, bau, missing, mode)
    write_plan(engine, result)
    log(summary_line(result))
    return result


def fitted_responses(engine: Engine, request: PlanRequest, log: Log = print,
                     challengers: bool = False) -> Responses:
    """The responses of the warehouse's champion models (liftline.plan.fitted)."""
    from .fitted import FittedResponses

    return FittedResponses.from_warehouse(engine, request, log=log, challengers=challengers)


def plan_next_quarter(engine: Engine, run_id: str, as_of: date | str | None = None,
                      weeks: int = 13, media_budget: float | None = None,
                      log: Log = print) -> dict[str, Any]:
    """The scoring DAG's on-demand plan: from the Monday after as-of; its summary (XCom)."""
    start = plan_start(engine, as_of, log)
    if start is None:
        log("plan skipped: the warehouse holds no sales features yet")
        return {"status": "skipped", "reason": "no sales features"}
    request = PlanRequest(start=start, weeks=int(weeks), media_budget=media_budget)
    result = plan_quarter(engine, request, run_id, log=log)
    keep = ("plan_id", "start_date", "weeks", "margin", "bau_margin", "incremental_margin",
            "incremental_margin_lower", "incremental_margin_upper", "incremental_revenue",
            "promotions", "media_spend")
    return {"status": "ok", **{k: result.summary[k] for k in keep},
            "missing_models": result.missing}


def plan_start(engine: Engine, as_of: date | str | None = None,
               log: Log | None = None) -> date | None:
    """The Monday after the as-of (default: the warehouse's last sales date); None without
    sales."""
    from liftline.features import resolve_as_of

    as_of = resolve_as_of(engine, as_of, log)
    # Week(weekday=0) rolls to the next Monday strictly after (a Monday as-of: a week later).
    return None if as_of is None else (pd.Timestamp(as_of) + pd.offsets.Week(weekday=0)).date()


def plan_result(responses: Responses, request: PlanRequest, run_id: str, plan: Plan, bau: Plan,
                missing: list[str] | None = None, mode: str = "joint") -> PlanResult:
    """Evaluate a plan and business as usual; the rows and summary to store (nothing written)."""
    plan_id = plan_id_for(request, run_id, mode)
    base = responses.base(request)
    outcome = evaluate_plan(responses, request, plan, base)
    bau_outcome = evaluate_plan(responses, request, bau, base)
    summary = plan_summary(plan_id, run_id, request, mode, plan, outcome, bau, bau_outcome,
                           missing or [])
    lines = plan_lines(responses, request, plan, bau, outcome).assign(plan_id=plan_id,
                                                                      run_id=run_id)
    weekly = weekly_rows(outcome, bau_outcome).assign(plan_id=plan_id, run_id=run_id)
    return PlanResult(plan_id, run_id, request, plan, bau, outcome, bau_outcome, summary, lines,
                      weekly, list(missing or []), responses)


# --- the rows -------------------------------------------------------------------------------

def plan_lines(responses: Responses, request: PlanRequest, plan: Plan, bau: Plan,
               outcome: PlanOutcome) -> pd.DataFrame:
    """ml_plan rows: media lines (country x channel x week), then promotion lines."""
    frames = [media_lines(responses, request, plan, bau, outcome),
              promotion_lines(outcome)]
    lines = pd.concat([f for f in frames if not f.empty], ignore_index=True) \
        if any(not f.empty for f in frames) else pd.DataFrame(columns=["kind"])
    lines.insert(0, "line", np.arange(len(lines)))
    return lines


def media_lines(responses: Responses, request: PlanRequest, plan: Plan, bau: Plan,
                outcome: PlanOutcome) -> pd.DataFrame:
    """One line per country x channel x week with its share of the channel's contribution.

    A channel's contribution in a country is what the plan's sales lose when that channel's
    spend is removed from the whole plan (the other channels kept); it is shared over the
    channel's weeks in proportion to spend, because adstock carries a week's spend into later
    weeks. Its interval is the same difference on the base's interval.
    """
    media = plan_media(plan.media, request)
    if media.empty:
        return pd.DataFrame()
    before_media = _before_media(outcome.weekly)
    full = uplift_frame(responses, media).rename(columns={"uplift": "full"})
    rows = []
    for (country, channel), spend in media.groupby(["country", "channel"], sort=True):
        without = media.assign(spend=np.where((media["country"] == country)
                                              & (media["channel"] == channel), 0.0,
                                              media["spend"]))
        drop = (full.merge(uplift_frame(responses, without), on=["country", "week_start"],
                           how="left").fillna({"uplift": 0.0}))
        drop = drop[drop["country"] == country]
        gained = before_media.merge(drop, on=["country", "week_start"])
        delta = gained["full"] - gained["uplift"]
        effect = {name: float((gained[name] * delta).sum()) for name in before_media
                  if name not in ("country", "week_start")}
        total = float(spend["spend"].sum())
        share = spend["spend"] / total if total > 0 else 0.0 * spend["spend"]
        line = spend.sort_values("week_start").assign(kind="media")
        share = share.loc[line.index]
        line["planned_value"] = line["spend"]
        line["expected_incremental_units"] = effect["units"] * share
        line["expected_incremental_revenue"] = effect["revenue"] * share
        if "revenue_lower" in effect:
            ends = [effect["revenue_lower"] * share, effect["revenue_upper"] * share]
            line["expected_incremental_revenue_lower"] = np.minimum(*ends)
            line["expected_incremental_revenue_upper"] = np.maximum(*ends)
        line["expected_incremental_margin"] = effect["gross_margin"] * share - line["spend"]
        rows.append(line.drop(columns="spend"))
    lines = pd.concat(rows, ignore_index=True)
    bau_media = plan_media(bau.media, request).groupby(
        ["country", "channel", "week_start"], as_index=False)["spend"].sum()
    lines = lines.merge(bau_media.rename(columns={"spend": "bau_value"}),
                        on=["country", "channel", "week_start"], how="left")
    lines["bau_value"] = lines["bau_value"].fillna(0.0)
    return lines


def _before_media(weekly: pd.DataFrame) -> pd.DataFrame:
    """Per country x week: sales of base + promotions before the media uplift (and bounds)."""
    names = [f"{m}{s}" for m in _MEASURES for s in ("", "_lower", "_upper")
             if f"{m}{s}" in weekly]
    frame = weekly[["country", "week_start"]].copy()
    for name in names:
        frame[name] = weekly[name] / (1.0 + weekly["uplift"])
    return frame.groupby(["country", "week_start"], as_index=False)[names].sum()


def promotion_lines(outcome: PlanOutcome) -> pd.DataFrame:
    """One line per promotion: its increment after its week's media, its cost deducted.

    The interval scales the increment with the base's revenue interval in its store and week:
    the lift model's increment is a lift on that baseline.
    """
    promos = outcome.promotion_lines
    if promos.empty:
        return pd.DataFrame()
    bounds = [c for c in ("base_revenue_lower", "base_revenue_upper") if c in outcome.weekly]
    base = outcome.weekly[["store_id", "week_start", "base_revenue", *bounds]]
    lines = promos.merge(base, on=["store_id", "week_start"], how="left")
    lift = 1.0 + lines["uplift"]
    out = lines[[*PROMOTION_COLUMNS, "country", *(["category"] if "category" in lines else [])]]
    out = out.assign(kind="promotion", planned_value=lines["discount_pct"],
                     expected_incremental_units=lines["incremental_units"] * lift,
                     expected_incremental_revenue=lines["expected_incremental_revenue"],
                     expected_incremental_margin=lines["expected_incremental_margin"])
    if bounds:
        ends = [lines["expected_incremental_revenue"]
                * (lines[name] / lines["base_revenue"]).where(lines["base_revenue"] > 0, 1.0)
                for name in bounds]
        out["expected_incremental_revenue_lower"] = np.minimum(*ends)
        out["expected_incremental_revenue_upper"] = np.maximum(*ends)
    return out.sort_values(PROMOTION_KEY).reset_index(drop=True)


def weekly_rows(outcome: PlanOutcome, bau: PlanOutcome) -> pd.DataFrame:
    """ml_plan_weekly rows: the plan's store x week sales beside business as usual's."""
    keep = ["store_id", "country", "week_start", "units", "units_lower", "units_upper",
            "revenue", "revenue_lower", "revenue_upper", "gross_margin", "base_units",
            "base_revenue", "promo_units", "promotions", "uplift"]
    weekly = outcome.weekly[[c for c in keep if c in outcome.weekly]].rename(
        columns={"uplift": "media_uplift"})
    theirs = bau.weekly[["store_id", "week_start", "units", "revenue", "gross_margin"]].rename(
        columns={"units": "bau_units", "revenue": "bau_revenue", "gross_margin": "bau_margin"})
    return weekly.merge(theirs, on=["store_id", "week_start"], how="left")


def plan_summary(plan_id: str, run_id: str, request: PlanRequest, mode: str, plan: Plan,
                 outcome: PlanOutcome, bau: Plan, bau_outcome: PlanOutcome,
                 missing: list[str]) -> dict[str, Any]:
    """The ml_plan_summary row: both plans' totals and the increments with their interval.

    The interval puts every store's base at the lower (then upper) end of its forecast
    interval in both plans at once: the base cancels out of the difference except where the
    plans' media uplift differs, so the interval is that of the plans' different media and
    promotion effects on an uncertain base; it treats the forecast's errors as moving together
    (wide, not narrow) and leaves out the uncertainty of the mix and lift models themselves.
    """
    row: dict[str, Any] = {
        "plan_id": plan_id, "run_id": run_id, "start_date": request.start,
        "weeks": request.weeks, "mode": mode, "media_budget": request.media_budget,
        "media_bounds_lower": request.media_bounds[0],
        "media_bounds_upper": request.media_bounds[1],
        "promo_margin_floor": request.promo_margin_floor,
        "promotions": len(outcome.promotion_lines),
        "bau_promotions": len(bau_outcome.promotion_lines),
        "missing_models": json.dumps(sorted(missing)),
        "notes": json.dumps(plan.notes),
    }
    for prefix, result in (("", outcome), ("bau_", bau_outcome)):
        for name in ("revenue", "gross_margin", "media_spend", "promo_cost", "margin"):
            row[f"{prefix}{name}"] = getattr(result, name)
    for name in ("revenue", "margin"):
        row[f"incremental_{name}"] = getattr(outcome, name) - getattr(bau_outcome, name)
        ends = [getattr(outcome, f"{name}{s}") for s in ("_lower", "_upper")]
        theirs = [getattr(bau_outcome, f"{name}{s}") for s in ("_lower", "_upper")]
        if None in ends or None in theirs:
            row[f"incremental_{name}_lower"] = row[f"incremental_{name}_upper"] = None
            continue
        moved = [mine - other for mine, other in zip(ends, theirs, strict=True)]
        if max(moved) - min(moved) <= 1e-9 * max(1.0, abs(row[f"incremental_{name}"])):
            # Same media in both plans: the base cancels out of the difference, and an interval
            # of zero width would claim a certainty the lift model does not have. None: no
            # interval is known (the models' own uncertainty is not carried yet).
            row[f"incremental_{name}_lower"] = row[f"incremental_{name}_upper"] = None
            continue
        row[f"incremental_{name}_lower"] = min(moved)
        row[f"incremental_{name}_upper"] = max(moved)
    return row


# --- writing --------------------------------------------------------------------------------

def write_plan(engine: Engine, result: PlanResult) -> None:
    """Replace the plan's rows in the three tables and record its alert, in one transaction."""
    create_schema(engine)
    now = datetime.now(UTC).replace(tzinfo=None)
    key = {"plan_id": result.plan_id}
    with write_transaction(engine) as conn:
        replace_partition(conn, table("ml_plan"), _table_frame("ml_plan", result.lines, now), key)
        replace_partition(conn, table("ml_plan_weekly"),
                          _table_frame("ml_plan_weekly", result.weekly, now), key)
        replace_partition(conn, table("ml_plan_summary"),
                          _table_frame("ml_plan_summary", pd.DataFrame([result.summary]), now),
                          key)
        record_plan_alert(conn, result)


def _table_frame(name: str, frame: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """The frame's columns the table has, dates as dates, created_at stamped."""
    columns = [c.name for c in table(name).columns]
    frame = frame.assign(created_at=now)
    frame = frame[[c for c in columns if c in frame]].copy()
    for column in ("week_start", "start_date"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def record_plan_alert(conn, result: PlanResult) -> str | None:  # noqa: ANN001 - a Connection
    """The plan's Slack summary (alert kind plan_summary), once per distinct result."""
    from liftline.alerts import record_alert

    s = result.summary
    details = {
        "incremental_margin": round(s["incremental_margin"], 0),
        "incremental_margin_lower": _rounded(s["incremental_margin_lower"]),
        "incremental_margin_upper": _rounded(s["incremental_margin_upper"]),
        "incremental_revenue": round(s["incremental_revenue"], 0),
        "media_spend": round(s["media_spend"], 0),
        "media_spend_as_usual": round(s["bau_media_spend"], 0),
        "promotions": s["promotions"], "promotions_as_usual": s["bau_promotions"],
        "start": str(result.request.start), "weeks": result.request.weeks,
        "plan_id": result.plan_id,
        "missing_models": ", ".join(result.missing) or "none",
        "field_order": ["incremental_margin", "incremental_margin_lower",
                        "incremental_margin_upper", "incremental_revenue", "media_spend",
                        "media_spend_as_usual", "promotions", "promotions_as_usual"],
        "item_columns": ["channel", "spend", "spend_as_usual", "spend_change_pct"],
        "items": channel_items(result),
    }
    state = plan_digest(*(details[k] for k in sorted(details) if k != "items"),
                        json.dumps(details["items"], sort_keys=True))
    title = (f"Quarter plan from {result.request.start} ({result.request.weeks} weeks): margin "
             f"{s['incremental_margin']:+,.0f} against business as usual")
    return record_alert(conn, kind=ALERT_KIND, entity_key=f"plan/{result.plan_id}",
                        severity="info", title=title, details=details, state=state,
                        run_id=result.run_id)


def channel_items(result: PlanResult) -> list[dict[str, Any]]:
    """Media by channel, the plan's against business as usual's (all countries)."""
    mine = plan_media(result.plan.media, result.request).groupby("channel")["spend"].sum()
    theirs = plan_media(result.bau.media, result.request).groupby("channel")["spend"].sum()
    both = pd.concat([mine.rename("spend"), theirs.rename("as_usual")], axis=1).fillna(0.0)
    return [{"channel": str(channel), "spend": round(float(row.spend), 0),
             "spend_as_usual": round(float(row.as_usual), 0),
             "spend_change_pct": round(100 * (row.spend / row.as_usual - 1), 1)
             if row.as_usual > 0 else None}
            for channel, row in both.sort_index().iterrows()]


def summary_line(result: PlanResult) -> str:
    s = result.summary
    interval = ("" if s["incremental_margin_lower"] is None else
                f" (90% {s['incremental_margin_lower']:+,.0f} .. "
                f"{s['incremental_margin_upper']:+,.0f})")
    return (f"plan {result.plan_id}: margin {s['margin']:,.0f} vs business as usual "
            f"{s['bau_margin']:,.0f}: {s['incremental_margin']:+,.0f}{interval}; "
            f"{s['promotions']} promotion(s), media {s['media_spend']:,.0f}")


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 0)


# --- reading a stored plan back (what-ifs) --------------------------------------------------

def stored_plan(engine: Engine, plan_id: str) -> tuple[PlanRequest, Plan] | None:
    """The request and plan stored under plan_id, or None when there is none."""
    summary_table, lines_table = table("ml_plan_summary"), table("ml_plan")
    summary = read_frame(engine, select(summary_table).where(
        summary_table.c.plan_id == plan_id))
    if summary.empty:
        return None
    row = summary.iloc[0]
    request = PlanRequest(
        start=pd.Timestamp(row["start_date"]).date(), weeks=int(row["weeks"]),
        media_budget=_optional(row["media_budget"]),
        media_bounds=(float(row["media_bounds_lower"]), float(row["media_bounds_upper"])),
        promo_margin_floor=_optional(row["promo_margin_floor"]))
    lines = read_frame(engine, select(lines_table).where(lines_table.c.plan_id == plan_id)
                       .order_by(lines_table.c.line), parse_dates=["week_start"])
    media = lines[lines["kind"] == "media"].assign(spend=lambda f: f["planned_value"])
    promotions = lines[lines["kind"] == "promotion"]
    plan = Plan(media=media[list(MEDIA_COLUMNS)].reset_index(drop=True),
                promotions=promotions[[*PROMOTION_COLUMNS, "category"]].assign(
                    duration_days=lambda f: f["duration_days"].astype(int))
                .reset_index(drop=True),
                notes=json.loads(row["notes"] or "[]"))
    return request, plan


def _optional(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)
