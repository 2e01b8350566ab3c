"""What-ifs: one change to a made plan, re-evaluated by the same formula without re-optimising.

A change is written as on the command line:

- `CHANNEL=+20%` (or `CHANNEL@COUNTRY=-10%`): that channel's spend in every week (of one
  country) scaled;
- add `SKU@STORE:WEEK:DISCOUNT[:DAYS[:TYPE]]`: a promotion added; WEEK is the plan's week number
  (1 = the first) or a date inside the week; DAYS default 7; TYPE defaults to the plan's type for
  that SKU, else the promotion spec's recommended type;
- remove `SKU@STORE:WEEK`: the plan's promotions of that SKU and store starting that week.

A what-if does not enforce the plan's bounds: it says which ones the change breaks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from .optimize import PlanOutcome, evaluate_plan, plan_media, plan_promotions
from .types import RECOMMENDED, Plan, PlanRequest, Responses

MEDIA, ADD, REMOVE = "media", "add", "remove"
_MEDIA_FORM = re.compile(r"^\s*([^=@]+?)(?:@([^=]+?))?\s*=\s*([+-]?\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True)
class Change:
    """One what-if change, parsed from its command-line text."""

    kind: str  # media | add | remove
    text: str
    channel: str | None = None
    country: str | None = None
    percent: float = 0.0
    sku: str | None = None
    store_id: str | None = None
    week: str | None = None  # as given: a week number or a date
    discount_pct: float | None = None
    duration_days: int = 7
    promo_type: str | None = None


@dataclass
class WhatIf:
    """The plan before and after the changes, and what the changes broke."""

    before: PlanOutcome
    after: PlanOutcome
    plan: Plan
    notes: list[str] = field(default_factory=list)

    @property
    def revenue_change(self) -> float:
        return self.after.revenue - self.before.revenue

    @property
    def margin_change(self) -> float:
        return self.after.margin - self.before.margin


def parse_media_change(text: str) -> Change:
    match = _MEDIA_FORM.match(text)
    if not match:
        raise ValueError(f"--what-if {text!r} is not CHANNEL=+N% (or CHANNEL@COUNTRY=-N%)")
    channel, country, percent = match.groups()
    if float(percent) < -100:
        raise ValueError(f"--what-if {text!r}: a channel cannot lose more than 100%")
    return Change(MEDIA, text, channel=channel.strip(),
                  country=country.strip() if country else None, percent=float(percent))


def parse_add_promo(text: str) -> Change:
    parts = text.split(":")
    if len(parts) not in (3, 4, 5) or "@" not in parts[0]:
        raise ValueError(f"--add-promo {text!r} is not SKU@STORE:WEEK:DISCOUNT[:DAYS[:TYPE]]")
    sku, store = (p.strip() for p in parts[0].split("@", 1))
    try:
        discount = float(parts[2])
        days = int(parts[3]) if len(parts) > 3 else 7
    except ValueError:
        raise ValueError(f"--add-promo {text!r}: DISCOUNT is a percent and DAYS a whole number "
                         "(e.g. SKU@STORE:3:20:7)") from None
    if not 0 < discount < 100 or days < 1:
        raise ValueError(f"--add-promo {text!r}: the discount must be between 0 and 100% and "
                         "the run at least one day")
    return Change(ADD, text, sku=sku, store_id=store, week=parts[1].strip(),
                  discount_pct=discount, duration_days=days,
                  promo_type=parts[4].strip() if len(parts) > 4 else None)


def parse_remove_promo(text: str) -> Change:
    parts = text.split(":")
    if len(parts) != 2 or "@" not in parts[0]:
        raise ValueError(f"--remove-promo {text!r} is not SKU@STORE:WEEK")
    sku, store = (p.strip() for p in parts[0].split("@", 1))
    return Change(REMOVE, text, sku=sku, store_id=store, week=parts[1].strip())


def what_if(responses: Responses, request: PlanRequest, plan: Plan, changes: list[Change],
            default_promo_type: str | None = None) -> WhatIf:
    """The plan evaluated as it is and with the changes applied (one evaluation each)."""
    changed = Plan(media=plan_media(plan.media, request),
                   promotions=plan_promotions(plan.promotions, request), notes=[])
    notes: list[str] = []
    for change in changes:
        changed = apply_change(changed, request, change, default_promo_type, notes)
    base = responses.base(request)
    return WhatIf(evaluate_plan(responses, request, plan, base),
                  evaluate_plan(responses, request, changed, base), changed, notes)


def apply_change(plan: Plan, request: PlanRequest, change: Change,
                 default_promo_type: str | None, notes: list[str]) -> Plan:
    """The plan with one change; notes say what the change breaks."""
    if change.kind == MEDIA:
        return _scale_channel(plan, request, change, notes)
    week = plan_week(request, change.week or "", change.text)
    promos = plan.promotions
    same = (promos["sku"] == change.sku) & (promos["store_id"] == change.store_id)
    if change.kind == REMOVE:
        hit = same & (promos["week_start"] == week)
        if not hit.any():
            raise ValueError(f"--remove-promo {change.text!r}: the plan has no promotion of "
                             f"{change.sku} in {change.store_id} starting the week of "
                             f"{week:%Y-%m-%d}")
        return Plan(plan.media, promos[~hit].reset_index(drop=True), plan.notes)
    known = promos.loc[same]
    promo_type = change.promo_type or (known["promo_type"].iloc[0] if len(known)
                                       else default_promo_type)
    if not promo_type:
        raise ValueError(f"--add-promo {change.text!r}: name the promotion type "
                         "(SKU@STORE:WEEK:DISCOUNT:DAYS:TYPE)")
    category = _category_of(promos, change.sku)
    added = {"sku": change.sku, "store_id": change.store_id, "week_start": week,
             "discount_pct": change.discount_pct, "duration_days": change.duration_days,
             "promo_type": promo_type, "origin": RECOMMENDED, "category": category}
    overlapping = _overlaps(promos, added)
    if overlapping:
        notes.append(f"{change.text} overlaps {overlapping} in the same store and category: "
                     "a plan would not allow it")
    promos = pd.concat([promos, pd.DataFrame([added])], ignore_index=True)
    return Plan(plan.media, promos, plan.notes)


def plan_week(request: PlanRequest, text: str, change: str) -> pd.Timestamp:
    """The plan's week named by its number (1..weeks) or by a date inside it."""
    weeks = request.week_starts
    if text.isdigit():
        number = int(text)
        if not 1 <= number <= len(weeks):
            raise ValueError(f"{change!r}: week {number} is not in the plan's 1..{len(weeks)}")
        return weeks[number - 1]
    try:
        day = pd.Timestamp(text)
    except ValueError:
        raise ValueError(f"{change!r}: WEEK {text!r} is neither a week number nor a date "
                         "(YYYY-MM-DD)") from None
    inside = weeks[(weeks <= day) & (day < weeks + pd.Timedelta(days=7))]
    if inside.empty:
        raise ValueError(f"{change!r}: {day:%Y-%m-%d} is outside the plan's weeks "
                         f"{weeks[0]:%Y-%m-%d} .. {weeks[-1] + pd.Timedelta(days=6):%Y-%m-%d}")
    return inside[0]


def _scale_channel(plan: Plan, request: PlanRequest, change: Change,
                   notes: list[str]) -> Plan:
    media = plan.media.copy()
    hit = media["channel"] == change.channel
    if change.country is not None:
        hit &= media["country"] == change.country
    if not hit.any():
        where = f" in {change.country}" if change.country else ""
        known = ", ".join(sorted(set(media["channel"]))) or "none"
        raise ValueError(f"--what-if {change.text!r}: the plan has no {change.channel} spend"
                         f"{where} (channels: {known})")
    before = float(media.loc[hit, "spend"].sum())
    media.loc[hit, "spend"] *= 1 + change.percent / 100
    notes.append(f"{change.text}: {change.channel} spend {before:,.0f} -> "
                 f"{float(media.loc[hit, 'spend'].sum()):,.0f} (the total budget moves with it)")
    return Plan(media, plan.promotions, plan.notes)


def _category_of(promos: pd.DataFrame, sku: str) -> str | None:
    if "category" not in promos:
        return None
    known = promos.loc[(promos["sku"] == sku) & promos["category"].notna(), "category"]
    return str(known.iloc[0]) if len(known) else None


def _overlaps(promos: pd.DataFrame, added: dict) -> str:
    """The plan's promotions in the added one's store and category (or SKU) it overlaps."""
    start = added["week_start"]
    end = start + pd.Timedelta(days=added["duration_days"])
    others = promos[promos["store_id"] == added["store_id"]]
    sibling = others["sku"] == added["sku"]
    if added["category"] is not None and "category" in others:
        sibling |= others["category"] == added["category"]
    ends = others["week_start"] + pd.to_timedelta(others["duration_days"], unit="D")
    hit = others[sibling & (others["week_start"] < end) & (ends > start)]
    return ", ".join(f"{r.sku} from {r.week_start:%Y-%m-%d}" for r in hit.itertuples())
