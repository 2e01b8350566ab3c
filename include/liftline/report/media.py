"""Media mix section: channel ROI with 90% intervals, response curves with current and
recommended spend, and the budget reallocation, under a banner when the fit is not to be
acted on (not champion, or a weak fit)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from liftline import registry
from liftline.report import charts
from liftline.report import formatting as fmt
from liftline.report.model import Plot, Section, Table
from liftline.report.sources import absent, has_table, latest_run, read_rows
from liftline.warehouse import table

ZONE_MEANING = {"efficient": "more spend still pays", "diminishing": "returns falling",
                "saturated": "extra spend adds little"}
SCENARIO = "budget_neutral"  # the reallocation that keeps the total budget
PALETTE = [charts.BLUE, charts.ORANGE, charts.GREEN, charts.RED, charts.PURPLE, "#17becf",
           "#8c564b", "#bcbd22"]


@dataclass
class MediaData:
    fit: dict[str, str]  # run_id, country, segment of the fit shown
    channels: pd.DataFrame  # ml_mmm_channel_results of that fit
    curves: pd.DataFrame
    budget: pd.DataFrame  # the budget-neutral scenario
    metrics: dict[str, Any] = field(default_factory=dict)  # the fit's registry metrics
    other_fits: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    # ml_experiment_recommendations of the fit shown, one scoring run's (empty: none scored)
    experiments: pd.DataFrame = field(default_factory=pd.DataFrame)


def gather_media(engine: Engine, as_of: date | None) -> MediaData:
    results = table("ml_mmm_channel_results")
    run = latest_run(engine, "ml_mmm_channel_results", ("data_end",), as_of, "data_end")
    if run is None:
        reason = absent(engine, "ml_mmm_channel_results", "media-mix results",
                        "The mix model needs ad spend and revenue (POS or ERP) for at least "
                        "the spec's minimum weeks (data.min_weeks in models/mmm.yaml).",
                        model="mmm")
        return MediaData({}, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), missing=[reason])
    rows = read_rows(engine, "ml_mmm_channel_results", results.c.run_id == run)
    fits = rows.groupby(["country", "segment"])["spend"].sum().reset_index()
    # The whole business (ALL/all) when it was fitted, else the fit with the most spend.
    whole = fits[(fits["country"] == "ALL") & (fits["segment"] == "all")]
    chosen = (whole if not whole.empty else fits.sort_values("spend", ascending=False)).iloc[0]
    key = {"run_id": run, "country": str(chosen["country"]), "segment": str(chosen["segment"])}
    mine = ((rows["country"] == key["country"]) & (rows["segment"] == key["segment"]))
    channels = rows[mine].sort_values("spend", ascending=False)
    others = [f"{r.country}/{r.segment}" for r in fits.itertuples()
              if (r.country, r.segment) != (key["country"], key["segment"])]
    curves_t, budget_t = table("ml_mmm_response_curves"), table("ml_budget_allocation")
    curves = read_rows(engine, "ml_mmm_response_curves", *_fit_where(curves_t, key))
    budget = read_rows(engine, "ml_budget_allocation", *_fit_where(budget_t, key),
                       budget_t.c.scenario == SCENARIO)
    return MediaData(key, channels, curves, budget, _fit_metrics(engine, key, as_of), others,
                     experiments=_experiments(engine, key))


def _experiments(engine: Engine, key: dict[str, str]) -> pd.DataFrame:
    """The next-experiment rows for this fit (its training run and country), of the newest
    scoring run by name (a later scoring run of the same fit writes the same rows)."""
    target = table("ml_experiment_recommendations")
    rows = read_rows(engine, "ml_experiment_recommendations",
                     target.c.model_run_id == key["run_id"], target.c.country == key["country"])
    return rows[rows["run_id"] == rows["run_id"].max()] if not rows.empty else rows


def _fit_where(target: Any, key: dict[str, str]) -> list[Any]:
    return [target.c.run_id == key["run_id"], target.c.country == key["country"],
            target.c.segment == key["segment"]]


def _fit_metrics(engine: Engine, key: dict[str, str], as_of: date | None) -> dict[str, Any]:
    """The registry metrics of the version that wrote the rows (same training run), else of the
    newest registered version of that fit."""
    if not has_table(engine, "ml_model_registry"):
        return {}
    found = [v for v in registry.versions(engine, f"mmm/{key['country']}/{key['segment']}")
             if v.status != registry.SKIPPED]
    same_run = [v for v in found if v.run_id == key["run_id"]]
    return (same_run or found or [None])[0].metrics if found else {}


def media_section(data: MediaData) -> Section:
    section = Section("media", "Media mix")
    for text in data.missing:
        section.missing(text)
    if data.channels.empty:
        return section
    data = _spoken(data)
    banner = fit_banner(data)
    if banner:
        section.warn(banner)
    section.say(*_roi_sentences(data))
    section.add(Plot("mmm_roi", _roi_figure(data.channels),
                              "ROI = revenue the model credits to a channel per unit spent; "
                              "bars are 90% intervals."))
    if not data.curves.empty:
        section.add(Plot("mmm_curves", _curves_figure(data),
                         "Revenue the model credits to each channel at each level of spend. "
                         "Pick one channel in the menu to see its 90% interval; click a "
                         "legend entry to hide a channel."))
    if not data.budget.empty:
        section.say(*_budget_sentences(data.budget))
        section.add(Plot("mmm_budget", _budget_figure(data.budget)))
        section.add(_budget_table(data))
    if not data.experiments.empty:
        section.say(_experiment_sentence(data.experiments))
    if data.other_fits:
        section.say(f"Shown: the {_fit_name(data.fit)} fit; also fitted: "
                                 f"{', '.join(data.other_fits)} (in ml_mmm_channel_results).")
    return section


def _experiment_sentence(rows: pd.DataFrame) -> str:
    """The recommended geo-holdout test, or why there is none."""
    chosen = rows[rows["recommended"].astype(bool)]
    if chosen.empty:
        return ("Next experiment: none recommended. No go-dark test of acceptable cost would "
                "narrow a channel's ROI interval enough to show (the designs are ranked in "
                "ml_experiment_recommendations).")
    r = chosen.iloc[0]
    checked = " (checked by refitting the model)" if r.get("narrowing_method") == "refit" else ""
    return (f"Next experiment: take {r['channel']} dark for {int(r['weeks'])} weeks in "
            f"{r['treatment']} (control {r['control']}). Its ROI interval is expected to narrow "
            f"{fmt.share(r['expected_interval_narrowing'])}{checked}, from "
            f"{fmt.ratio(r['roi_lower_now'])}–{fmt.ratio(r['roi_upper_now'])} to "
            f"{fmt.ratio(r['expected_roi_lower'])}–{fmt.ratio(r['expected_roi_upper'])}; it "
            f"detects {fmt.money(r['mde'])} of lost revenue with 80% power, has "
            f"{fmt.share(r['power'])} power against the model's own estimate, and costs "
            f"about {fmt.money(r['test_cost'])} in lost revenue. Deliver its result as a "
            f"lift_tests row and the next training calibrates on it.")


def _spoken(data: MediaData) -> MediaData:
    """The same data with channel codes as people say them (online_video -> online video)."""
    def named(frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty or "channel" not in frame:
            return frame
        return frame.assign(channel=frame["channel"].map(charts.pretty))
    return replace(data, channels=named(data.channels), curves=named(data.curves),
                   budget=named(data.budget), experiments=named(data.experiments))


def fit_banner(data: MediaData) -> str | None:
    """Why not to act on this fit's budget, or None when it is a champion with a sound fit."""
    status = _first(data.channels, "model_status") or _first(data.budget, "model_status")
    note = _first(data.channels, "model_note") or _first(data.budget, "model_note")
    metrics = data.metrics
    error = (f" (out-of-sample error {fmt.share(metrics.get('cv_mape'), 1)} against "
             f"{fmt.share(metrics.get('baseline_cv_mape'), 1)} without media)"
             if fmt.known(metrics.get("cv_mape")) else "")
    problems = []
    if metrics.get("passes_baseline", metrics.get("beats_baseline")) is False:
        problems.append("it predicts revenue no better than a model that ignores media "
                        f"spend{error}")
    elif metrics.get("grade") == "poor":
        problems.append(f"its fit is poor{error}")
    if status and status != registry.CHAMPION:
        problems.insert(0, f"this mix model is a {status}, not the champion"
                        + (f" ({note})" if note and not problems else ""))
    if not problems:
        return None
    return ("Do not move budget on these figures yet: " + "; ".join(problems) + ". They show "
            "what the model currently believes, not a tested recommendation.")


def _first(frame: pd.DataFrame, column: str) -> str | None:
    if frame.empty or column not in frame or frame[column].dropna().empty:
        return None
    return str(frame[column].dropna().iloc[0])


def _fit_name(fit: dict[str, str]) -> str:
    if fit.get("country") == "ALL" and fit.get("segment") == "all":
        return "whole-business"
    return f"{fit.get('country')}/{fit.get('segment')}"


def _roi_sentences(data: MediaData) -> list[str]:
    ch = data.channels
    best = ch.loc[ch["roi"].idxmax()]
    weak = ch[ch["roi_upper"] < 1] if "roi_upper" in ch else ch.iloc[0:0]
    start, end = ch["data_start"].min(), ch["data_end"].max()
    out = [f"Over {_period(start, end)}, {fmt.money(ch['spend'].sum())} of media spend is "
           f"credited with {fmt.money(ch['contribution'].sum())} of revenue; {best['channel']} "
           f"returns the most per unit spent (ROI {fmt.ratio(best['roi'])}, 90% interval "
           f"{fmt.ratio(best['roi_lower'])}–{fmt.ratio(best['roi_upper'])})."]
    if not weak.empty:
        out.append(f"Not paying back their spend even at the top of the interval (ROI below 1): "
                   f"{', '.join(weak['channel'])}.")
    saturated = ch[ch["zone"] == "saturated"]["channel"].tolist()
    if saturated:
        out.append(f"Saturated (extra spend adds little): {', '.join(saturated)}.")
    return out


def _period(start: Any, end: Any) -> str:
    if pd.isna(start) or pd.isna(end):
        return "the modelled window"
    return f"{pd.Timestamp(start):%d %b %Y}–{pd.Timestamp(end):%d %b %Y}"


def _roi_figure(ch: pd.DataFrame) -> dict[str, Any]:
    rows = ch.sort_values("roi")
    traces = []
    for zone, colour in charts.ZONE_COLOURS.items():
        part = rows[rows["zone"] == zone]
        if part.empty:
            continue
        traces.append(charts.intervals(
            part["channel"], part["roi"], part["roi_lower"], part["roi_upper"],
            f"{zone} ({ZONE_MEANING[zone]})", colour,
            hovertemplate="%{y}: ROI %{x:.2f}<extra>" + zone + "</extra>"))
    other = rows[~rows["zone"].isin(list(charts.ZONE_COLOURS))]
    if not other.empty:
        traces.append(charts.intervals(other["channel"], other["roi"], other["roi_lower"],
                                       other["roi_upper"], "other", charts.GREY))
    layout = charts.layout("Return on spend by channel (90% interval)", "revenue per unit spent",
                           "", height=max(300, 40 * len(rows) + 120),
                           yaxis={"type": "category", "categoryorder": "array",
                                  "categoryarray": list(rows["channel"]), "automargin": True},
                           shapes=[{"type": "line", "x0": 1, "x1": 1, "y0": 0, "y1": 1,
                                    "yref": "paper", "line": {"dash": "dash", "color": "#999"}}])
    return charts.figure(traces, layout)


def _curves_figure(data: MediaData) -> dict[str, Any]:
    """Every channel's curve with its current (●) and recommended (★) spend; the menu shows one
    channel with its 90% interval (all the intervals at once would hide each other)."""
    traces: list[dict[str, Any]] = []
    owner: list[tuple[str, bool]] = []  # (channel, is the interval band)
    budget = data.budget.set_index("channel") if not data.budget.empty else pd.DataFrame()
    channels = list(data.curves.sort_values("point").groupby("channel", sort=True))
    for i, (channel, curve) in enumerate(channels):
        colour = PALETTE[i % len(PALETTE)]
        for trace in charts.band(curve["spend"], curve["response_lower"],
                                 curve["response_upper"], f"{channel}: 90% interval",
                                 fill=_rgba(colour, 0.2), visible=False):
            traces.append(trace)
            owner.append((channel, True))
        traces.append(charts.line(curve["spend"], curve["response"], channel, colour,
                                  hovertemplate=f"{channel}<br>spend %{{x:,.0f}}<br>revenue "
                                                "credited %{y:,.0f}<extra></extra>"))
        owner.append((channel, False))
        if channel in budget.index:
            row = budget.loc[channel]
            for spend, response, symbol, what in (
                    (row["current_spend"], row["current_response"], "circle", "current"),
                    (row["recommended_spend"], row["recommended_response"], "star",
                     "recommended")):
                traces.append({"type": "scatter", "mode": "markers", "showlegend": False,
                               "x": charts.values([spend]), "y": charts.values([response]),
                               "name": f"{channel} {what}",
                               "marker": {"color": colour, "size": 13, "symbol": symbol,
                                          "line": {"color": "#222", "width": 1}},
                               "hovertemplate": f"{channel}: {what} spend %{{x:,.0f}}<br>"
                                                "revenue credited %{y:,.0f}<extra></extra>"})
                owner.append((channel, False))
    buttons = [{"label": "All channels", "method": "restyle",
                "args": [{"visible": [not band for _, band in owner]}]}]
    buttons += [{"label": f"{channel} with interval", "method": "restyle",
                 "args": [{"visible": [c == channel for c, _ in owner]}]}
                for channel, _ in channels]
    layout = charts.layout("Response curves: ● current spend, ★ recommended", "spend over the "
                           "modelled window", "revenue credited", height=460,
                           updatemenus=[charts.menu(buttons)])
    layout["title"].update(x=0.31, xanchor="left")  # right of the channel menu
    return charts.figure(traces, layout)


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _budget_sentences(budget: pd.DataFrame) -> list[str]:
    moves = budget.assign(delta=budget["recommended_spend"] - budget["current_spend"])
    up = moves[moves["delta"] > 0].sort_values("delta", ascending=False)
    down = moves[moves["delta"] < 0].sort_values("delta")
    gain = budget["recommended_response"].sum() - budget["current_response"].sum()
    base = budget["current_response"].sum()
    parts = []
    if not up.empty:
        parts.append("more to " + ", ".join(f"{r.channel} ({fmt.pct(r.change_pct, True, 0)})"
                                            for r in up.head(3).itertuples()))
    if not down.empty:
        parts.append("less to " + ", ".join(f"{r.channel} ({fmt.pct(r.change_pct, True, 0)})"
                                            for r in down.head(3).itertuples()))
    if not parts:
        return ["The optimiser keeps the current split: no reallocation pays."]
    change = fmt.change(base + gain, base)
    return [f"With the same total budget the optimiser moves {'; '.join(parts)}, for "
            f"{fmt.money(gain, signed=True)} of credited revenue "
            f"({fmt.pct(change, signed=True)})."]


def _budget_figure(budget: pd.DataFrame) -> dict[str, Any]:
    rows = budget.sort_values("current_spend", ascending=False)
    return charts.figure(
        [charts.bar(rows["channel"], rows["current_spend"], "current spend", charts.GREY),
         charts.bar(rows["channel"], rows["recommended_spend"], "recommended spend",
                    charts.BLUE)],
        charts.layout("Budget reallocation (same total)", "", "spend",
                      barmode="group", height=340))


def _budget_table(data: MediaData) -> Table:
    rows = data.budget.sort_values("current_spend", ascending=False)
    return Table(["channel", "current spend", "recommended spend", "change",
                  "revenue credited now", "after the move"],
                 [[str(r.channel), fmt.money(r.current_spend), fmt.money(r.recommended_spend),
                   fmt.pct(r.change_pct, signed=True, digits=0), fmt.money(r.current_response),
                   fmt.money(r.recommended_response)] for r in rows.itertuples()],
                 "Budget reallocation, same total budget")
