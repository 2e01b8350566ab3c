"""How an alert reads: Slack Block Kit blocks, and the one-line text for logs and notifications.

Pure functions of an `ops_alerts` row (a mapping), so the wording is testable without Slack.
Block Kit rejects a whole message when one limit is exceeded, so every text is truncated to
its limit here rather than trusted.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .chart import CHART_KEY
from .links import ReportLink, ReportLinks
from .outbox import PROGRESS_KEY

# Block Kit limits (docs.slack.dev/reference/block-kit): a header's text, a section's text,
# a section's fields (count and each text).
HEADER_MAX = 150
SECTION_TEXT_MAX = 3000
FIELDS_MAX = 10
FIELD_TEXT_MAX = 2000
# Notification and log text: long enough for the key numbers, short enough to read.
SUMMARY_MAX = 1000

SEVERITY_EMOJI = {
    "info": ":information_source:",
    "warning": ":warning:",
    "critical": ":rotating_light:",
}

# Detail keys with a role of their own; every other scalar detail is a key number.
ACTION_KEY = "action"
LINK_KEY = "link"
# A digest's entries (a list of mappings, one line each), the order of their keys on the line
# (the outbox stores details with sorted keys) and how many entries to show.
ITEMS_KEY = "items"
# The order of the key numbers (details are stored with sorted keys); unlisted ones follow.
FIELD_ORDER_KEY = "field_order"
ITEM_COLUMNS_KEY = "item_columns"
MAX_LISTED_KEY = "max_listed"
ITEMS_SHOWN = 25
# A chart to attach (alerts.chart) and delivery's own progress (alerts.outbox) are not content.
_RESERVED_KEYS = frozenset({ACTION_KEY, LINK_KEY, MAX_LISTED_KEY, CHART_KEY, FIELD_ORDER_KEY,
                            PROGRESS_KEY})
# Key suffix -> unit, longest first: `_change_pct` is a signed relative change.
_UNIT_SUFFIXES = (("_change_pct", "+%"), ("_pct", "%"), ("_pp", "pp"))

DEFAULT_ACTIONS = {
    "lift_divergence": (
        "Compare how the promotion ran (discount, SKUs, stores, dates) with what was planned, "
        "then check the lift model's recent accuracy in the report before planning similar "
        "promotions."
    ),
    "forecast_drop": (
        "Check recent sales and stock for this series (stock-outs, closures, late POS "
        "deliveries) before acting on the lower forecast."
    ),
    "data_quality": (
        "Read the quarantined file's .reason.json, fix the extract at its source and deliver "
        "it again to landing/."
    ),
    "drift": (
        "Check whether the listed inputs moved for a real reason (new stores, a change in the "
        "promotion or media plan) or because of a data problem (a late or partial delivery); "
        "if the shift is real, retrain the model (trigger train_models)."
    ),
    "model_degraded": (
        "Realised error is well above the model's backtest: look for a break in the recent "
        "data (late deliveries, new stores, closures), then retrain (trigger train_models) or "
        "roll back to the previous version (`liftline models rollback MODEL`)."
    ),
    "service_risk": (
        "Reach out to the customers at risk listed in the report, highest risk first."
    ),
    "stale_source": (
        "Ask the owner of this extract why nothing has arrived (deliveries go to "
        "landing/<source>/); until it does, features and models use its older data."
    ),
    "stale_model": (
        "Trigger train_models for this model and check why scheduled training has not "
        "replaced it (a failed or skipped run, or challengers that did not beat it)."
    ),
    "pipeline_failure": (
        "Read the task's log (link below), fix the cause, then clear the task in the Airflow UI "
        "to rerun it: its retries are used up."
    ),
    "calibration_conflict": (
        "The mix model cannot match these lift tests within their standard errors. Check the "
        "tests first (window, spend, channel name, a standard error too small for the design); "
        "two tests of one channel that disagree cannot both be right. Until resolved, treat the "
        "channel's ROI and budget advice as unreliable."
    ),
    "weekly_summary": (
        "Read the week's decisions in the report's headline; it has the detail behind each "
        "number."
    ),
    "plan_summary": (
        "Review the plan's media by channel and its promotions in ml_plan (or `liftline plan "
        "--what-if` to try a change) before committing budgets; the interval is the forecast's, "
        "so treat a plan whose lower bound is below business as usual as a close call."
    ),
    "plan_deviation": (
        "If execution departed (spend or promotions not as planned), bring it back or re-plan "
        "with `liftline plan` from next Monday; if the plan was executed and sales still left "
        "its interval, check the forecast and drift alerts before trusting the rest of the plan."
    ),
}
_FALLBACK_ACTION = "Open the report and the Airflow run for details."


def format_blocks(
    alert: Mapping[str, Any], links: ReportLinks | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """The notification text and Block Kit blocks of an `ops_alerts` row.

    Blocks: a header with the title, a section with severity, kind, entity and up to ten key
    numbers, the digest's entries (details["items"], one line each, in sections of at most
    SECTION_TEXT_MAX characters), a "What to do" section (details["action"] or a default for
    the kind), and a context line with the report section the kind refers to (`links`, default
    from the settings) and the Airflow link (details["link"]) when there is one.
    """
    links = links or ReportLinks.from_settings()
    details = alert_details(alert)
    severity = str(alert.get("severity") or "info")
    emoji = SEVERITY_EMOJI.get(severity, SEVERITY_EMOJI["info"])
    title = str(alert.get("title") or _kind_label(alert.get("kind")))
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _truncate(f"{emoji} {title}", HEADER_MAX),
                "emoji": True,
            },
        },
        _overview_section(alert, details, emoji),
        *_item_sections(details),
        _section(f"*What to do*\n{_escape(action_for(alert, details))}"),
    ]
    context = _context_elements(alert, details, links.for_kind(alert.get("kind")))
    if context:
        blocks.append({"type": "context", "elements": context})
    return alert_summary(alert, links), blocks


def alert_summary(alert: Mapping[str, Any], links: ReportLinks | None = None) -> str:
    """One plain line: severity, kind, entity, title, key numbers, what to do, links."""
    links = links or ReportLinks.from_settings()
    details = alert_details(alert)
    parts = [
        f"[{str(alert.get('severity') or 'info').upper()}] {alert.get('kind')} "
        f"{alert.get('entity_key')}: {alert.get('title')}"
    ]
    numbers = key_numbers(details)
    if numbers:
        parts.append(", ".join(f"{label}: {value}" for label, value in numbers))
    lines = item_lines(details, markdown=False)
    if lines:
        parts.append("; ".join(lines))
    parts.append(f"what to do: {action_for(alert, details)}")
    report = links.for_kind(alert.get("kind"))
    if report is not None:
        parts.append(f"report: {report.url or report.path}")
    if details.get(LINK_KEY):
        parts.append(str(details[LINK_KEY]))
    return _truncate(_one_line(" | ".join(parts)), SUMMARY_MAX)


def alert_details(alert: Mapping[str, Any]) -> dict[str, Any]:
    """The row's details as a dict (its `details` mapping, else parsed `details_json`)."""
    details = alert.get("details")
    if isinstance(details, Mapping):
        return dict(details)
    raw = alert.get("details_json")
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except (TypeError, ValueError):
        # A hand-edited or truncated row must still be deliverable: show what is there.
        return {"details": str(raw)}
    return parsed if isinstance(parsed, dict) else {"details": parsed}


def action_for(alert: Mapping[str, Any], details: Mapping[str, Any]) -> str:
    """What the reader should do: details["action"], else the default for the alert's kind."""
    action = details.get(ACTION_KEY)
    if isinstance(action, str) and action.strip():
        return action.strip()
    return DEFAULT_ACTIONS.get(str(alert.get("kind")), _FALLBACK_ACTION)


def key_numbers(details: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, formatted value) of the scalar details, at most FIELDS_MAX, in details order.

    A key ending in `_pct` is shown as a percentage, `_change_pct` as a signed one and `_pp` as
    signed percentage points, with the suffix dropped from the label ("actual_lift_pct" ->
    "Actual lift", "3.1%"). details["field_order"] lists the keys to show first.
    """
    numbers = []
    order = details.get(FIELD_ORDER_KEY)
    first = [key for key in order if key in details] if isinstance(order, list) else []
    keys = [*first, *(key for key in details if key not in first)]
    for key in keys:
        value = details[key]
        if key in _RESERVED_KEYS or not _is_scalar(value):
            continue
        numbers.append(_labelled(str(key), value))
        if len(numbers) == FIELDS_MAX:
            break
    return numbers


def item_lines(details: Mapping[str, Any], markdown: bool = True) -> list[str]:
    """One line per entry of details["items"] (at most details["max_listed"], default
    ITEMS_SHOWN, then a line saying how many more). Keys come in the order of
    details["item_columns"] (else the entry's own): the first value names the entry, the
    others follow as "Label value", formatted like the key numbers."""
    items = [item for item in details.get(ITEMS_KEY) or [] if isinstance(item, Mapping)]
    shown = details.get(MAX_LISTED_KEY)
    shown = shown if isinstance(shown, int) and shown > 0 else ITEMS_SHOWN
    columns = details.get(ITEM_COLUMNS_KEY)
    lines = []
    for item in items[:shown]:
        keys = [k for k in columns if k in item] if isinstance(columns, list) else list(item)
        pairs = [_labelled(str(key), item[key]) for key in keys if _is_scalar(item[key])]
        if not pairs:
            continue
        name = pairs[0][1]
        rest = " · ".join(f"{label} {value}" for label, value in pairs[1:])
        if markdown:
            lines.append(f"• `{_code(name)}` · {_escape(rest)}" if rest else f"• `{_code(name)}`")
        else:
            lines.append(f"{name} ({rest})" if rest else name)
    if len(items) > shown:
        lines.append(f"… and {len(items) - shown} more")
    return lines


def format_value(value: Any, unit: str = "") -> str:
    """A detail value for people: thousands separators, few decimals, % and pp units."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, int | float):
        return str(value)
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "+%":
        return f"{value:+.1f}%"
    if unit == "pp":
        return f"{value:+.1f} pp"
    if isinstance(value, int) or value.is_integer():
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def _overview_section(
    alert: Mapping[str, Any], details: Mapping[str, Any], emoji: str
) -> dict[str, Any]:
    severity = str(alert.get("severity") or "info").capitalize()
    overview = (
        f"{emoji} *{severity}* · {_kind_label(alert.get('kind'))} · "
        f"`{_code(alert.get('entity_key'))}`"
    )
    section = _section(overview)
    fields = [
        {
            "type": "mrkdwn",
            "text": _truncate(f"*{_escape(label)}*\n{_escape(value)}", FIELD_TEXT_MAX),
        }
        for label, value in key_numbers(details)
    ]
    if fields:  # an empty fields list is invalid Block Kit
        section["fields"] = fields
    return section


def _item_sections(details: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The entries' lines, packed into as few sections as their text limit allows."""
    sections: list[dict[str, Any]] = []
    text = ""
    for line in item_lines(details):
        line = _truncate(line, SECTION_TEXT_MAX)
        if text and len(text) + 1 + len(line) > SECTION_TEXT_MAX:
            sections.append(_section(text))
            text = ""
        text = f"{text}\n{line}" if text else line
    if text:
        sections.append(_section(text))
    return sections


def _context_elements(
    alert: Mapping[str, Any], details: Mapping[str, Any], report: ReportLink | None
) -> list[dict]:
    elements = []
    if report is not None and report.url:
        elements.append({"type": "mrkdwn",
                         "text": f"<{_safe_url(report.url)}|Open the report: {report.title}>"})
    elif report is not None:
        elements.append({"type": "mrkdwn", "text": _truncate(
            f"Report: {_escape(report.title)} in `{_code(report.path)}`", SECTION_TEXT_MAX)})
    link = details.get(LINK_KEY)
    if isinstance(link, str) and re.match(r"https?://", link):
        elements.append({"type": "mrkdwn", "text": f"<{_safe_url(link)}|Open the Airflow run>"})
    facts = []
    if alert.get("run_id"):
        facts.append(f"run `{_code(alert['run_id'])}`")
    created_at = alert.get("created_at")
    if isinstance(created_at, datetime):
        facts.append(f"{created_at:%Y-%m-%d %H:%M} UTC")
    if alert.get("alert_id"):
        facts.append(f"alert `{_code(str(alert['alert_id'])[:8])}`")
    if facts:
        elements.append({"type": "mrkdwn", "text": _truncate(" · ".join(facts), SECTION_TEXT_MAX)})
    return elements


def _section(mrkdwn: str) -> dict[str, Any]:
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": _truncate(mrkdwn, SECTION_TEXT_MAX)},
    }


def _labelled(key: str, value: Any) -> tuple[str, str]:
    unit = ""
    for suffix, suffix_unit in _UNIT_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            key, unit = key[: -len(suffix)], suffix_unit
            break
    label = key.replace("_", " ").strip().capitalize()
    return label, format_value(value, unit)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _kind_label(kind: Any) -> str:
    return str(kind or "alert").replace("_", " ").capitalize()


def _escape(text: str) -> str:
    # The three characters Slack's mrkdwn treats as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(value: Any) -> str:
    # Inside `code`, a backtick would end the span early.
    return _escape(str(value)).replace("`", "'")


def _safe_url(url: str) -> str:
    # `<url|label>` ends at "|" or ">", so those (and spaces) must be percent-encoded.
    return url.replace(" ", "%20").replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
