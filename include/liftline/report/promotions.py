"""Promotions section: predicted vs measured lift of recent promotions, the ones that diverged,
and the upcoming recommendations with their expected incremental margin."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from liftline.report import charts
from liftline.report import formatting as fmt
from liftline.report.model import Plot, Section, Table
from liftline.report.sources import absent, latest_run, read_rows
from liftline.warehouse import table

RECENT_PROMOTIONS = 25  # measured promotions shown, newest first
TOP_RECOMMENDATIONS = 15
DIVERGENCE_PP = 5.0  # the monitor's default threshold, for rows without its verdict
CALM_STATES = ("ok", "too_early")  # the monitor's verdicts that are not a divergence


@dataclass
class PromoData:
    measured: pd.DataFrame  # ml_promo_lift rows with a measured lift, newest first
    recommendations: pd.DataFrame  # the latest scoring run's ml_promo_recommendations
    missing: list[str] = field(default_factory=list)


def gather_promotions(engine: Engine, as_of: date | None) -> PromoData:
    missing: list[str] = []
    lift = table("ml_promo_lift")
    where = [lift.c.actual_lift_pct.is_not(None)]
    if as_of is not None:
        where.append(lift.c.start_date <= as_of)
    measured = read_rows(engine, "ml_promo_lift", *where)
    if not measured.empty:
        measured = (measured.sort_values(["start_date", "promo_id"], ascending=False)
                    .head(RECENT_PROMOTIONS))
    else:
        missing.append(absent(engine, "ml_promo_lift", "measured promotion lift",
                              "The lift monitor measures a promotion once it has run for a few "
                              "days; it needs POS sales, a promotion calendar and a trained "
                              "promo_lift model.", model="promo_lift"))
    recs = table("ml_promo_recommendations")
    run = latest_run(engine, "ml_promo_recommendations", ("created_at", "week_start"))
    recommendations = (read_rows(engine, "ml_promo_recommendations", recs.c.run_id == run)
                       if run else pd.DataFrame())
    if recommendations.empty:
        missing.append(absent(engine, "ml_promo_recommendations", "promotion recommendations",
                              "Scoring recommends discounts once a promo_lift champion exists."))
    return PromoData(measured, recommendations, missing)


def diverged(measured: pd.DataFrame) -> pd.DataFrame:
    """Promotions whose measured lift left the prediction: the lift monitor's last verdict
    (above_prediction / below_prediction) where it gave one, else a gap above the default
    threshold."""
    if measured.empty:
        return measured
    # All-NULL reads back as objects (no promotion measured a gap yet): compare as numbers.
    gap = pd.to_numeric(measured["divergence_pp"], errors="coerce").abs() > DIVERGENCE_PP
    verdict = measured.get("alert_state", pd.Series(None, index=measured.index, dtype=object))
    judged = verdict.notna()
    flagged = judged & ~verdict.isin(CALM_STATES) | ~judged & gap.fillna(False)
    return measured[flagged.astype(bool)]


def promotions_section(data: PromoData) -> Section:
    section = Section("promotions", "Promotions")
    for text in data.missing:
        section.missing(text)
    if not data.measured.empty:
        section.say(*_lift_sentences(data.measured))
        section.add(Plot("promo_lift", _lift_figure(data.measured),
                                  "Hover a point for its interval; a gap between the two "
                                  "markers of a promotion is the divergence."))
        off = diverged(data.measured)
        if not off.empty:
            section.add(_divergence_table(off))
    if not data.recommendations.empty:
        section.say(*_recommendation_sentences(data.recommendations))
        section.add(Plot("promo_recommendations",
                                  _recommendation_figure(data.recommendations)))
        section.add(_recommendation_table(data.recommendations))
    return section


def _label(row: Any) -> str:
    """PR-00081 · snacks · 25 Dec 2024: which promotion, of what, when."""
    parts = [str(row.promo_id)]
    category = getattr(row, "category", None)
    if isinstance(category, str) and category:
        parts.append(charts.pretty(category))
    if pd.notna(getattr(row, "start_date", None)):
        parts.append(pd.Timestamp(row.start_date).strftime("%d %b %Y"))
    return " · ".join(parts)


def _lift_sentences(measured: pd.DataFrame) -> list[str]:
    off = diverged(measured)
    gap = measured["divergence_pp"].abs().median()
    text = (f"Of the {fmt.plural(len(measured), 'most recent measured promotion')}, "
            f"{len(off)} diverged from the lift predicted before they started; the typical gap "
            f"is {gap:.1f} points." if fmt.known(gap) else
            f"{fmt.plural(len(measured), 'promotion')} measured.")
    out = [text]
    if not off.empty:
        worst = off.loc[off["divergence_pp"].abs().idxmax()]
        advice = ("it did better than planned: worth repeating, and a sign the model "
                  "undervalues promotions like it" if worst["divergence_pp"] > 0 else
                  "check its stock and in-store execution before repeating it")
        out.append(f"The largest miss: {worst['promo_id']} was predicted at "
                   f"{fmt.pct(worst['predicted_lift_pct'], signed=True)} and measured "
                   f"{fmt.pct(worst['actual_lift_pct'], signed=True)} "
                   f"({fmt.points(worst['divergence_pp'])}); {advice}.")
    margin = measured.get("net_incremental_margin")
    if margin is not None and margin.notna().any():
        total = margin.sum()
        out.append(f"Together they {'earned' if total >= 0 else 'lost'} "
                   f"{fmt.money(abs(total))} of net incremental margin, counting the "
                   "post-promotion dip and the sales taken from sibling products.")
    return out


def _lift_figure(measured: pd.DataFrame) -> dict[str, Any]:
    rows = measured.iloc[::-1]  # newest at the top of a horizontal chart
    names = [_label(r) for r in rows.itertuples()]
    predicted = charts.intervals(
        names, rows["predicted_lift_pct"], rows.get("predicted_lift_lower", rows[
            "predicted_lift_pct"]), rows.get("predicted_lift_upper", rows["predicted_lift_pct"]),
        "predicted lift", charts.BLUE,
        hovertemplate="%{y}<br>predicted %{x:.1f}%<extra></extra>")
    actual = charts.intervals(
        names, rows["actual_lift_pct"], rows.get("actual_lift_lower", rows["actual_lift_pct"]),
        rows.get("actual_lift_upper", rows["actual_lift_pct"]), "measured lift", charts.ORANGE,
        hovertemplate="%{y}<br>measured %{x:.1f}%<extra></extra>")
    height = max(320, 26 * len(rows) + 120)
    return charts.figure([predicted, actual], charts.layout(
        "Predicted vs measured lift (%), with intervals", "lift over baseline sales, %", "",
        height=height, yaxis={"automargin": True, "type": "category"}))


def _divergence_table(off: pd.DataFrame) -> Table:
    return Table(["promotion", "dates", "predicted lift", "measured lift",
                  "measured − predicted", "days measured"],
                 [[str(r.promo_id), f"{_day(r.start_date)} – {_day(r.end_date)}",
                   fmt.pct(r.predicted_lift_pct, signed=True),
                   fmt.pct(r.actual_lift_pct, signed=True), fmt.points(r.divergence_pp),
                   fmt.count(r.observed_days)] for r in off.itertuples()],
                 "Promotions whose measured lift diverged from the prediction")


def _day(value: Any) -> str:
    return pd.Timestamp(value).strftime("%d %b") if pd.notna(value) else "?"


def offers(recs: pd.DataFrame) -> pd.DataFrame:
    """Recommendations grouped into offers people plan: one SKU at one discount and length from
    one week, with the stores it is recommended in and their summed expected margin."""
    keys = ["sku", "week_start", "discount_pct", "duration_days"]
    return (recs.groupby(keys, as_index=False, dropna=False)
            .agg(stores=("store_id", "nunique"),
                 expected_lift_pct=("expected_lift_pct", "mean"),
                 expected_incremental_margin=("expected_incremental_margin", "sum")))


def _recommendation_sentences(recs: pd.DataFrame) -> list[str]:
    margin = recs["expected_incremental_margin"]
    positive = recs[margin > 0]
    weeks = pd.to_datetime(recs["week_start"])
    grouped = offers(recs)
    out = [f"{fmt.plural(len(recs), 'promotion')} recommended (SKU × store) for the weeks of "
           f"{weeks.min():%d %b}–{weeks.max():%d %b %Y}, grouped into "
           f"{fmt.plural(len(grouped), 'offer')}; "
           f"{'all' if len(positive) == len(recs) else 'the ' + fmt.count(len(positive))} "
           f"expected to add margin would add "
           f"{fmt.money(positive['expected_incremental_margin'].sum(), signed=True)} together."]
    if grouped["expected_incremental_margin"].notna().any():
        best = grouped.loc[grouped["expected_incremental_margin"].idxmax()]
        out.append(f"The best offer: {best['sku']}, {best['discount_pct']:.0f}% off for "
                   f"{best['duration_days']:.0f} days from "
                   f"{pd.Timestamp(best['week_start']):%d %b} in "
                   f"{fmt.plural(int(best['stores']), 'store')}, expected lift about "
                   f"{fmt.pct(best['expected_lift_pct'], signed=True)} and "
                   f"{fmt.money(best['expected_incremental_margin'], signed=True)} margin.")
    return out


def _top(recs: pd.DataFrame) -> pd.DataFrame:
    return offers(recs).sort_values("expected_incremental_margin", ascending=False).head(
        TOP_RECOMMENDATIONS)


def _recommendation_figure(recs: pd.DataFrame) -> dict[str, Any]:
    top = _top(recs).iloc[::-1]
    names = [f"{r.sku} · {r.discount_pct:.0f}% × {r.duration_days:.0f}d · "
             f"{pd.Timestamp(r.week_start):%d %b} · {fmt.plural(int(r.stores), 'store')}"
             for r in top.itertuples()]
    colours = [charts.GREEN if v > 0 else charts.RED for v in top["expected_incremental_margin"]]
    trace = charts.bar(names, top["expected_incremental_margin"], "expected incremental margin",
                       colours, horizontal=True,
                       hover="%{y}<br>expected margin %{x:,.0f}<extra></extra>")
    return charts.figure([trace], charts.layout(
        f"Top {len(top)} recommended offers by expected incremental margin",
        "expected incremental margin (all its stores)", "",
        height=max(300, 24 * len(top) + 110), showlegend=False))


def _recommendation_table(recs: pd.DataFrame) -> Table:
    return Table(["SKU", "from week of", "discount", "days", "stores", "mean expected lift",
                  "expected margin"],
                 [[str(r.sku), f"{pd.Timestamp(r.week_start):%d %b %Y}",
                   fmt.pct(r.discount_pct, digits=0), fmt.count(r.duration_days),
                   fmt.count(r.stores), fmt.pct(r.expected_lift_pct, signed=True),
                   fmt.money(r.expected_incremental_margin, signed=True)]
                  for r in _top(recs).itertuples()],
                 f"Recommended offers (top {TOP_RECOMMENDATIONS} by expected margin; the "
                 "store-by-store list is in ml_promo_recommendations)")
