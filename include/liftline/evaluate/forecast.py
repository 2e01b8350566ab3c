"""Sales forecast against the truth: WAPE of store x day forecasts beside the oracle and the
seasonal-naive baseline, and interval coverage.

The oracle forecasts each store-day with the truth's expected units: its WAPE is the noise no
forecast can remove. A forecast counts only for days after it was made (as_of_date < date), the
latest such one per store-day. Forecasts made at the last delivered day point past the truth
window; then the registry champions' backtest WAPE is reported instead, beside the oracle over
the same backtest days, and `source` says which was used.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Engine, or_

from liftline.forecast import coverage, wape
from liftline.registry import champion, models

from .result import absent, evaluated, not_evaluated, number, output_rows
from .truth import Truth

TABLE = "ml_sales_forecast"
FAMILY = "sales_forecast/"
NAIVE_LAG_DAYS = 7  # seasonal naive: the same weekday a week before


def evaluate_sales_forecast(engine: Engine, truth: Truth) -> dict[str, Any]:
    daily = truth.frame("baseline_daily.csv")
    if daily is None:
        return not_evaluated(truth.missing("baseline_daily.csv"))
    daily = daily.assign(date=pd.to_datetime(daily["date"]))
    first, last = daily["date"].min(), daily["date"].max()
    forecasts = output_rows(
        engine, TABLE,
        lambda c: or_(c.grain == "store_day", c.grain.is_(None)),
        lambda c: or_(c.measure == "units", c.measure.is_(None)),  # the truth is in units
        lambda c: c.date.between(first.date(), last.date()),
        lambda c: c.as_of_date < c.date)
    if forecasts is not None and not forecasts.empty:
        return _from_forecasts(forecasts, daily)
    why = (absent(TABLE, forecasts) if forecasts is None else
           f"no {TABLE} day inside the truth window was forecast before it (forecasts made at "
           f"the last delivered day, {last.date()}, point past the window)")
    return _from_registry(engine, daily, why)


def _from_forecasts(forecasts: pd.DataFrame, daily: pd.DataFrame) -> dict[str, Any]:
    kept = ["series_key", "date", "as_of_date", "yhat", "yhat_lower", "yhat_upper",
            "interval_level"]
    latest = (forecasts[[c for c in kept if c in forecasts]].sort_values("as_of_date")
              .drop_duplicates(["series_key", "date"], keep="last")
              .rename(columns={"series_key": "store_id"}))
    lagged = daily[["store_id", "date", "actual_units"]].assign(
        date=daily["date"] + pd.Timedelta(days=NAIVE_LAG_DAYS)).rename(
        columns={"actual_units": "naive"})
    rows = (latest.merge(daily, on=["store_id", "date"])
            .merge(lagged, on=["store_id", "date"], how="left"))
    if rows.empty:
        return not_evaluated(f"no {TABLE} store-day matches a truth store-day: the store ids "
                             "differ")
    # All three on the same rows: those with a week before in the truth, when there are any.
    with_naive = rows.dropna(subset=["naive"])
    rows = with_naive if len(with_naive) else rows
    y = rows["actual_units"]
    score, oracle = wape(y, rows["yhat"]), wape(y, rows["expected_units"])
    baseline = wape(y, rows["naive"]) if len(with_naive) else None
    return evaluated(
        "WAPE", score, baseline, oracle, _verdict(score, baseline, oracle),
        source="forecasts", wape=score, baseline_wape=baseline, oracle_wape=oracle,
        baseline_name="seasonal_naive (same weekday a week before)",
        coverage=coverage(y, rows["yhat_lower"], rows["yhat_upper"]),
        interval_level=number(rows["interval_level"].median())
        if "interval_level" in rows else None,
        rows=len(rows), stores=int(rows["store_id"].nunique()),
        first_day=rows["date"].min(), last_day=rows["date"].max(),
        horizon_days_median=number((rows["date"] - rows["as_of_date"]).dt.days.median()))


def _from_registry(engine: Engine, daily: pd.DataFrame, why: str) -> dict[str, Any]:
    names = _forecast_models(engine)
    if not names:
        return not_evaluated(f"{why}; and no sales forecast model is registered to fall back "
                             "on its backtest")
    regions, skipped = {}, {}
    for name in names:
        region = name.removeprefix(FAMILY)
        try:
            regions[region] = _region_backtest(engine, name, daily)
        except (FileNotFoundError, LookupError, ValueError) as exc:
            skipped[region] = str(exc)
    if not regions:
        return not_evaluated(f"{why}; and no region's champion card could be read",
                             skipped=skipped)
    score, baseline, oracle = _pooled(regions)
    return evaluated(
        "WAPE (backtest)", score, baseline, oracle, _verdict(score, baseline, oracle),
        source="registry_backtest", why=why, wape=score, baseline_wape=baseline,
        oracle_wape=oracle, baseline_name="seasonal_naive (the champion card's baseline)",
        coverage=_pooled_coverage(regions), regions=regions, skipped=skipped)


def _forecast_models(engine: Engine) -> list[str]:
    table = models(engine)
    # Units forecasts only (sales_forecast/<region>): the truth's demand is in units.
    return [] if table.empty else sorted(m for m in table["model"] if m.startswith(FAMILY)
                                         and m.count("/") == 1)


def _region_backtest(engine: Engine, name: str, daily: pd.DataFrame) -> dict[str, Any]:
    version = champion(engine, name)
    if version is None:
        raise LookupError(f"{name} has no champion")
    card = version.card()
    stores = _region_stores(version)
    days = backtest_days(card.backtest_window)
    rows = daily[daily["store_id"].isin(stores)].merge(days, on="date")
    store_day = card.metrics.get("store_day", {})
    return {
        "champion": version.version,
        "candidate": store_day.get("champion") or card.params.get("champion"),
        "wape": number(card.score), "baseline_wape": number(card.baseline_score),
        "oracle_wape": wape(rows["actual_units"], rows["expected_units"]) if len(rows) else None,
        "coverage": number(store_day.get("coverage")),
        "stores": len(stores), "origins": card.backtest_window.get("origins", []),
        "rows": len(rows),
        # The weight that pools the regions' WAPEs (a sum of errors over a sum of actuals).
        "actual_units": float(rows["actual_units"].sum()),
        "abs_error_oracle": float((rows["actual_units"] - rows["expected_units"]).abs().sum()),
    }


def _region_stores(version: Any) -> list[str]:
    """The stores the region's model forecasts, from its training record."""
    stores = version.load("training.json").get("stores") or []
    if not stores:
        raise ValueError(f"{version.version}: training.json names no stores")
    return [str(s) for s in stores]


def backtest_days(window: dict[str, Any]) -> pd.DataFrame:
    """The days each backtest origin forecast (origin + 1 .. origin + horizon), one row per
    origin and day, as the backtest scored them (overlapping origins count a day twice)."""
    horizon = int(window.get("horizon_days") or 0)
    origins = [pd.Timestamp(o) for o in window.get("origins", [])]
    if not origins or horizon < 1:
        raise ValueError("the champion card records no backtest origins")
    return pd.DataFrame({"date": [o + pd.Timedelta(days=d) for o in origins
                                  for d in range(1, horizon + 1)]})


def _pooled(regions: dict[str, dict[str, Any]]) -> tuple[float | None, ...]:
    """Every region's WAPE pooled over its actual units: the WAPE of all store-days together."""
    weights = {r: v["actual_units"] for r, v in regions.items() if v["actual_units"] > 0}
    total = sum(weights.values())

    def pool(key: str) -> float | None:
        parts = [(regions[r][key], w) for r, w in weights.items() if regions[r][key] is not None]
        return sum(s * w for s, w in parts) / sum(w for _, w in parts) if parts else None

    oracle = sum(regions[r]["abs_error_oracle"] for r in weights) / total if total else None
    return pool("wape"), pool("baseline_wape"), oracle


def _pooled_coverage(regions: dict[str, dict[str, Any]]) -> float | None:
    parts = [(v["coverage"], v["rows"]) for v in regions.values()
             if v["coverage"] is not None and v["rows"]]
    return sum(c * n for c, n in parts) / sum(n for _, n in parts) if parts else None


def _verdict(score: float | None, baseline: float | None, oracle: float | None) -> str:
    if score is None:
        return "no score"
    against = ("no baseline" if baseline is None else
               "beats baseline" if score < baseline else "does not beat baseline")
    gap = f", {score - oracle:+.3f} above the oracle" if oracle is not None else ""
    return f"{against}{gap}"
