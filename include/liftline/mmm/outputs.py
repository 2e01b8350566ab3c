"""Fitting one (country, segment) from the warehouse and writing its outputs, idempotently.

`fit_and_write_mmm` is the one call a training task makes. Its rows (channel results, response
curves, budget scenarios and the registry row) replace those of the same run and fit key in one
transaction, so a rerun leaves the warehouse as one run would. Inputs that are missing are a
skipped outcome with the reason, never a failed run.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine

from liftline.warehouse import create_schema, replace_partition, table, write_transaction

from .design import MMMInputError
from .inputs import ALL_SEGMENTS, crm_last_touch, fit_keys, load_mmm_data
from .model import MarketingMixModel, MMMFit
from .spec import MMMSpec, load_spec

Log = Callable[[str], None]
PROMOTED, NOT_PROMOTED, SKIPPED = "promoted", "not_promoted", "skipped"
PROMOTABLE_GRADES = ("excellent", "good", "acceptable")


@dataclass(frozen=True)
class MMMOutcome:
    country: str
    segment: str
    status: str  # promoted / not_promoted / skipped
    reason: str = ""
    rows: dict[str, int] = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    def line(self) -> str:
        key = f"mmm {self.country}/{self.segment}"
        if self.status == SKIPPED:
            return f"{key}: skipped: {self.reason}"
        m = self.metrics
        return (f"{key}: {self.status} (grade {m.get('grade')}, CV MAPE {m.get('cv_mape', 0):.1%}, "
                f"CV R2 {m.get('cv_r2', 0):.2f}); {self.reason}")


def model_name(spec: MMMSpec, country: str, segment: str) -> str:
    return f"{spec.model_name}/{country}/{segment}"


def fit_and_write_mmm(engine: Engine, run_id: str, country: str = "ALL",
                      segment: str = ALL_SEGMENTS, spec: MMMSpec | None = None,
                      spec_path: str | Path | None = None, log: Log = print) -> MMMOutcome:
    """Fit the mix model of (country, segment) from the feature tables and write its outputs."""
    spec = spec if spec is not None else load_spec(spec_path)
    create_schema(engine)
    try:
        data = load_mmm_data(engine, spec, country, segment)
        fit = MarketingMixModel(spec, log=log).fit(data).fit_
    except MMMInputError as exc:
        outcome = MMMOutcome(country, segment, SKIPPED, str(exc))
        _write_skipped(engine, run_id, spec, outcome)
        log(outcome.line())
        return outcome
    crm = crm_last_touch(engine, country, fit.design.weeks[0], fit.design.weeks[-1]) \
        if segment == ALL_SEGMENTS else None
    status, reason = promotion(fit)
    rows = write_mmm_fit(engine, run_id, fit, crm, status)
    outcome = MMMOutcome(country, segment, status, reason, rows, _summary(fit))
    log(outcome.line())
    return outcome


def fit_and_write_all(engine: Engine, run_id: str, spec: MMMSpec | None = None,
                      log: Log = print) -> list[MMMOutcome]:
    """Every fit the spec's granularity asks for, one after another."""
    spec = spec if spec is not None else load_spec()
    create_schema(engine)
    return [fit_and_write_mmm(engine, run_id, spec=spec, log=log, **key)
            for key in fit_keys(engine, spec)]


def promotion(fit: MMMFit) -> tuple[str, str]:
    """Promoted when the CV grade is acceptable or better and it beats the no-media baseline."""
    m = fit.metrics
    if m["grade"] not in PROMOTABLE_GRADES:
        return NOT_PROMOTED, f"CV MAPE {m['cv_mape']:.1%} grades {m['grade']}"
    if not m["beats_baseline"]:
        return NOT_PROMOTED, (f"CV MAPE {m['cv_mape']:.1%} does not beat the baseline without "
                              f"media ({m['baseline_cv_mape']:.1%})")
    return PROMOTED, (f"{len(fit.channels)} channels, media {m['media_share_of_revenue']:.1%} of "
                      f"revenue, ROI spread across trials {m['roi_trial_max_relative_spread']:.0%}")


def write_mmm_fit(bind: Engine | Connection, run_id: str, fit: MMMFit,
                  crm: pd.DataFrame | None = None, status: str = PROMOTED) -> dict[str, int]:
    """Replace the fit's rows of every output table in one transaction; rows written."""
    key = {"run_id": run_id, "country": fit.country, "segment": fit.segment}
    frames = {
        "ml_mmm_channel_results": channel_rows(fit, crm),
        "ml_mmm_response_curves": fit.response_curves(),
        "ml_budget_allocation": fit.allocation,
    }
    with write_transaction(bind) as conn:
        rows = {name: replace_partition(conn, table(name), frame, key)
                for name, frame in frames.items()}
        rows["ml_model_registry"] = _write_registry(conn, run_id, fit.spec, fit.country,
                                                    fit.segment, registry_row(fit, status))
    return rows


def channel_rows(fit: MMMFit, crm: pd.DataFrame | None) -> pd.DataFrame:
    frame = fit.channel_results()
    frame["data_start"] = fit.design.weeks[0].date()
    frame["data_end"] = (fit.design.weeks[-1] + pd.Timedelta(days=6)).date()
    if crm is None:
        frame["crm_last_touch_revenue"] = np.nan
        frame["crm_last_touch_share"] = np.nan
    else:
        traced = crm.set_index("channel")["revenue"].reindex(frame["channel"]).fillna(0.0)
        total = traced.sum()
        frame["crm_last_touch_revenue"] = traced.to_numpy()
        frame["crm_last_touch_share"] = traced.to_numpy() / total if total > 0 else np.nan
    frame["crm_last_touch_roi"] = frame["crm_last_touch_revenue"] / frame["spend"]
    return frame


def registry_row(fit: MMMFit, status: str) -> dict:
    lift = fit.lift_report.replace({np.nan: None}).to_dict("records")
    metrics = {**fit.metrics, "lift_tests": lift, "search_trace": fit.search_trace(),
               "timings_s": {k: round(v, 3) for k, v in fit.timings.items()}}
    return {
        "trained_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
        "status": status,
        "metrics_json": json.dumps(metrics, default=_json_default),
        "params_json": json.dumps(fit.params(), default=_json_default),
        "data_start": fit.design.weeks[0].date(),
        "data_end": (fit.design.weeks[-1] + pd.Timedelta(days=6)).date(),
    }


def _write_registry(conn: Connection, run_id: str, spec: MMMSpec, country: str, segment: str,
                    row: dict) -> int:
    registry = table("ml_model_registry")
    name = model_name(spec, country, segment)
    artifact = (f"warehouse:ml_mmm_channel_results?run_id={run_id}&country={country}"
                f"&segment={segment}")
    frame = pd.DataFrame([{**row, "artifact_uri": artifact, "run_id": run_id}])
    return replace_partition(conn, registry, frame, {"model_name": name, "version": run_id})


def _write_skipped(engine: Engine, run_id: str, spec: MMMSpec, outcome: MMMOutcome) -> None:
    """A skipped fit clears its outputs of this run and says why in the registry."""
    key = {"run_id": run_id, "country": outcome.country, "segment": outcome.segment}
    with write_transaction(engine) as conn:
        for name in ("ml_mmm_channel_results", "ml_mmm_response_curves", "ml_budget_allocation"):
            replace_partition(conn, table(name), pd.DataFrame(), key)
        row = {"trained_at": dt.datetime.now(dt.UTC).replace(tzinfo=None), "status": SKIPPED,
               "metrics_json": json.dumps({"reason": outcome.reason}), "params_json": None,
               "data_start": None, "data_end": None}
        _write_registry(conn, run_id, spec, outcome.country, outcome.segment, row)


def _summary(fit: MMMFit) -> dict:
    keys = ("grade", "cv_mape", "cv_r2", "r2", "baseline_cv_mape", "decomp_rssd", "lift_mape",
            "roi_trial_max_relative_spread", "media_share_of_revenue")
    return {k: fit.metrics[k] for k in keys} | {
        "roi": dict(zip(fit.channels, map(float, fit.roi), strict=True))}


def _json_default(value):  # noqa: ANN001, ANN202 - json hook
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dt.date | pd.Timestamp):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
