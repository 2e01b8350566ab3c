"""Data quality and model health: what ingest loaded, set aside and why; which champions score,
how old they are, and the open drift / degradation / staleness alerts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from liftline import registry
from liftline.report import charts
from liftline.report import formatting as fmt
from liftline.report.model import Plot, Section, Table
from liftline.report.sources import absent, has_table, read_rows
from liftline.warehouse import table

STATUS_COLOURS = {"loaded": charts.GREEN, "partial": charts.ORANGE, "quarantined": charts.RED}
MODEL_ALERTS = ("drift", "model_degraded", "stale_model", "stale_source")
PROBLEM_FILES = 12
INGEST_WINDOW = pd.Timedelta(days=30)  # deliveries shown, back from the latest one


@dataclass
class HealthData:
    as_of: date | None
    ingest: pd.DataFrame  # ops_ingest_log
    champions: pd.DataFrame  # one row per model: champion, trained_at, data_end, limit
    open_alerts: pd.DataFrame  # latest model-health alert per entity whose state is not ok
    missing: list[str] = field(default_factory=list)


def gather_health(engine: Engine, as_of: date | None) -> HealthData:
    missing = []
    ingest = read_rows(engine, "ops_ingest_log", columns=(
        "source", "file_name", "rows_in", "rows_loaded", "rows_rejected", "status", "reason",
        "received_at"))
    if not ingest.empty and ingest["received_at"].notna().any():
        # The deliveries of the last month, not every file since the pipeline started.
        received = pd.to_datetime(ingest["received_at"])
        ingest = ingest[received.isna() | (received > received.max() - INGEST_WINDOW)]
    if ingest.empty:
        missing.append(absent(engine, "ops_ingest_log", "deliveries",
                              "Drop extracts into landing/<source>/ and run `liftline run`."))
    listed = registry.models(engine) if has_table(engine, "ml_model_registry") else pd.DataFrame()
    if listed.empty:
        missing.append(absent(engine, "ml_model_registry", "registered models",
                              "Models register here when `liftline run` trains them."))
    else:
        limits = {family: registry.lifecycle(family).max_age_days
                  for family in {m.split("/")[0] for m in listed["model"]}}
        listed["max_age_days"] = [limits[m.split("/")[0]] for m in listed["model"]]
    return HealthData(as_of, ingest, listed, _open_model_alerts(engine), missing)


def _open_model_alerts(engine: Engine) -> pd.DataFrame:
    alerts = table("ops_alerts")
    rows = read_rows(engine, "ops_alerts", alerts.c.kind.in_(MODEL_ALERTS), columns=(
        "kind", "entity_key", "severity", "title", "created_at", "state"))
    if rows.empty:
        return rows
    latest = rows.sort_values("created_at").drop_duplicates(["kind", "entity_key"], keep="last")
    return latest[latest["state"].fillna("") != "ok"].sort_values("created_at", ascending=False)


def health_section(data: HealthData) -> Section:
    section = Section("health", "Data quality and model health")
    for text in data.missing:
        section.missing(text)
    if not data.ingest.empty:
        section.say(*_ingest_sentences(data.ingest))
        section.add(Plot("ingest_status", _ingest_figure(data.ingest)))
        problems = data.ingest[data.ingest["status"] != "loaded"]
        if not problems.empty:
            section.add(_problem_table(problems))
    if not data.champions.empty:
        section.say(*_model_sentences(data))
        section.add(Plot("model_age", _age_figure(data)))
        section.add(_champion_table(data))
    if not data.open_alerts.empty:
        section.add(Table(
            ["kind", "about", "severity", "raised", "what"],
            [[str(r.kind).replace("_", " "), str(r.entity_key), str(r.severity or ""),
              _when(r.created_at), str(r.title or "")] for r in data.open_alerts.itertuples()],
            "Open model-health alerts (drift, degraded accuracy, stale models or sources)"))
    return section


def _ingest_sentences(ingest: pd.DataFrame) -> list[str]:
    counts = ingest["status"].value_counts()
    rejected = ingest["rows_rejected"].fillna(0).sum()
    if counts.get("loaded", 0) == len(ingest):
        return [f"{fmt.plural(len(ingest), 'file')} received in the 30 days to the latest "
                "delivery, all loaded whole: no row was rejected."]
    out = [f"{fmt.plural(len(ingest), 'file')} received in the 30 days to the latest delivery: "
           f"{fmt.count(counts.get('loaded', 0))} "
           f"loaded whole, {fmt.count(counts.get('partial', 0))} partly "
           f"({fmt.count(rejected)} rows set aside in all), "
           f"{fmt.count(counts.get('quarantined', 0))} quarantined."]
    if counts.get("quarantined", 0):
        out.append("A quarantined file's data is not in any figure of this report until a "
                   "corrected file is delivered; why each was refused is listed below and in "
                   "quarantine/<source>/<file>.reason.json.")
    return out


def _ingest_figure(ingest: pd.DataFrame) -> dict[str, Any]:
    counts = pd.crosstab(ingest["source"], ingest["status"])
    traces = [charts.bar(counts.index, counts[status], status,
                         STATUS_COLOURS.get(status, charts.GREY))
              for status in (*STATUS_COLOURS, *(c for c in counts if c not in STATUS_COLOURS))
              if status in counts]
    return charts.figure(traces, charts.layout("Files received by source", "", "files",
                                               barmode="stack", height=320))


def _problem_table(problems: pd.DataFrame) -> Table:
    rows = problems.sort_values(["status", "received_at"], ascending=[False, False])
    return Table(["file", "source", "outcome", "rows rejected", "why"],
                 [[str(r.file_name), str(r.source), str(r.status),
                   f"{fmt.count(r.rows_rejected)} of {fmt.count(r.rows_in)}"
                   if fmt.known(r.rows_in) and r.rows_in else "file unreadable",
                   _short(r.reason)] for r in rows.head(PROBLEM_FILES).itertuples()],
                 f"Files quarantined or partly rejected (up to {PROBLEM_FILES}, quarantined "
                 "first)")


def _short(text: Any, limit: int = 160) -> str:
    text = "" if text is None or (isinstance(text, float) and pd.isna(text)) else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(value: Any) -> str:
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M") if pd.notna(value) else ""


def _age_days(data: HealthData) -> pd.Series:
    ref = pd.Timestamp(data.as_of) if data.as_of else pd.Timestamp.now().normalize()
    return (ref - pd.to_datetime(data.champions["champion_data_end"])).dt.days


def _model_sentences(data: HealthData) -> list[str]:
    models = data.champions
    without = models[models["champion"].isna()]
    age = _age_days(data)
    stale = models[(age > models["max_age_days"]).fillna(False)]
    out = [f"{fmt.plural(len(models) - len(without), 'model')} of {len(models)} "
           f"{'has' if len(models) - len(without) == 1 else 'have'} a champion scoring"
           + (f"; without one: {', '.join(without['model'])}" if not without.empty else "")
           + "."]
    if not stale.empty:
        out.append(f"Older than their limit (retrain them): {', '.join(stale['model'])}.")
    if data.open_alerts.empty:
        out.append("No drift, degraded-accuracy or staleness alert is open.")
    else:
        kinds = data.open_alerts["kind"].value_counts()
        out.append("Open alerts: " + ", ".join(f"{n} {k.replace('_', ' ')}"
                                               for k, n in kinds.items()) + ".")
    return out


def _age_figure(data: HealthData) -> dict[str, Any]:
    models = data.champions.assign(age=_age_days(data))
    models = models[models["champion"].notna()].sort_values("model")
    colours = [charts.RED if a > limit else charts.GREEN
               for a, limit in zip(models["age"], models["max_age_days"], strict=True)]
    limit = int(models["max_age_days"].max()) if not models.empty else 21
    oldest = float(models["age"].max()) if fmt.known(models["age"].max()) else 0.0
    trace = charts.bar(models["model"], models["age"], "days since its data ended", colours,
                       horizontal=True, hover="%{y}: data %{x} days old<extra></extra>",
                       text=[f"{a:.0f} days" for a in models["age"]], textposition="outside")
    return charts.figure([trace], charts.layout(
        "Champion age: days between the end of its training data and the report's as-of",
        "days", "", height=max(260, 28 * len(models) + 120), showlegend=False,
        xaxis={"range": [0, max(limit, oldest) * 1.15], "title": {"text": "days"}},
        yaxis={"type": "category", "automargin": True},
        annotations=[{"y": 1, "yref": "paper", "x": limit, "text": f"limit {limit} days",
                      "showarrow": False, "yanchor": "bottom", "xanchor": "right",
                      "font": {"color": charts.RED}}],
        shapes=[{"type": "line", "y0": 0, "y1": 1, "yref": "paper", "x0": limit, "x1": limit,
                 "line": {"dash": "dash", "color": charts.RED}}]))


def _champion_table(data: HealthData) -> Table:
    models = data.champions.assign(age=_age_days(data)).sort_values("model")
    return Table(["model", "champion", "trained", "data to", "age (days)", "latest decision"],
                 [[str(r.model), str(r.champion) if isinstance(r.champion, str) else "none", _when(r.champion_trained_at),
                   str(pd.Timestamp(r.champion_data_end).date()) if pd.notna(
                       r.champion_data_end) else "", fmt.count(r.age),
                   f"{r.latest_status}: {_short(r.latest_reason, 120)}" if isinstance(
                       r.latest_reason, str) else str(r.latest_status)]
                  for r in models.itertuples()], "Models in the registry")
