"""Freshness per source: has each extract arrived as often as the contract says it should?

A source's last delivery is the latest `received_at` (the file's modification time when it
landed) of its files that ingest `loaded` or loaded in `partial` (a quarantined file delivered
nothing usable). A source is `stale` when that is longer ago than its
`expected_every_days` (`liftline.contract`): one `stale_source` alert (warning) the first
time, none while it stays silent, and an `ok` follow-up when it delivers again. Sources that
have never delivered, or whose cadence is not stated (dimensions, calendars), are not judged.

"Now" is the wall clock (UTC), not the data's as-of date: a delivery is late in real time.
Tests and replays pass `now`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select

from liftline.alerts import latest_states, naive_utc
from liftline.contract import SOURCES
from liftline.warehouse import read_frame, table

from .states import OK, Log, plain, record_change

KIND = "stale_source"
STALE = "stale"
DELIVERED = ("loaded", "partial")


def check_freshness(engine: Engine, run_id: str, as_of: date | str | None = None,
                    log: Log = print, link: str | None = None,
                    now: datetime | None = None) -> dict[str, Any]:
    """Judge every delivered source against its cadence; `stale_source` on a change.

    `as_of` is accepted for the same signature as the other checks and not used: freshness is
    about the wall clock (`now`, default the current UTC time).
    """
    moment = naive_utc(now)
    last = last_deliveries(engine)
    previous = latest_states(engine, KIND)
    judged, alerts = [], 0
    for name, received in sorted(last.items()):
        cadence = SOURCES[name].expected_every_days if name in SOURCES else None
        if cadence is None:
            continue
        silent = moment - received
        found = {"source": name, "last_delivery": received.isoformat(timespec="seconds"),
                 "days_since": round(silent / timedelta(days=1), 2),
                 "expected_every_days": cadence,
                 "status": STALE if silent > timedelta(days=cadence) else OK}
        judged.append(found)
        alerts += record_change(engine, kind=KIND, entity_key=name, state=found["status"],
                                severity="warning", title=stale_title(found),
                                details=stale_details(found), run_id=run_id, link=link,
                                log=log, previous=previous.get(name), now=moment)
    stale = [f["source"] for f in judged if f["status"] == STALE]
    log(f"freshness at {moment:%Y-%m-%d %H:%M} UTC: {len(judged)} source(s) judged, "
        f"stale: {', '.join(stale) or 'none'}")
    return plain({"status": "ok", "now": moment.isoformat(timespec="seconds"),
                  "sources": judged, "stale": stale, "alerts": alerts})


def last_deliveries(engine: Engine) -> dict[str, datetime]:
    """Each source's latest delivery that loaded rows (naive UTC)."""
    log_ = table("ops_ingest_log")
    rows = read_frame(engine, select(log_.c.source, func.max(log_.c.received_at).label("last"))
                      .where(log_.c.status.in_(DELIVERED), log_.c.received_at.isnot(None))
                      .group_by(log_.c.source))
    return {str(r.source): pd.Timestamp(r.last).to_pydatetime()
            for r in rows.itertuples(index=False)}


def stale_title(found: dict[str, Any]) -> str:
    if found["status"] == OK:
        return (f"{found['source']}: delivering again (last file {found['last_delivery']} "
                "UTC)")
    return (f"{found['source']}: no delivery for {found['days_since']:.1f} days (expected "
            f"every {found['expected_every_days']} days)")


def stale_details(found: dict[str, Any]) -> dict[str, Any]:
    details = {"source": found["source"], "last_delivery": f"{found['last_delivery']} UTC",
               "silent_for": f"{found['days_since']:.1f} days",
               "expected_every": f"{found['expected_every_days']} days"}
    if found["status"] == OK:
        details["action"] = "No action needed: the source is delivering again."
    return details

