"""Sales forecast section: forecast vs actuals per store with intervals, and backtest accuracy.

Actuals come from `feat_sales_store_daily` (units, all SKUs of a store); forecasts from the
newest scoring run in `ml_sales_forecast` at the store × day grain; a past day's "earlier
forecast" is the last one made before that day, so the chart shows how forecasts fared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, and_, or_

from liftline.report import charts
from liftline.report import formatting as fmt
from liftline.report.model import Plot, Section, Table
from liftline.report.sources import absent, champions, latest_run, read_rows
from liftline.warehouse import table

HISTORY_DAYS = 91  # actuals shown before the as-of date
HORIZON_DAYS = 120  # no forecast run reaches further ahead than this
ALL_STORES = "All stores"


@dataclass
class ForecastData:
    as_of: date | None
    actuals: pd.DataFrame  # store_id, date, units
    forecast: pd.DataFrame  # series_key, date, yhat, yhat_lower, yhat_upper, interval_level
    earlier: pd.DataFrame  # series_key, date, yhat: the last forecast made before the day
    champions: list[Any] = field(default_factory=list)  # registry Versions
    missing: list[str] = field(default_factory=list)


def _store_day(forecasts: Any) -> Any:
    """Store-day units forecasts (the actuals shown beside them are units)."""
    return and_(or_(forecasts.c.grain == "store_day", forecasts.c.grain.is_(None)),
                or_(forecasts.c.measure == "units", forecasts.c.measure.is_(None)))


def gather_forecast(engine: Engine, as_of: date | None) -> ForecastData:
    missing: list[str] = []
    start = as_of - timedelta(days=HISTORY_DAYS) if as_of else None
    feat = table("feat_sales_store_daily")
    actuals = read_rows(engine, "feat_sales_store_daily", feat.c.is_future.is_(False),
                        *([feat.c.date > start, feat.c.date <= as_of] if as_of else []),
                        columns=("store_id", "date", "units"))
    if actuals.empty:
        missing.append(absent(engine, "feat_sales_store_daily", "sales actuals",
                              "The features have not been built: run `liftline run` after "
                              "delivering POS extracts."))
    forecasts = table("ml_sales_forecast")
    run = latest_run(engine, "ml_sales_forecast", ("as_of_date", "created_at"), as_of,
                     "as_of_date", _store_day(forecasts))
    wanted = ("series_key", "date", "yhat", "yhat_lower", "yhat_upper", "interval_level",
              "as_of_date")
    forecast = (read_rows(engine, "ml_sales_forecast", forecasts.c.run_id == run,
                          _store_day(forecasts), columns=wanted)
                if run else pd.DataFrame(columns=wanted))
    if forecast.empty:
        missing.append(absent(engine, "ml_sales_forecast", "sales forecast",
                              "The forecast model has not scored yet: it needs POS sales "
                              "and a trained champion (`liftline run`).",
                              model="sales_forecast"))
    earlier = pd.DataFrame(columns=["series_key", "date", "yhat"])
    if start is not None and not forecast.empty:
        past = read_rows(engine, "ml_sales_forecast", _store_day(forecasts),
                         forecasts.c.date > start, forecasts.c.date <= as_of,
                         forecasts.c.as_of_date < forecasts.c.date,
                         # runs older than a horizon cannot reach the window: not read
                         forecasts.c.as_of_date >= start - timedelta(days=HORIZON_DAYS),
                         columns=("series_key", "date", "yhat", "as_of_date"))
        if not past.empty:
            earlier = (past.sort_values("as_of_date")
                       .drop_duplicates(["series_key", "date"], keep="last")
                       [["series_key", "date", "yhat"]])
    return ForecastData(as_of, actuals, forecast, earlier, champions(engine, "sales_forecast",
                                                                     as_of), missing)


def forecast_section(data: ForecastData) -> Section:
    section = Section("forecast", "Sales forecast")
    for text in data.missing:
        section.missing(text)
    if not data.forecast.empty or not data.actuals.empty:
        section.say(*_outlook_sentences(data))
        section.add(Plot("forecast_by_store", _forecast_figure(data),
                         "Pick a store in the menu above the chart; drag to zoom, double-click "
                         "to reset. For all stores the band adds up the stores' own bounds, so "
                         "it is wider than the total's true interval."))
    if data.champions:
        section.say(*_accuracy_sentences(data.champions))
        section.add(Plot("forecast_accuracy", _accuracy_figure(data.champions)))
        section.add(_accuracy_table(data.champions))
    elif not data.forecast.empty:
        section.missing("No forecast champion in the registry, so its backtest accuracy "
                        "cannot be shown.")
    return section


def _daily_totals(frame: pd.DataFrame, key: str, columns: list[str]) -> pd.DataFrame:
    return frame.groupby("date", as_index=False)[columns].sum() if not frame.empty else frame


def _outlook_sentences(data: ForecastData) -> list[str]:
    out: list[str] = []
    fc = data.forecast
    if not fc.empty:
        first = pd.Timestamp(fc["date"].min())
        next28 = fc[pd.to_datetime(fc["date"]) < first + pd.Timedelta(days=28)]
        level = fc["interval_level"].dropna()
        label = f"{level.iloc[0]:.0%} interval" if not level.empty else "interval"
        total = next28["yhat"].sum()
        text = (f"Over the next 4 weeks ({first:%d %b} onward) the {fc['series_key'].nunique()} "
                f"stores are forecast to sell {fmt.count(total)} units")
        if not data.actuals.empty:
            last = pd.to_datetime(data.actuals["date"])
            recent = data.actuals[last > last.max() - pd.Timedelta(days=28)]["units"].sum()
            moved = fmt.change(total, recent)
            if moved is not None:
                text += f", {fmt.pct(moved, signed=True)} against the last 4 weeks' " \
                        f"{fmt.count(recent)}"
        out.append(text + f"; the shaded band is each day's {label}.")
        by_store = next28.groupby("series_key")["yhat"].sum()
        if not data.actuals.empty and len(by_store) > 1:
            last = pd.to_datetime(data.actuals["date"])
            recent = (data.actuals[last > last.max() - pd.Timedelta(days=28)]
                      .groupby("store_id")["units"].sum())
            moves = ((by_store / recent.reindex(by_store.index) - 1) * 100).dropna()
            moves = moves[recent.reindex(moves.index) > 0]
            parts = []
            if not moves.empty and moves.min() < 0:
                parts.append(f"largest expected fall: {moves.idxmin()} "
                             f"({fmt.pct(moves.min(), signed=True)})")
            if not moves.empty and moves.max() > 0:
                parts.append(f"largest expected rise: {moves.idxmax()} "
                             f"({fmt.pct(moves.max(), signed=True)})")
            if parts:
                out.append("Against each store's last 4 weeks, " + "; ".join(parts) + ".")
    return out


def _forecast_figure(data: ForecastData) -> dict[str, Any]:
    actuals = data.actuals.rename(columns={"store_id": "series_key"})
    stores = sorted(set(actuals.get("series_key", [])) | set(data.forecast["series_key"]))
    options = [ALL_STORES, *stores] if len(stores) > 1 else stores
    traces: list[dict[str, Any]] = []
    owner: list[int] = []
    for index, option in enumerate(options):
        shown = index == 0
        if option == ALL_STORES:
            act = _daily_totals(actuals, "series_key", ["units"])
            fc = _daily_totals(data.forecast, "series_key", ["yhat", "yhat_lower", "yhat_upper"])
            early = _daily_totals(data.earlier, "series_key", ["yhat"])
        else:
            act = actuals[actuals["series_key"] == option]
            fc = data.forecast[data.forecast["series_key"] == option]
            early = data.earlier[data.earlier["series_key"] == option]
        act, fc, early = (f.sort_values("date") if not f.empty else f for f in (act, fc, early))
        group: list[dict[str, Any]] = []
        if not act.empty:
            group.append(charts.line(act["date"], act["units"], "actual units", "#222222"))
        if not early.empty:
            group.append(charts.line(early["date"], early["yhat"], "forecast made before the day",
                                     charts.GREY, dash="dot"))
        if not fc.empty:
            group += charts.band(fc["date"], fc["yhat_lower"], fc["yhat_upper"], "interval")
            group.append(charts.line(fc["date"], fc["yhat"], "forecast", charts.BLUE))
        for trace in group:
            trace["visible"] = shown
        traces += group
        owner += [index] * len(group)
    buttons = [{"label": option, "method": "restyle",
                "args": [{"visible": [o == i for o in owner]}]}
               for i, option in enumerate(options)]
    layout = charts.layout("Units sold per day: actual, and forecast with its interval", "",
                           "units per day", height=440, xaxis={"type": "date"},
                           hovermode="x unified")
    if len(options) > 1:
        layout["title"].update(x=0.22, xanchor="left")  # right of the store menu
        layout["margin"]["t"] = 60
        layout["updatemenus"] = [charts.menu(buttons)]
    return charts.figure(traces, layout)


def _region(version: Any) -> str:
    return version.model.split("/", 1)[1] if "/" in version.model else version.model


def _accuracy_rows(versions: list[Any]) -> pd.DataFrame:
    rows = [{"region": _region(v), "metric": v.metrics.get("metric"),
             "score": v.metrics.get("score"), "baseline": v.metrics.get("baseline"),
             "baseline_score": v.metrics.get("baseline_score"), "version": v.version,
             "data_end": v.data_end} for v in versions]
    return pd.DataFrame(rows).sort_values("region")


def _accuracy_sentences(versions: list[Any]) -> list[str]:
    rows = _accuracy_rows(versions)
    both = rows.dropna(subset=["score", "baseline_score"])
    if both.empty:
        return ["The forecast champions' cards hold no backtest error to compare."]
    beat = int((both["score"] < both["baseline_score"]).sum())
    metric = both["metric"].dropna().iloc[0] if both["metric"].notna().any() else "error"
    baseline = both["baseline"].dropna().iloc[0] if both["baseline"].notna().any() else "baseline"
    score = both["score"].astype(float).median()
    base = both["baseline_score"].astype(float).median()
    gain = (1 - score / base) * 100
    metric, baseline = str(metric).upper(), str(baseline).replace("_", " ")
    return [f"In the walk-forward backtest the forecast beats the naive {baseline} in {beat} of "
            f"{fmt.plural(len(both), 'region')}: median {metric} {score:.3g} against the "
            f"baseline's {base:.3g}, {fmt.pct(abs(gain))} "
            f"{'lower' if gain >= 0 else 'higher'} (lower is better)."]


def _accuracy_figure(versions: list[Any]) -> dict[str, Any]:
    rows = _accuracy_rows(versions)
    metric = rows["metric"].dropna().iloc[0] if rows["metric"].notna().any() else "error"
    return charts.figure(
        [charts.bar(rows["region"], rows["score"], "forecast (champion)", charts.BLUE),
         charts.bar(rows["region"], rows["baseline_score"], "naive baseline", charts.GREY)],
        charts.layout(f"Backtest {str(metric).upper()} by region (lower is better)", "",
                      str(metric).upper(),
                      barmode="group", height=340))


def _accuracy_table(versions: list[Any]) -> Table:
    rows = _accuracy_rows(versions)
    return Table(["region", "champion", "trained on data to", "backtest error", "baseline"],
                 [[r.region, r.version, str(r.data_end or fmt.MISSING),
                   f"{r.score:.3g}" if fmt.known(r.score) else fmt.MISSING,
                   f"{r.baseline_score:.3g}" if fmt.known(r.baseline_score) else fmt.MISSING]
                  for r in rows.itertuples()])
