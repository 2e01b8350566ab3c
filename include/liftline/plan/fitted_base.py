"""Store sales per week before the plan touches them, from the forecast, and the base the
planner adds promotions and media to.

1. **Expected sales** per store x week, units and revenue with a 90% interval:
   - weeks the forecast covers in full: the latest `ml_sales_forecast` run made on or before
     the planner's as-of, store x day rows summed to Monday weeks (the point), with the
     interval of the store x category x week rows (calibrated on weeks; summed over the
     store's categories, as a share of the point);
   - later weeks (the forecast holds 56 days): the same week a year earlier (52 weeks) of the
     store's observed sales, scaled by the store's level: its forecast over the forecast's
     weeks against the same weeks a year earlier (without a forecast: its last 8 full weeks
     against theirs). A week with no sales a year earlier takes the mean of those reference
     weeks. The interval keeps the mean relative width of the store's forecast weeks (none
     without a forecast).
2. **Base** = expected sales without media and promotions. The forecast already holds
   business-as-usual media and the delivered planned promotions; a week taken from last year
   holds last year's media (business as usual by definition) and last year's promotions. So
   per country and week, with F the expected store revenue, I the increments of the promotions
   it holds (spread over their days) and C the stores' part of the business-as-usual media
   contribution: F = (B + I) x (1 + C / B), solved for B exactly (a quadratic), the uplift
   u = C / B, and each store's base = F_store / (1 + u) - I_store (units alike). Promotions
   that started before the plan are facts of both plans and stay in the base.
3. **Gross margin** = revenue - units x the store's unit cost (its SKUs' `unit_cost` weighted by
   their units over the 91 days to as-of).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from liftline.features import read_products
from liftline.warehouse import read_frame, table

from .history import YEAR, has_table, monday, store_weekly_sales
from .types import PlanRequest

MEASURES = ("units", "revenue")
REFERENCE_WEEKS = 8  # without a forecast: the store's level is its last 8 full weeks
COST_DAYS = 91
WEEKLY = ["store_id", "week_start", "units", "revenue", "units_lower", "units_upper",
          "revenue_lower", "revenue_upper"]


def expected_sales(engine: Engine, request: PlanRequest, stores: pd.DataFrame, as_of: date,
                   notes: list[str], missing: list[str]) -> pd.DataFrame:
    """WEEKLY rows per store x plan week, plus `source` ("forecast" or "last_year")."""
    forecast = forecast_weeks(engine, request, as_of, notes)
    if forecast.empty:
        missing.append("sales_forecast")
        notes.append(f"no sales forecast made on or before {as_of} covers a full plan week: "
                     "expected sales are last year's same weeks at the stores' recent level")
    grid = stores[["store_id"]].merge(pd.DataFrame({"week_start": request.week_starts}),
                                      how="cross")
    known = grid.merge(forecast, on=["store_id", "week_start"], how="inner")
    rest = grid.merge(known[["store_id", "week_start"]], how="left", indicator=True)
    rest = rest.loc[rest["_merge"] == "left_only", ["store_id", "week_start"]]
    extended = last_year_weeks(engine, rest, forecast, as_of)
    if not rest.empty and not forecast.empty:
        notes.append(f"base: the forecast covers {known['week_start'].nunique()} of the "
                     f"{len(request.week_starts)} weeks; later weeks are last year's same "
                     "weeks at each store's forecast level")
    parts = [known.assign(source="forecast"), extended.assign(source="last_year")]
    out = pd.concat([p for p in parts if not p.empty] or parts, ignore_index=True)
    out = out.astype({c: float for c in WEEKLY[2:]})
    unknown = out.loc[out[["units", "revenue"]].isna().any(axis=1), "store_id"].unique()
    if len(unknown):
        notes.append(f"base: {len(unknown)} store(s) have neither a forecast nor sales a year "
                     f"before some plan weeks ({', '.join(sorted(unknown)[:5])}): those weeks "
                     "count as selling nothing")
        out[["units", "revenue"]] = out[["units", "revenue"]].fillna(0.0)
    return out.sort_values(["store_id", "week_start"], kind="mergesort").reset_index(drop=True)


def forecast_weeks(engine: Engine, request: PlanRequest, as_of: date, notes: list[str]
                   ) -> pd.DataFrame:
    """WEEKLY rows of the plan's weeks that the latest forecast covers in full."""
    if not has_table(engine, "ml_sales_forecast"):
        return pd.DataFrame(columns=WEEKLY)
    fc = table("ml_sales_forecast")
    latest = read_frame(engine, select(fc.c.run_id, fc.c.as_of_date,
                                       func.max(fc.c.created_at).label("created_at"))
                        .where(fc.c.as_of_date <= as_of, fc.c.grain == "store_day")
                        .group_by(fc.c.run_id, fc.c.as_of_date))
    if latest.empty:
        return pd.DataFrame(columns=WEEKLY)
    run = latest.sort_values(["as_of_date", "created_at", "run_id"], kind="mergesort"
                             ).iloc[-1]
    last_day = request.week_starts[-1] + pd.Timedelta(days=6)
    rows = read_frame(engine, select(fc.c.grain, fc.c.measure, fc.c.store_id, fc.c.date,
                                     fc.c.yhat, fc.c.yhat_lower, fc.c.yhat_upper,
                                     fc.c.period_days)
                      .where(fc.c.run_id == run["run_id"],
                             fc.c.date.between(request.week_starts[0].date(), last_day.date())))
    rows["measure"] = rows["measure"].fillna("units")  # rows written before the column
    rows["date"] = pd.to_datetime(rows["date"])
    notes.append(f"base: forecast run {run['run_id']} (as of "
                 f"{pd.Timestamp(run['as_of_date']).date()})")
    parts = [_weekly_measure(rows, measure) for measure in MEASURES]
    weekly = parts[0].merge(parts[1], on=["store_id", "week_start"], how="outer")
    weekly = weekly.loc[weekly["week_start"].isin(request.week_starts)]
    return weekly[WEEKLY].reset_index(drop=True)


def _weekly_measure(rows: pd.DataFrame, measure: str) -> pd.DataFrame:
    """One measure's point (store x day summed over full weeks) and interval (the store x
    category x week rows' width as a share of their point; else the days' summed)."""
    columns = ["store_id", "week_start", measure, f"{measure}_lower", f"{measure}_upper"]
    days = rows.loc[(rows["grain"] == "store_day") & (rows["measure"] == measure)].copy()
    if days.empty:
        return pd.DataFrame(columns=columns)
    days["week_start"] = monday(days["date"]).to_numpy()
    grouped = days.groupby(["store_id", "week_start"])
    point = grouped[["yhat", "yhat_lower", "yhat_upper"]].sum().loc[grouped.size() == 7]
    weeks = rows.loc[(rows["grain"] == "store_category_week") & (rows["measure"] == measure)
                     & (rows["period_days"] == 7)]
    width = weeks.groupby(["store_id", "date"])[["yhat", "yhat_lower", "yhat_upper"]].sum()
    width.index = width.index.set_names(["store_id", "week_start"])
    low = (width["yhat_lower"] / width["yhat"]).reindex(point.index)
    high = (width["yhat_upper"] / width["yhat"]).reindex(point.index)
    out = pd.DataFrame({
        measure: point["yhat"],
        f"{measure}_lower": (point["yhat"] * low).fillna(point["yhat_lower"]),
        f"{measure}_upper": (point["yhat"] * high).fillna(point["yhat_upper"])})
    return out.reset_index()[columns]


def last_year_weeks(engine: Engine, wanted: pd.DataFrame, forecast: pd.DataFrame, as_of: date
                    ) -> pd.DataFrame:
    """WEEKLY rows for the (store_id, week_start) pairs of `wanted`: the same weeks a year
    earlier at the store's level (see the module docstring)."""
    if wanted.empty:
        return pd.DataFrame(columns=WEEKLY)
    end = pd.Timestamp(as_of)
    first = min(wanted["week_start"].min(), end - pd.Timedelta(weeks=REFERENCE_WEEKS + 1)) - YEAR
    actual = store_weekly_sales(engine, first.date(), as_of)
    actual["week_start"] = pd.to_datetime(actual["week_start"])
    if forecast.empty:
        reference = actual.loc[actual["week_start"] > end - pd.Timedelta(
            weeks=REFERENCE_WEEKS + 1)]
        reference = reference.loc[reference.groupby("store_id")["week_start"].rank(
            ascending=False) <= REFERENCE_WEEKS]
    else:
        reference = forecast
    level = _levels(reference, actual)
    year_ago = wanted.assign(source_week=wanted["week_start"] - YEAR).merge(
        actual.rename(columns={"week_start": "source_week"}), on=["store_id", "source_week"],
        how="left")
    out = year_ago[["store_id", "week_start"]].copy()
    for measure in MEASURES:
        ratio = out["store_id"].map(level[f"{measure}_ratio"])
        fallback = out["store_id"].map(level[f"{measure}_mean"])
        out[measure] = (year_ago[measure] * ratio).fillna(fallback).to_numpy()
        for side in ("lower", "upper"):
            rel = out["store_id"].map(level.get(f"{measure}_{side}_rel", pd.Series(dtype=float)))
            out[f"{measure}_{side}"] = out[measure] * rel
    return out[WEEKLY]


def _levels(reference: pd.DataFrame, actual: pd.DataFrame) -> pd.DataFrame:
    """Per store: reference over the same weeks a year earlier, the reference's weekly mean,
    and (when it has intervals) its mean relative interval bounds."""
    ref = reference.assign(source_week=pd.to_datetime(reference["week_start"]) - YEAR)
    paired = ref.merge(actual.rename(columns={"week_start": "source_week"}),
                       on=["store_id", "source_week"], how="left", suffixes=("", "_ly"))
    grouped = paired.groupby("store_id")
    out = {}
    for measure in MEASURES:
        both = paired[measure].notna() & paired[f"{measure}_ly"].notna()
        now = paired[measure].where(both).groupby(paired["store_id"]).sum()
        then = paired[f"{measure}_ly"].where(both).groupby(paired["store_id"]).sum()
        out[f"{measure}_ratio"] = now / then.where(then > 0)
        out[f"{measure}_mean"] = grouped[measure].mean()
        for side in ("lower", "upper"):
            column = f"{measure}_{side}"
            if column in paired:
                out[f"{column}_rel"] = (paired[column] / paired[measure].where(
                    paired[measure] > 0)).groupby(paired["store_id"]).mean()
    return pd.DataFrame(out)


def unit_costs(engine: Engine, as_of: date, notes: list[str]) -> pd.Series:
    """Per store, the unit cost of what it sells: its SKUs' unit_cost weighted by their units
    over the COST_DAYS to as-of (SKUs without a cost left out of the weighting)."""
    sales = table("feat_sales_daily")
    first = (pd.Timestamp(as_of) - pd.Timedelta(days=COST_DAYS - 1)).date()
    sold = read_frame(engine, select(sales.c.store_id, sales.c.sku,
                                     func.sum(sales.c.units).label("units"))
                      .where(sales.c.date.between(first, as_of))
                      .group_by(sales.c.store_id, sales.c.sku))
    costs = read_products(engine, ["sku", "unit_cost"]).drop_duplicates("sku")
    sold = sold.merge(costs, on="sku", how="left").dropna(subset=["unit_cost"])
    if sold.empty:
        notes.append("base: no unit costs in products: gross margin is revenue")
        return pd.Series(dtype=float)
    sold["cost"] = sold["units"] * sold["unit_cost"]
    grouped = sold.groupby("store_id")
    return grouped["cost"].sum() / grouped["units"].sum().where(lambda u: u > 0)


def remove_media_and_promotions(expected: pd.DataFrame, contained: pd.DataFrame,
                                contribution: pd.DataFrame, countries: pd.Series
                                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The base per store x week and the business-as-usual uplift per country x week.

    `expected`: WEEKLY (+ source); `contained`: store_id, week_start, units, revenue of the
    promotion increments the expected sales hold; `contribution`: country, week_start,
    contribution (the stores' part of business-as-usual media); `countries`: store -> country.
    """
    frame = expected.merge(contained.rename(columns={"units": "i_units",
                                                     "revenue": "i_revenue"}),
                           on=["store_id", "week_start"], how="left")
    frame[["i_units", "i_revenue"]] = frame[["i_units", "i_revenue"]].astype(float).fillna(0.0)
    frame["country"] = frame["store_id"].map(countries)
    per_country = frame.groupby(["country", "week_start"])[["revenue", "i_revenue"]].sum()
    media = contribution.set_index(["country", "week_start"])["contribution"]
    per_country["c"] = media.reindex(per_country.index).fillna(0.0).to_numpy()
    f, i, c = (per_country[k].to_numpy(float) for k in ("revenue", "i_revenue", "c"))
    b = f - i - c
    base_revenue = (b + np.sqrt(np.maximum(b * b - 4 * i * c, 0.0))) / 2
    per_country["uplift"] = np.divide(c, base_revenue, out=np.zeros_like(c),
                                      where=base_revenue > 0)
    uplift = per_country["uplift"].reset_index()
    frame = frame.merge(uplift, on=["country", "week_start"], how="left")
    scale = 1 + frame["uplift"].fillna(0.0)
    for measure in MEASURES:
        for suffix in ("", "_lower", "_upper"):
            column = f"{measure}{suffix}"
            frame[column] = (frame[column] / scale - frame[f"i_{measure}"]).clip(lower=0.0)
    return frame.drop(columns=["i_units", "i_revenue", "uplift"]), uplift
