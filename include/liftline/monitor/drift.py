"""Input drift: how far each champion's recent inputs moved from what it was trained on.

Every champion's model card carries the profile of its training inputs (`profile_inputs`,
captured when it was trained: the feature table, the columns, the rows it serves, the window
length to compare). This check reads the same columns of the same feature table over that
window up to the as-of date (28 days for the forecast, 91 for the lift model), for the same
rows (e.g. the model's stores), and computes each column's population stability index (PSI)
against the training profile.

A column drifts when its PSI exceeds both the spec's `lifecycle.drift_psi` (default 0.25) and
`REFERENCE_MARGIN` (1.5) times its `reference_psi`: the largest PSI any window of the same
length inside the training data showed. Promotions, media flights and holidays come in bursts,
so an ordinary month of them already has a PSI of several units against the long run; only a
move well beyond what the model has seen counts. A model with a drifting column is
`drifting`: one `drift` alert (warning) names the features with their PSIs and limits. It
stays drifting until every column is back within max(drift_psi, reference_psi) (hysteresis,
so a column hovering at its limit does not flap), then an `ok` follow-up is recorded.

Not judged (reported with the reason, no alert): a model without a profile (trained before
profiles existed, or a family that records none), and a window with fewer than `MIN_ROWS` rows.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from liftline.alerts import latest_states
from liftline.modeling import MIN_BLOCK_ROWS, WINDOW_DAYS, column_psi, resolve_as_of
from liftline.registry import Version, champion, lifecycle
from liftline.warehouse import read_frame, table

from .states import OK, Log, family_of, plain, record_change, served_models

KIND = "drift"
DRIFTING = "drifting"
MIN_ROWS = MIN_BLOCK_ROWS  # fewer rows in the window: the PSI would mostly measure noise
# A column starts drifting above this multiple of its training windows' largest PSI (measured
# on the small world: ordinary windows months after training reach up to ~1.4 times it).
REFERENCE_MARGIN = 1.5


def check_drift(engine: Engine, run_id: str, as_of: date | str | None = None, log: Log = print,
                link: str | None = None, window_days: int | None = None) -> dict[str, Any]:
    """PSI of every champion's inputs over the recent window; `drift` alerts on a change.

    `window_days` overrides the window each profile was made for (default 28 days)."""
    day = resolve_as_of(engine, as_of, log)
    if day is None:
        log("drift check skipped: no sales features yet (deliver pos and build features)")
        return {"status": "skipped", "reason": "no sales features", "models": [], "alerts": 0}
    previous = latest_states(engine, KIND)
    judged, alerts = [], 0
    for name in served_models(engine):
        found = model_drift(engine, name, day, window_days,
                            drifting_before=previous.get(name) == DRIFTING)
        judged.append(found)
        if found["status"] not in (DRIFTING, OK):
            log(f"drift {name}: not judged ({found['reason']})")
            continue
        log(f"drift {name}: {found['status']} (PSI {_listed(found['psi'])}; "
            f"{found['rows']} rows {found['window']})")
        alerts += record_change(engine, kind=KIND, entity_key=name, state=found["status"],
                                severity="warning", title=drift_title(found),
                                details=drift_details(found), run_id=run_id, link=link,
                                log=log, previous=previous.get(name))
    return plain({"status": "ok", "as_of": str(day), "models": judged, "alerts": alerts})


def model_drift(engine: Engine, name: str, day: date, window_days: int | None = None,
                drifting_before: bool = False) -> dict[str, Any]:
    """One model's verdict: status (drifting / ok / a reason it is not judged) and PSIs.

    `drifting_before`: its last alert said drifting, so it recovers only within the
    reference (without the margin)."""
    out: dict[str, Any] = {"model": name}
    version = champion(engine, name, day)
    if version is None:
        return {**out, "status": "not_judged", "reason": f"no champion as of {day}"}
    out["version"] = version.version
    profile = _profile(version)
    if not profile.get("columns") or not profile.get("table"):
        return {**out, "status": "not_judged", "reason": "its model card has no input profile"}
    window_days = window_days or int(profile.get("window_days") or WINDOW_DAYS)
    start = day - timedelta(days=window_days - 1)
    try:
        rows = recent_rows(engine, profile, start, day)
    except ValueError as exc:  # a profile naming a table or column the warehouse lacks
        return {**out, "status": "not_judged", "reason": str(exc)}
    out.update(window=f"{start} to {day}", rows=len(rows),
               training_window=_window(profile.get("window") or {}))
    if len(rows) < MIN_ROWS:
        return {**out, "status": "not_judged",
                "reason": f"{len(rows)} rows in the window, fewer than {MIN_ROWS}"}
    psis = {column: column_psi(spec, rows[column])
            for column, spec in profile["columns"].items() if column in rows}
    floor = lifecycle(family_of(name)).drift_psi
    margin = 1.0 if drifting_before else REFERENCE_MARGIN
    limits = {c: max(floor, margin * (profile["columns"][c].get("reference_psi") or 0.0))
              for c in psis}
    drifting = {c: v for c, v in sorted(psis.items(), key=lambda kv: -(kv[1] or 0.0))
                if v is not None and v > limits[c]}
    return {**out, "status": DRIFTING if drifting else OK, "threshold_psi": floor,
            "drifting": drifting, "psi": psis, "limits": limits}


def recent_rows(engine: Engine, profile: dict[str, Any], start: date, end: date
                ) -> pd.DataFrame:
    """The profiled columns of the profile's feature table, rows dated start..end in scope."""
    feat = table(profile["table"])
    dated = profile.get("date_column") or "date"
    unknown = [c for c in [dated, *profile.get("scope", {})] if c not in feat.c]
    if unknown:
        raise ValueError(f"{profile['table']} has no column {unknown[0]!r} named by the profile")
    columns = [feat.c[c] for c in profile["columns"] if c in feat.c]
    query = select(*columns).where(feat.c[dated] >= start, feat.c[dated] <= end)
    for column, allowed in (profile.get("scope") or {}).items():
        query = query.where(feat.c[column].in_(list(allowed)))
    return read_frame(engine, query)


def drift_title(found: dict[str, Any]) -> str:
    if found["status"] == OK:
        return (f"{found['model']}: inputs back within their limits "
                f"({found['window']} against the training data)")
    return (f"{found['model']}: {len(found['drifting'])} input(s) drifted from the training "
            f"data: {_listed(found['drifting'], found['limits'])}")


def drift_details(found: dict[str, Any]) -> dict[str, Any]:
    details = {
        "model": found["model"],
        "version": found["version"],
        "drifting_features": _listed(found["drifting"], found["limits"]) or "none",
        "window": found["window"],
        "training_window": found["training_window"],
        "rows": found["rows"],
        "psi": {c: None if v is None else round(v, 4) for c, v in found["psi"].items()},
        "limits": {c: round(v, 4) for c, v in found["limits"].items()},
    }
    if found["status"] == OK:
        details["action"] = "No action needed: the model's inputs look like its training data again."
    return details


def _profile(version: Version) -> dict[str, Any]:
    try:
        return version.card().inputs or {}
    except (FileNotFoundError, OSError, ValueError, TypeError):
        return {}  # an artifact that cannot be read has no usable profile


def _listed(psis: dict[str, float | None], limits: dict[str, float] | None = None) -> str:
    def one(column: str, value: float | None) -> str:
        text = f"{column} PSI " + ("n/a" if value is None else f"{value:.2f}")
        return f"{text} (limit {limits[column]:.2f})" if limits else text
    return ", ".join(one(c, v) for c, v in psis.items())


def _window(window: dict[str, Any]) -> str:
    return f"{window.get('start')} to {window.get('end')}"
