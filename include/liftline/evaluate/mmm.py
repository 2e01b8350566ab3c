"""Media mix against the truth: each channel's ROI beside the truth's, per country the model
and the truth share (`ALL` is the total). The truth's ROI is taken over the fit's own weeks
(media_weekly.csv), or over the delivered window (channels.csv) without weekly truth.

Rows come from the latest fit (the latest data_end; at the same data_end a run with champion
rows before one without), whole-business fits only (segment `all`). The baseline gives every
channel the same ROI, the fit's total contribution over its total spend: a model that cannot
tell channels apart.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from .result import absent, evaluated, not_evaluated, output_rows, share
from .truth import Truth

TABLE = "ml_mmm_channel_results"
TOTAL = "ALL"


def evaluate_mmm(engine: Engine, truth: Truth) -> dict[str, Any]:
    channels = truth.frame("channels.csv")
    if channels is None:
        return not_evaluated(truth.missing("channels.csv"))
    results = output_rows(engine, TABLE, lambda c: c.segment == "all")
    reason = absent(TABLE, results)
    if reason:
        return not_evaluated(reason)
    fit = latest_fit(results)
    true_roi, truth_window = truth_roi(channels, truth.frame("media_weekly.csv"), fit)
    rows = fit.merge(true_roi, on=["country", "channel"])
    rows = rows[rows["true_roi"].notna() & (rows["true_roi"] != 0)]
    if rows.empty:
        return not_evaluated(f"no country and channel of the latest {TABLE} fit is in the "
                             "truth's channels.csv")
    rows = rows.assign(
        error_pct=(rows["roi"] - rows["true_roi"]) / rows["true_roi"].abs() * 100,
        baseline_roi=rows.groupby("country")["contribution"].transform("sum")
        / rows.groupby("country")["spend"].transform("sum"),
        holds_truth=(rows["roi_lower"] <= rows["true_roi"]) & (rows["true_roi"] <= rows["roi_upper"]))
    rows["baseline_error_pct"] = (rows["baseline_roi"] - rows["true_roi"]) / rows["true_roi"].abs() * 100
    headline = rows[rows["country"] == TOTAL] if (rows["country"] == TOTAL).any() else rows
    mape, base = float(headline["error_pct"].abs().mean()), \
        float(headline["baseline_error_pct"].abs().mean())
    held = int(headline["holds_truth"].sum())
    verdict = ("beats" if mape < base else "does not beat") + \
        f" baseline, {held}/{len(headline)} intervals hold truth"
    statuses = set(headline.get("model_status", pd.Series(dtype=object)).dropna())
    if statuses and "champion" not in statuses:
        verdict += f" ({'/'.join(sorted(statuses))} fit)"  # shown, not acted on
    return evaluated(
        "ROI MAPE %", mape, base, None, verdict,
        truth_window=truth_window, run_id=str(fit["run_id"].iloc[0]), data_end=fit["data_end"].max()
        if "data_end" in fit else None,
        model_status=_statuses(fit), headline_countries=sorted(headline["country"].unique()),
        mape_pct=mape, baseline_mape_pct=base, coverage=share(headline["holds_truth"]),
        baseline_name="one ROI for every channel (the fit's total contribution / spend)",
        countries={country: _country(part) for country, part in rows.groupby("country")})


def truth_roi(channels: pd.DataFrame, weekly: pd.DataFrame | None,
              fit: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The true ROI per country (and ALL) and channel over the fit's own weeks when the truth
    has them week by week (a fit of part of the world is judged on that part), else over the
    whole delivered window (channels.csv); and which window was used."""
    start, end = (pd.to_datetime(fit[c]).min() if c in fit else pd.NaT
                  for c in ("data_start", "data_end"))
    if weekly is None or pd.isna(start) or pd.isna(end):
        return channels[["country", "channel", "roi"]].rename(
            columns={"roi": "true_roi"}), "delivered window (channels.csv)"
    weeks = pd.to_datetime(weekly["week_start"])
    inside = weekly[(weeks >= start) & (weeks <= end)]
    sums = pd.concat([inside, inside.assign(country=TOTAL)]).groupby(
        ["country", "channel"], as_index=False)[["spend", "contribution"]].sum()
    sums["true_roi"] = sums["contribution"] / sums["spend"].where(sums["spend"] > 0)
    return (sums[["country", "channel", "true_roi"]],
            f"the fit's weeks {start.date()} .. {end.date()} (media_weekly.csv)")


def latest_fit(results: pd.DataFrame) -> pd.DataFrame:
    """The rows of the newest run: by data_end, then a run with champion rows, then run id."""
    status = results.get("model_status", pd.Series(None, index=results.index))
    runs = (results.assign(_champion=status.eq("champion"),
                           _end=results.get("data_end", pd.Series(pd.NaT, index=results.index)))
            .groupby("run_id", as_index=False)
            .agg(_end=("_end", "max"), _champion=("_champion", "any")))
    runs = runs.sort_values(["_end", "_champion", "run_id"], ascending=False, na_position="last")
    return results[results["run_id"] == runs["run_id"].iloc[0]]


def _statuses(fit: pd.DataFrame) -> dict[str, Any]:
    if "model_status" not in fit:
        return {}
    return {country: part["model_status"].iloc[0] for country, part in fit.groupby("country")}


def _country(rows: pd.DataFrame) -> dict[str, Any]:
    channels = {
        r.channel: {"roi": r.roi, "true_roi": r.true_roi, "error_pct": r.error_pct,
                    "roi_lower": r.roi_lower, "roi_upper": r.roi_upper,
                    "holds_truth": bool(r.holds_truth)}
        for r in rows.itertuples(index=False)}
    return {"mape_pct": float(np.abs(rows["error_pct"]).mean()),
            "baseline_mape_pct": float(np.abs(rows["baseline_error_pct"]).mean()),
            "coverage": share(rows["holds_truth"]), "channels": channels}
