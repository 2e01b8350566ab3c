"""`liftline plan`: the quarter's media and promotion plan against business as usual, and what-ifs.

Without a what-if the plan is made (optimised on the warehouse's champion models) and written
(`liftline.plan.plan_quarter`). With `--what-if`, `--add-promo` or `--remove-promo` the
plan stored for the same request is re-evaluated with the changes (made first if there is
none): no re-optimising, so the answer takes seconds.
"""

from __future__ import annotations

import argparse
import time
from datetime import date

from liftline.cli.main import UserError, iso_date, non_negative

CLI_RUN_ID = "liftline-plan"  # the plan id also hashes the request, so requests do not collide


def add_plan_parser(sub: argparse._SubParsersAction) -> None:
    plan = sub.add_parser("plan", help="the quarter's media and promotion plan, against "
                                       "business as usual; what-ifs on it")
    plan.add_argument("--start", type=iso_date,
                      help="the plan's first Monday (default: the Monday after the last sales "
                           "date)")
    plan.add_argument("--weeks", type=_weeks, default=13, help="weeks planned (default: 13)")
    plan.add_argument("--media-budget", type=non_negative("an amount"),
                      help="total media spend of the plan (default: business as usual's)")
    plan.add_argument("--promo-margin-floor", type=float,
                      help="least expected incremental margin of a chosen promotion "
                           "(default: it must add margin)")
    plan.add_argument("--what-if", action="append", default=[], metavar="CHANNEL=+N%",
                      help="scale a channel's spend (CHANNEL@COUNTRY=+N%% for one country); "
                           "repeatable")
    plan.add_argument("--add-promo", action="append", default=[],
                      metavar="SKU@STORE:WEEK:DISCOUNT[:DAYS[:TYPE]]",
                      help="add a promotion (WEEK: 1..weeks or a date in it); repeatable")
    plan.add_argument("--remove-promo", action="append", default=[], metavar="SKU@STORE:WEEK",
                      help="remove the plan's promotion of SKU in STORE that week; repeatable")
    plan.set_defaults(func=cmd_plan, needs_warehouse=True)


def _weeks(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 53:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of weeks from 1 to 53")
    return value


def cmd_plan(args: argparse.Namespace) -> int:
    from liftline.plan import PlanRequest, plan_quarter
    from liftline.warehouse import get_engine

    engine = get_engine()
    try:
        changes = parse_changes(args)
        start = args.start or default_start(engine)
        if start.weekday() != 0:
            raise ValueError(f"--start {start} is a {start:%A}: a plan starts on a Monday")
        request = PlanRequest(start=start, weeks=args.weeks, media_budget=args.media_budget,
                              promo_margin_floor=args.promo_margin_floor)
        began = time.perf_counter()
        stored = _stored(engine, request) if changes else None
        if stored is None:
            result = plan_quarter(engine, request, CLI_RUN_ID, log=_quiet)
            print(plan_text(result, time.perf_counter() - began))
            responses, plan, plan_id = result.responses, result.plan, result.plan_id
        else:
            plan_id, plan, responses = stored
            print(f"what-ifs on the stored plan {plan_id} (run `liftline plan` without them "
                  "to plan anew)")
        if changes:
            print(what_if_text(responses, request, plan, changes))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return 0


def parse_changes(args: argparse.Namespace) -> list:
    from liftline.plan import parse_add_promo, parse_media_change, parse_remove_promo

    return ([parse_media_change(t) for t in args.what_if]
            + [parse_remove_promo(t) for t in args.remove_promo]
            + [parse_add_promo(t) for t in args.add_promo])


def default_start(engine) -> date:  # noqa: ANN001 - an Engine
    """The Monday after the warehouse's last sales date."""
    from liftline.plan import plan_start

    start = plan_start(engine)
    if start is None:
        raise ValueError("the warehouse holds no sales yet: run `liftline run` first, or give "
                         "--start")
    return start


def _stored(engine, request):  # noqa: ANN001, ANN202
    """(plan id, plan, responses) of the plan stored for this request, or None."""
    from liftline.plan import fitted_responses, plan_id_for, stored_plan

    plan_id = plan_id_for(request, CLI_RUN_ID)
    found = stored_plan(engine, plan_id)
    if found is None:
        return None
    return plan_id, found[1], fitted_responses(engine, request, log=_quiet)


def _quiet(_message: str) -> None:
    """The planner's progress lines are for the DAG's log; the CLI prints its summary."""


def plan_text(result, seconds: float) -> str:  # noqa: ANN001 - a PlanResult
    """Plan against business as usual in a few lines."""
    import pandas as pd

    from liftline.plan import channel_items

    s = result.summary
    end = result.request.week_starts[-1] + pd.Timedelta(days=6)
    lines = [f"plan {result.plan_id}: {result.request.start} .. {end:%Y-%m-%d} "
             f"({result.request.weeks} weeks), made in {seconds:.1f} s",
             f"{'':14s}{'plan':>14s}{'as usual':>14s}{'change':>14s}"]
    for label, key in (("revenue", "revenue"), ("margin", "margin"),
                       ("media spend", "media_spend"), ("promo costs", "promo_cost")):
        lines.append(f"{label:14s}{s[key]:>14,.0f}{s['bau_' + key]:>14,.0f}"
                     f"{s[key] - s['bau_' + key]:>+14,.0f}")
    lines.append(f"{'promotions':14s}{s['promotions']:>14d}{s['bau_promotions']:>14d}"
                 f"{s['promotions'] - s['bau_promotions']:>+14d}")
    for name in ("revenue", "margin"):
        if s[f"incremental_{name}_lower"] is not None:
            lines.append(f"incremental {name}: {s[f'incremental_{name}']:+,.0f} (90% interval "
                         f"{s[f'incremental_{name}_lower']:+,.0f} .. "
                         f"{s[f'incremental_{name}_upper']:+,.0f}, from the forecast's)")
    channels = [f"{i['channel']} {i['spend']:,.0f}"
                + (f" ({i['spend_change_pct']:+.0f}%)" if i["spend_change_pct"] is not None
                   else "") for i in channel_items(result)]
    lines.append("media by channel: " + (", ".join(channels) or "none"))
    if result.missing:
        lines.append(f"not available: {', '.join(result.missing)} (planned what the others "
                     "allow)")
    return "\n".join(lines)


def what_if_text(responses, request, plan, changes: list) -> str:  # noqa: ANN001
    from liftline.plan import what_if

    began = time.perf_counter()
    answer = what_if(responses, request, plan, changes, default_promo_type=_spec_promo_type())
    seconds = time.perf_counter() - began
    told = "; ".join(c.text for c in changes)
    lines = [f"what-if {told}: revenue {answer.revenue_change:+,.0f} "
             f"({answer.after.revenue:,.0f}), margin {answer.margin_change:+,.0f} "
             f"({answer.after.margin:,.0f}) in {seconds:.1f} s"]
    lines += [f"  {note}" for note in answer.notes]
    return "\n".join(lines)


def _spec_promo_type() -> str | None:
    from liftline.promo import load_spec

    try:
        return str(load_spec().section("recommend")["promo_type"])
    except (OSError, ValueError, KeyError):
        return None
