"""The daily service-risk digest: one `service_risk` alert per as-of day, however many
interactions qualify, listing each with its risk and top reasons.

An interaction qualifies when its risk level is one of the spec's `digest.levels` (high) and,
with `repeat_contact_only`, the customer contacted the desk in the 30 days before. One already
listed in an earlier day's digest is not listed again. The alert's entity is the day
(`digest/YYYY-MM-DD`), so the outbox's one-alert-per-state rule makes a rerun of the same day
(same or another run id) leave the one digest it recorded.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Connection, select

from liftline.alerts import record_alert
from liftline.warehouse import table

from .satisfaction_spec import SatisfactionSpec

KIND = "service_risk"
ENTITY_PREFIX = "digest/"
STATE = "sent"
ITEMS_KEY = "items"  # liftline.alerts.message renders a detail list of this name line by line
ITEM_COLUMNS = ["interaction", "risk_pct", "customer", "type", "channel", "opened", "reasons"]
ACTION = "Call back the customers listed, highest risk first, before their case closes."
REPEAT_NOTE = " Each has contacted the desk again within 30 days."


def digest_entity(as_of: date) -> str:
    return f"{ENTITY_PREFIX}{as_of}"


def record_digest(conn: Connection, scores: pd.DataFrame, as_of: date, run_id: str,
                  spec: SatisfactionSpec) -> tuple[str | None, int]:
    """Record the day's digest in the caller's transaction; (alert id or None, listed count)."""
    entity = digest_entity(as_of)
    due = qualifying(scores, spec)
    due = due[~due.interaction_id.isin(already_listed(conn, exclude=entity))]
    if due.empty:
        return None, 0
    due = due.sort_values(["p_low_satisfaction", "interaction_id"], ascending=[False, True])
    settings = spec.section("digest")
    items = [_item(row) for row in due.itertuples(index=False)]
    details = {"as_of": str(as_of), "interactions": len(items),
               "highest_risk_pct": round(100 * float(due.p_low_satisfaction.max()), 1),
               "model_version": str(due.model_version.iloc[0]),
               "max_listed": int(settings["max_listed"]),
               "action": ACTION + (REPEAT_NOTE if settings["repeat_contact_only"] else ""),
               "item_columns": ITEM_COLUMNS, ITEMS_KEY: items}
    noun = "interaction" if len(items) == 1 else "interactions"
    which = "repeat-contact " if settings["repeat_contact_only"] else ""
    levels = "/".join(settings["levels"])
    alert_id = record_alert(
        conn, kind=KIND, entity_key=entity, severity=str(settings["severity"]),
        title=f"Service risk digest {as_of}: {len(items)} {which}{noun} at {levels} risk",
        details=details, state=STATE, run_id=run_id)
    return alert_id, len(items) if alert_id else 0


def qualifying(scores: pd.DataFrame, spec: SatisfactionSpec) -> pd.DataFrame:
    """The scored interactions the digest is about (before removing those already listed)."""
    settings = spec.section("digest")
    keep = scores.risk_level.isin(list(settings["levels"]))
    if settings["repeat_contact_only"]:
        keep &= scores.repeat_contact.astype(bool)
    return scores.loc[keep]


def already_listed(conn: Connection, exclude: str) -> set[str]:
    """Interaction ids listed by the digests of other days."""
    alerts = table("ops_alerts")
    query = select(alerts.c.details_json).where(
        alerts.c.kind == KIND, alerts.c.entity_key.like(f"{ENTITY_PREFIX}%"),
        alerts.c.entity_key != exclude)
    listed = set()
    for (text,) in conn.execute(query):
        try:
            items = json.loads(text or "{}").get(ITEMS_KEY) or []
        except (TypeError, ValueError, AttributeError):
            continue  # a hand-edited row: it lists nothing we can read
        listed |= {str(item.get("interaction")) for item in items if isinstance(item, dict)}
    return listed


def _item(row: Any) -> dict[str, Any]:
    """One listed interaction (the message shows its keys in ITEM_COLUMNS order)."""
    return {"interaction": row.interaction_id, "customer": row.customer_id,
            "risk_pct": round(100 * float(row.p_low_satisfaction), 1),
            "type": row.interaction_type, "channel": row.channel,
            "opened": pd.Timestamp(row.opened_at).strftime("%Y-%m-%d %H:%M"),
            "reasons": "; ".join(json.loads(row.top_reasons or "[]"))}
