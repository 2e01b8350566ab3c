"""Stale models: a champion trained on data older than its spec allows.

A champion's age is the days from the last day of data it was trained on (its card's
`data_end`; its training time when that is unknown) to the as-of date (default: the features'
as-of), so replaying a past day judges the champion of that day against that day. A champion
older than its spec's `lifecycle.max_age_days` (default 21) is `stale`: one `stale_model`
alert (warning) until a newer version becomes champion, then an `ok` follow-up. Training
normally replaces a champion every `retrain_every_days` (7); a stale one means training failed,
was skipped, or its challengers kept losing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from liftline.alerts import latest_states
from liftline.modeling import resolve_as_of
from liftline.registry import champion, lifecycle

from .states import OK, Log, family_of, plain, record_change, served_models

KIND = "stale_model"
STALE = "stale"


def check_stale_models(engine: Engine, run_id: str, as_of: date | str | None = None,
                       log: Log = print, link: str | None = None) -> dict[str, Any]:
    """Age of every champion against its spec's max_age_days; `stale_model` on a change."""
    day = resolve_as_of(engine, as_of, log)
    if day is None:
        log("stale-model check skipped: no sales features yet (deliver pos and build features)")
        return {"status": "skipped", "reason": "no sales features", "models": [], "alerts": 0}
    previous = latest_states(engine, KIND)
    judged, alerts = [], 0
    for name in served_models(engine):
        found = model_age(engine, name, day)
        judged.append(found)
        if found["status"] not in (STALE, OK):
            log(f"model age {name}: not judged ({found['reason']})")
            continue
        alerts += record_change(engine, kind=KIND, entity_key=name, state=found["status"],
                                severity="warning", title=stale_model_title(found),
                                details=stale_model_details(found), run_id=run_id, link=link,
                                log=log, previous=previous.get(name))
    stale = [f["model"] for f in judged if f["status"] == STALE]
    log(f"model age as of {day}: {len(judged)} model(s), stale: {', '.join(stale) or 'none'}")
    return plain({"status": "ok", "as_of": str(day), "models": judged, "stale": stale,
                  "alerts": alerts})


def model_age(engine: Engine, name: str, day: date) -> dict[str, Any]:
    """The champion of `name` at `day`, its age in days and whether it is stale."""
    version = champion(engine, name, day)
    if version is None:
        return {"model": name, "status": "not_judged", "reason": f"no champion as of {day}"}
    trained_on = version.data_end if version.data_end is not None else version.trained_at
    if trained_on is None or pd.isna(trained_on):
        return {"model": name, "version": version.version, "status": "not_judged",
                "reason": "its registry row has neither data_end nor trained_at"}
    data_end = pd.Timestamp(trained_on).date()
    age = (day - data_end).days
    limit = lifecycle(family_of(name)).max_age_days
    return {"model": name, "version": version.version, "data_end": str(data_end),
            "age_days": age, "max_age_days": limit, "status": STALE if age > limit else OK}


def stale_model_title(found: dict[str, Any]) -> str:
    if found["status"] == OK:
        return (f"{found['model']}: champion {found['version']} is current again (data to "
                f"{found['data_end']}, {found['age_days']} days old)")
    return (f"{found['model']}: champion {found['version']} was trained on data to "
            f"{found['data_end']}, {found['age_days']} days old (limit {found['max_age_days']})")


def stale_model_details(found: dict[str, Any]) -> dict[str, Any]:
    details = {"model": found["model"], "version": found["version"],
               "trained_on_data_to": found["data_end"], "age": f"{found['age_days']} days",
               "age_limit": f"{found['max_age_days']} days"}
    if found["status"] == OK:
        details["action"] = "No action needed: a recently trained version is champion."
    return details
