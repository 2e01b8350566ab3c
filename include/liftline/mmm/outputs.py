"""Fitting one (country, segment) from the warehouse and writing its outputs, idempotently.

`fit_and_write_mmm` is the one call a training task makes. Its rows (channel results, response
curves, budget scenarios and the registry version) replace those of the same run and fit key in
one transaction, so a rerun leaves the warehouse as one run would. Inputs that are missing are a
skipped outcome with the reason, never a failed run.

Each fit is registered as a version of `mmm/<country>/<segment>`. It becomes champion only if
its CV grade is acceptable and it beats the no-media baseline, and (against an earlier champion)
its CV MAPE is better by the spec's margin or it is the same spec refitted on newer weeks. A
fit that is not champion still writes its results, marked `model_status = challenger` with the
reason in `model_note`, so nobody acts on its budget without being told.
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

from liftline import registry
from liftline.alerts import latest_alert_state, record_alert
from liftline.modeling import spec_hash
from liftline.warehouse import (
    append_audit,
    create_schema,
    replace_partition,
    table,
    write_transaction,
)

from .design import MMMInputError
from .inputs import ALL_SEGMENTS, crm_last_touch, fit_keys, load_mmm_data
from .model import MarketingMixModel, MMMFit
from .spec import MMMSpec, load_spec

Log = Callable[[str], None]
SKIPPED = registry.SKIPPED
PROMOTABLE_GRADES = ("excellent", "good", "acceptable")
CALIBRATION_CONFLICT = "calibration_conflict"


@dataclass(frozen=True)
class MMMOutcome:
    country: str
    segment: str
    status: str  # champion / challenger / skipped
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
    rows, version = write_mmm_fit(engine, run_id, fit, crm, log)
    reason = version.metrics.get("promotion", {}).get("reason", "")
    outcome = MMMOutcome(country, segment, version.status, reason, rows,
                         _summary(fit) | {"version": version.version,
                                          "champion_changed": version.status == registry.CHAMPION
                                          and version.run_id == run_id})
    log(outcome.line())
    return outcome


def fit_and_write_all(engine: Engine, run_id: str, spec: MMMSpec | None = None,
                      log: Log = print) -> list[MMMOutcome]:
    """Every fit the spec's granularity asks for, one after another."""
    spec = spec if spec is not None else load_spec()
    create_schema(engine)
    return [fit_and_write_mmm(engine, run_id, spec=spec, log=log, **key)
            for key in fit_keys(engine, spec)]


def promotion(fit: MMMFit) -> tuple[bool, str]:
    """The stage's own bar: a CV grade of acceptable or better, and beating the no-media
    baseline, or coming within the spec's tolerance of it when the fit's lift tests refute
    it. (The registry then compares with the champion.)"""
    m = fit.metrics
    if m["grade"] not in PROMOTABLE_GRADES:
        return False, f"CV MAPE {m['cv_mape']:.1%} grades {m['grade']}"
    if not m["passes_baseline"]:
        if m["baseline_refuted_by_lift_tests"]:
            return False, (f"CV MAPE {m['cv_mape']:.1%} is not within "
                           f"{fit.spec.baseline_tolerance_tested:.0%} of the baseline without "
                           f"media ({m['baseline_cv_mape']:.1%}), though its lift tests refute "
                           "that baseline")
        return False, (f"CV MAPE {m['cv_mape']:.1%} does not beat the baseline without "
                       f"media ({m['baseline_cv_mape']:.1%})")
    return True, (f"{len(fit.channels)} channels, media {m['media_share_of_revenue']:.1%} of "
                  f"revenue, ROI spread across trials {m['roi_trial_max_relative_spread']:.0%}")


def baseline_name(fit: MMMFit) -> str:
    """The registry's name for the bar: the no-media regression, and how far a fit may trail
    it when the fit's lift tests refute it."""
    m = fit.metrics
    if not m.get("baseline_refuted_by_lift_tests"):
        return "no_media"
    return (f"no_media +{fit.spec.baseline_tolerance_tested:.0%} (refuted by "
            f"{m.get('lift_tests_used', 0)} lift tests, z {m['lift_evidence_z']:.1f})")


def write_mmm_fit(bind: Engine | Connection, run_id: str, fit: MMMFit,
                  crm: pd.DataFrame | None = None, log: Log = print
                  ) -> tuple[dict[str, int], registry.Version]:
    """Register the fit and replace its rows of every output table, in one transaction."""
    key = {"run_id": run_id, "country": fit.country, "segment": fit.segment}
    with write_transaction(bind) as conn:
        version = register_fit(conn, run_id, fit, log)
        verdict = {"model_status": version.status,
                   "model_note": version.metrics.get("promotion", {}).get("reason")}
        frames = {
            "ml_mmm_channel_results": channel_rows(fit, crm).assign(**verdict),
            "ml_mmm_response_curves": fit.response_curves(),
            "ml_budget_allocation": fit.allocation.assign(**verdict),
        }
        rows = {name: replace_partition(conn, table(name), frame, key)
                for name, frame in frames.items()}
        rows["ml_model_registry"] = 1
        append_audit(conn, "recommendations_issued", version.model, run_id=run_id,
                     actor="liftline", after={"budget_scenarios": sorted(
                         frames["ml_budget_allocation"].get("scenario", pd.Series()).unique()
                         .tolist()), **verdict, "version": version.version})
        alert_calibration(conn, run_id, fit, log)
    return rows, version


def alert_calibration(conn: Connection, run_id: str, fit: MMMFit, log: Log) -> None:
    """`calibration_conflict` when the fit misses a lift test by more than 2 standard errors
    (tests that contradict each other, or one the data cannot meet); an `ok` follow-up once a
    later fit of the same model reconciles them all."""
    name = model_name(fit.spec, fit.country, fit.segment)
    report = fit.lift_report
    missed = report[~report["reconciled"].astype(bool)] if len(report) else report
    if missed.empty:
        if latest_alert_state(conn, CALIBRATION_CONFLICT, name) == "conflict":
            record_alert(conn, kind=CALIBRATION_CONFLICT, entity_key=name, severity="info",
                         state="ok", run_id=run_id,
                         title=f"{name}: every lift test is reconciled again",
                         details={"model": name, "lift_tests": len(report),
                                  "action": "No action needed."})
        return
    lines = [f"{r.channel} {r.start_date}..{r.end_date}: test {r.measured:,.0f} ± "
             f"{r.std_error:,.0f}, model {r.predicted:,.0f} ({r.z_score:+.1f} se)"
             for r in missed.itertuples()]
    title = (f"{name}: {len(missed)} lift test(s) cannot be reconciled with the data within "
             f"2 standard errors ({', '.join(sorted(set(missed['channel'])))})")
    if record_alert(conn, kind=CALIBRATION_CONFLICT, entity_key=name, severity="warning",
                    state="conflict", run_id=run_id, title=title,
                    details={"model": name, "channels": sorted(set(missed["channel"])),
                             "items": lines}):
        log(f"{CALIBRATION_CONFLICT} alert: {title}")


def register_fit(conn: Connection, run_id: str, fit: MMMFit, log: Log) -> registry.Version:
    """The fit as a registry version (its parameters and metrics as JSON)."""
    passes, reason = promotion(fit)
    m = fit.metrics
    name = model_name(fit.spec, fit.country, fit.segment)
    current = registry.champion(conn, name)
    config = spec_hash({k: v for k, v in vars(fit.spec).items() if k != "source"})
    card = registry.ModelCard(
        model=name, family="mmm", run_id=run_id, metric="cv_mape", score=m.get("cv_mape"),
        baseline=baseline_name(fit), baseline_score=m.get("baseline_bar_cv_mape"),
        backtest_window={"cv_train_weeks": fit.spec.cv_train_weeks,
                         "cv_test_weeks": fit.spec.cv_test_weeks,
                         "weeks": [str(fit.design.weeks[0].date()),
                                   str(fit.design.weeks[-1].date())]},
        data_start=str(fit.design.weeks[0].date()),
        data_end=str((fit.design.weeks[-1] + pd.Timedelta(days=6)).date()),
        metrics=registry_metrics(fit), params=fit.params(), spec_hash=config,
        promotion={} if passes else {"reason": reason})
    refresh = current is not None and current.card().spec_hash == config
    files = {"fit.json": json.loads(json.dumps({"params": fit.params(),
                                                "metrics": registry_metrics(fit)},
                                               default=_json_default))}
    return registry.register(conn, card, files, None, fit.spec.lifecycle, log,
                             promote=None if passes else False, refresh=refresh and passes)


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


def registry_metrics(fit: MMMFit) -> dict:
    lift = fit.lift_report.replace({np.nan: None}).to_dict("records")
    return json.loads(json.dumps(
        {**fit.metrics, "lift_tests": lift, "search_trace": fit.search_trace(),
         "timings_s": {k: round(v, 3) for k, v in fit.timings.items()}},
        default=_json_default))


def _write_skipped(engine: Engine, run_id: str, spec: MMMSpec, outcome: MMMOutcome) -> None:
    """A skipped fit clears its outputs of this run and says why in the registry."""
    key = {"run_id": run_id, "country": outcome.country, "segment": outcome.segment}
    with write_transaction(engine) as conn:
        for name in ("ml_mmm_channel_results", "ml_mmm_response_curves", "ml_budget_allocation"):
            replace_partition(conn, table(name), pd.DataFrame(), key)
        registry.register_skipped(conn, model_name(spec, outcome.country, outcome.segment),
                                  run_id, outcome.reason)


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
