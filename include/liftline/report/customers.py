"""Customers section: segment profiles, segment migrations and the service-risk digest.

The customer models write `ml_customer_profiles`, `ml_segment_migrations` and
`ml_satisfaction_scores`; until they have run, the section says which table is empty and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from liftline.report import charts
from liftline.report import formatting as fmt
from liftline.report.model import Plot, Section, Table
from liftline.report.sources import absent, champions, latest_run, read_rows
from liftline.warehouse import table

TOP_RISKS = 10
RISK_ORDER = ("high", "medium", "low")
RISK_COLOURS = {"high": charts.RED, "medium": charts.ORANGE, "low": charts.GREEN}


@dataclass
class CustomerData:
    profiles: pd.DataFrame
    migrations: pd.DataFrame
    scores: pd.DataFrame
    missing: list[str] = field(default_factory=list)


def _latest(engine: Engine, name: str, as_of: date | None) -> pd.DataFrame:
    run = latest_run(engine, name, ("as_of_date",), as_of, "as_of_date")
    return read_rows(engine, name, table(name).c.run_id == run) if run else pd.DataFrame()


def gather_customers(engine: Engine, as_of: date | None) -> CustomerData:
    profiles = _latest(engine, "ml_customer_profiles", as_of)
    migrations = _latest(engine, "ml_segment_migrations", as_of)
    scores = _latest(engine, "ml_satisfaction_scores", as_of)
    missing = []
    if profiles.empty:
        missing.append(absent(engine, "ml_customer_profiles", "customer segments",
                              "The segmentation model writes it once it runs on ERP invoices "
                              "with customer_id (and the customers extract).",
                              model="customer_segments"))
    if scores.empty:
        missing.append(absent(engine, "ml_satisfaction_scores", "service-risk scores",
                              _no_scores_why(engine, as_of), model="satisfaction"))
    return CustomerData(profiles, migrations, scores, missing)


def _no_scores_why(engine: Engine, as_of: date | None) -> str:
    """Why there is no risk score: no model yet, or nothing open when it scored."""
    if champions(engine, "satisfaction", as_of):
        return ("The satisfaction model is champion, but no service interaction was open at the "
                "end of a scoring day: only open interactions are scored, and a desk that "
                "closes every contact the day it opens has none at risk.")
    return ("The satisfaction model scores open service interactions once it has been trained "
            "on the service and customers extracts.")


def customers_section(data: CustomerData) -> Section:
    section = Section("customers", "Customers")
    for text in data.missing:
        section.missing(text)
    if not data.profiles.empty:
        section.say(*_profile_sentences(data.profiles))
        section.add(Plot("customer_segments", _profile_figure(data.profiles)))
        section.add(_profile_table(data.profiles))
        if data.migrations.empty:
            section.say("No customer changed segment since the previous scoring "
                                     "(or this is the first one).")
        else:
            section.say(*_migration_sentences(data.migrations))
            section.add(Plot("segment_migrations", _migration_figure(data.migrations)))
    if not data.scores.empty:
        section.say(*_risk_sentences(data.scores))
        section.add(Plot("service_risk", _risk_figure(data.scores)))
        high = data.scores[data.scores["risk_level"] == "high"]
        if not high.empty:
            section.add(_risk_table(high))
    return section


def _profile_sentences(profiles: pd.DataFrame) -> list[str]:
    total = profiles["customers"].sum()
    top = profiles.loc[profiles["revenue_share"].idxmax()]
    cust_share = top["customers"] / total if total else None
    out = [f"{fmt.count(total)} customers in {fmt.plural(len(profiles), 'segment')}; "
           f"{top['segment']} is {fmt.share(cust_share)} of customers and brings "
           f"{fmt.share(top['revenue_share'])} of the year's revenue."]
    actions = profiles.dropna(subset=["action"])
    if not actions.empty:
        out.append("Recommended actions: " + "; ".join(
            f"{r.segment}: {r.action}" for r in actions.itertuples()) + ".")
    return out


def _profile_figure(profiles: pd.DataFrame) -> dict[str, Any]:
    rows = profiles.sort_values("revenue_share", ascending=False)
    total = rows["customers"].sum()
    customer_share = rows["customers"] / total * 100 if total else rows["customers"] * 0
    return charts.figure(
        [charts.bar(rows["segment"], customer_share, "share of customers %", charts.GREY),
         charts.bar(rows["segment"], rows["revenue_share"] * 100, "share of revenue %",
                    charts.BLUE)],
        charts.layout("Segments: customers vs revenue", "", "%", barmode="group", height=340))


def _profile_table(profiles: pd.DataFrame) -> Table:
    rows = profiles.sort_values("revenue_share", ascending=False)

    def cell(row: Any, name: str, how: Any) -> str:
        return how(getattr(row, name, None))

    return Table(["segment", "customers", "revenue share", "mean order", "orders/yr",
                  "days since last", "action"],
                 [[str(r.segment), fmt.count(r.customers), fmt.share(r.revenue_share),
                   cell(r, "mean_order_value", fmt.money),
                   cell(r, "mean_frequency", lambda v: f"{v:.1f}" if fmt.known(v) else "n/a"),
                   cell(r, "mean_recency_days", fmt.count), str(r.action or "")]
                  for r in rows.itertuples()], "Segment profiles")


def _migration_sentences(migrations: pd.DataFrame) -> list[str]:
    flows = migrations.groupby(["from_segment", "to_segment"]).size().sort_values()
    (source, target), n = flows.index[-1], int(flows.iloc[-1])
    return [f"{fmt.plural(len(migrations), 'customer')} changed segment since the previous "
            f"scoring; the largest move: {fmt.count(n)} from {source} to {target}."]


def _migration_figure(migrations: pd.DataFrame) -> dict[str, Any]:
    segments = sorted(set(migrations["from_segment"]) | set(migrations["to_segment"]))
    matrix = (pd.crosstab(migrations["from_segment"], migrations["to_segment"])
              .reindex(index=segments, columns=segments, fill_value=0))
    trace = {"type": "heatmap", "x": charts.labels(matrix.columns),
             "y": charts.labels(matrix.index), "z": [charts.values(r) for r in matrix.values],
             "zmin": 0, "colorscale": [[0, "#f4f8fc"], [1, charts.BLUE]],
             "texttemplate": "%{z}", "colorbar": {"title": {"text": "customers"}},
             "hovertemplate": "%{y} → %{x}: %{z} customers<extra></extra>"}
    return charts.figure([trace], charts.layout("Customers who changed segment (from → to)",
                                                "to segment", "from segment", height=360))


def _risk_sentences(scores: pd.DataFrame) -> list[str]:
    counts = scores["risk_level"].value_counts()
    high = int(counts.get("high", 0))
    return [f"{fmt.plural(len(scores), 'open service interaction')} scored: {high} at high risk "
            f"of a low rating (1–2), {int(counts.get('medium', 0))} medium. "
            + ("Contact the high-risk ones first (listed below)." if high else "")]


def _risk_figure(scores: pd.DataFrame) -> dict[str, Any]:
    counts = scores["risk_level"].value_counts()
    levels = [lvl for lvl in RISK_ORDER if lvl in counts] + [
        lvl for lvl in counts.index if lvl not in RISK_ORDER]
    return charts.figure(
        [charts.bar(levels, [counts[lvl] for lvl in levels], "interactions",
                    [RISK_COLOURS.get(lvl, charts.GREY) for lvl in levels])],
        charts.layout("Open service interactions by risk of a low rating", "risk",
                      "interactions", height=300, showlegend=False))


def _risk_table(high: pd.DataFrame) -> Table:
    rows = high.sort_values("p_low_satisfaction", ascending=False).head(TOP_RISKS)
    return Table(["interaction", "customer", "type", "channel", "P(low rating)"],
                 [[str(r.interaction_id), str(getattr(r, "customer_id", "") or ""),
                   str(getattr(r, "interaction_type", "") or ""),
                   str(getattr(r, "channel", "") or ""), fmt.share(r.p_low_satisfaction)]
                  for r in rows.itertuples()], f"Highest service risks (top {TOP_RISKS})")
