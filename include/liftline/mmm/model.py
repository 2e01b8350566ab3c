"""The marketing mix model: search, fit, validate, bootstrap, curves and budget, in that order.

    model = MarketingMixModel(load_spec()).fit(data)     # data: MMMData
    model.fit_.channel_results()                         # ROI with intervals, mROI, zone
    model.fit_.response_curves(); model.fit_.allocation  # curves, budget scenarios
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from liftline.modeling import Estimator

from .bootstrap import block_indices, percentile_interval
from .curves import CurveDraws, ResponseCurve, curve_table
from .design import Design, MMMData, base_controls, build_design
from .evaluate import (
    Calibration,
    Evaluator,
    FitState,
    LiftTests,
    decomp_rssd,
    measured_until,
    place_lift_tests,
)
from .optimizer import allocate_budget, target_efficiency
from .ridge import add_penalty, normal_equations, solve_nonneg
from .search import Stability, Trial, choose_stable, near_optimal, run_trials
from .spec import MMMSpec, load_spec
from .transforms import HillSaturation, make_adstock

Log = Callable[[str], None]
CONFLICT_Z = 2.0  # a lift test the fit misses by more standard errors is a calibration conflict
# Lift tests whose total incremental revenue is this many standard errors above 0 refute the
# no-media baseline (its forecast says media brings nothing).
REFUTES_NO_MEDIA_Z = 2.0


@dataclass
class MMMFit:
    """Everything one fit produced; arrays are per channel in `channels` order."""

    country: str
    segment: str
    spec: MMMSpec
    design: Design
    channels: tuple[str, ...]
    hyper: dict[str, np.ndarray]  # per-channel transform parameters (C,)
    lam: float
    inflexion: np.ndarray  # absolute Hill inflexion (adstocked spend units)
    coef: np.ndarray  # (p,) on the standardised design
    beta: np.ndarray  # (C,) revenue per unit of saturation per week
    spend: np.ndarray  # (C,) total over the modelled weeks
    contribution: np.ndarray
    roi: np.ndarray
    roi_lower: np.ndarray
    roi_upper: np.ndarray
    roi_draws: np.ndarray  # (R, C)
    mroi: np.ndarray
    fitted: np.ndarray  # (T,) in-sample revenue
    media_weekly: np.ndarray  # (T, C) weekly contribution
    metrics: dict
    trials: list[Trial]
    stability: Stability
    curves: list[ResponseCurve]
    allocation: pd.DataFrame
    lift_report: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def zones(self) -> list[str]:
        return [self.spec.zone(m) for m in self.mroi]

    def channel_results(self) -> pd.DataFrame:
        total = self.contribution.sum()
        return pd.DataFrame({
            "channel": self.channels,
            "channel_type": [self.spec.channel_type(c) for c in self.channels],
            "spend": self.spend,
            "contribution": self.contribution,
            "contribution_share": self.contribution / total if total > 0 else 0.0,
            "spend_share": self.spend / self.spend.sum(),
            "roi": self.roi, "roi_lower": self.roi_lower, "roi_upper": self.roi_upper,
            "roi_trial_sd": self.stability.roi_sd,
            "mroi": self.mroi,
            "adstock_theta": self.hyper.get("theta", np.full(len(self.channels), np.nan)),
            "adstock_shape": self.hyper.get("shape", np.full(len(self.channels), np.nan)),
            "adstock_scale": self.hyper.get("scale", np.full(len(self.channels), np.nan)),
            "hill_alpha": self.hyper["alpha"], "hill_gamma": self.hyper["gamma"],
            "hill_inflexion": self.inflexion,
            "is_significant": self.roi_lower > 0,
            "zone": self.zones,
        })

    def response_curves(self) -> pd.DataFrame:
        return curve_table(self.curves, self.spec.curve_points, self.spec.curve_max_multiplier,
                           self.spec.interval)

    def decomposition(self) -> pd.DataFrame:
        """Weekly revenue split: baseline (intercept and controls) and each channel."""
        frame = pd.DataFrame(self.media_weekly, index=self.design.weeks, columns=self.channels)
        frame.insert(0, "baseline", self.fitted - self.media_weekly.sum(axis=1))
        frame["fitted"] = self.fitted
        frame["actual"] = self.design.revenue
        return frame

    def params(self) -> dict:
        """The chosen configuration, for the model registry."""
        controls = self.coef[1 + len(self.channels):] * self.design.y_scale
        return {
            "spec": self.spec.source, "target": self.spec.target,
            "adstock": self.spec.adstock, "saturation": "hill", "lambda": self.lam,
            "channels": {c: {"type": self.spec.channel_type(c),
                             **{k: float(v[i]) for k, v in self.hyper.items()},
                             "hill_inflexion": float(self.inflexion[i]),
                             "beta": float(self.beta[i])}
                         for i, c in enumerate(self.channels)},
            "intercept": float(self.coef[0] * self.design.y_scale),
            "controls": {name: {"coef_per_sd": float(v), "center": float(m), "scale": float(s)}
                         for name, v, m, s in zip(self.design.control_names, controls,
                                                  self.design.control_center,
                                                  self.design.control_scale, strict=True)},
            "notes": list(self.design.notes),
            "search": {"optimizer": self.spec.optimizer_name, "budget": self.spec.budget,
                       "trials": self.spec.trials, "batch": self.spec.batch,
                       "seed": self.spec.seed},
        }

    def search_trace(self) -> list[dict]:
        return [{"seed": t.seed, "objective": t.objective, "nrmse": t.nrmse, "rssd": t.rssd,
                 "lift_mape": None if np.isnan(t.lift_mape) else t.lift_mape,
                 "evaluations": t.evaluations,
                 "roi": dict(zip(self.channels, map(float, t.roi), strict=True)),
                 "best_by_batch": [round(v, 6) for v in t.trace]}
                for t in self.trials]


class MarketingMixModel(Estimator):
    """The estimator interface (liftline.modeling): configuration in the constructor,
    `fit(data)` sets `fit_` and returns the model, `predict` gives revenue."""

    name = "mmm"

    def __init__(self, spec: MMMSpec | None = None, log: Log = print):
        self.spec = spec if spec is not None else load_spec()
        self.log = log

    def fit(self, data: MMMData) -> MarketingMixModel:
        spec, timings = self.spec, {}
        started = time.perf_counter()
        design = build_design(data, spec, self.log)
        notes: list[str] = []
        lift = place_lift_tests(data.lift_tests, design, spec, notes)
        for note in notes:
            self.log(f"mmm {data.country}/{data.segment}: {note}")
        evaluator = Evaluator(design, spec, lift)
        space = evaluator.space
        timings["prepare"] = time.perf_counter() - started

        started = time.perf_counter()
        trials = run_trials(evaluator, space, spec.budget, spec.batch, spec.trials, spec.seed,
                            self.log)
        stability = choose_stable(trials, spec.stable_within)
        timings["search"] = time.perf_counter() - started

        started = time.perf_counter()
        hyper = space.decode(stability.unit[None])
        state = evaluator.fit(hyper)
        metrics = _quality(evaluator, state, spec)
        timings["cv"] = time.perf_counter() - started

        started = time.perf_counter()
        draws = _bootstrap(evaluator, state, hyper, trials, spec)
        timings["bootstrap"] = time.perf_counter() - started

        started = time.perf_counter()
        self.fit_ = _assemble(data, spec, evaluator, hyper, state, draws, trials, stability,
                              metrics)
        timings["curves_and_budget"] = time.perf_counter() - started
        self.fit_.timings = timings
        return self

    def predict(self, spend: pd.DataFrame, controls: pd.DataFrame | None = None) -> pd.Series:
        """Revenue for weeks of `spend` (columns: the fitted channels) and `controls` (the
        fitted controls other than trend and Fourier). Adstock starts at zero on the first
        week given; the trend continues from the modelled weeks."""
        fit = self.fit_
        weeks = pd.DatetimeIndex(spend.index)
        missing = [c for c in fit.channels if c not in spend.columns]
        if missing:
            raise ValueError(f"spend lacks fitted channel(s) {', '.join(missing)}")
        x = spend[list(fit.channels)].to_numpy(float)
        adstock = make_adstock(fit.spec.adstock, fit.spec.weibull_l_max)
        params = {k: fit.hyper[k] for k in adstock.param_names}
        h = HillSaturation.at_inflexion(adstock.apply(x, **params), fit.hyper["alpha"],
                                        fit.inflexion)
        z = _control_rows(fit, weeks, controls)
        media = h @ fit.beta
        rest = fit.coef[0] + z @ fit.coef[1 + len(fit.channels):]
        return pd.Series(media + rest * fit.design.y_scale, index=weeks, name="revenue")


def _control_rows(fit: MMMFit, weeks: pd.DatetimeIndex, controls: pd.DataFrame | None
                  ) -> np.ndarray:
    """The fitted controls for `weeks`, standardised as in the fit."""
    base = base_controls(weeks, fit.spec)
    if "trend" in base:
        base["trend"] = (weeks - fit.design.weeks[0]).days.to_numpy(float) / 7.0
    given = controls if controls is not None else pd.DataFrame(index=weeks)
    columns = []
    for name in fit.design.control_names:
        if name in base:
            columns.append(base[name].to_numpy(float))
        elif name in given:
            columns.append(given[name].reindex(weeks).to_numpy(float))
        else:
            raise ValueError(f"controls lack fitted control {name!r}")
    raw = np.column_stack(columns) if columns else np.zeros((len(weeks), 0))
    return (raw - fit.design.control_center) / fit.design.control_scale


def _quality(evaluator: Evaluator, state: FitState, spec: MMMSpec) -> dict:
    design = evaluator.design
    y = design.y
    y_test = y[evaluator.test_rows]
    oof = evaluator.out_of_fold(state.X, state.fold_coef)[0]
    fitted = state.X[0] @ state.coef[0]
    baseline = _baseline_out_of_fold(evaluator, state)
    cv_mape = float(np.mean(np.abs(oof - y_test) / np.abs(y_test)))
    baseline_mape = float(np.mean(np.abs(baseline - y_test) / np.abs(y_test)))
    evidence = lift_evidence_z(evaluator.lift)
    refuted = bool(evidence >= REFUTES_NO_MEDIA_Z)
    bar = baseline_mape * (1.0 + spec.baseline_tolerance_tested) if refuted else baseline_mape
    return {
        "r2": _r2(y, fitted),
        "cv_r2": _r2(y_test, oof),
        "cv_mape": cv_mape,
        "cv_nrmse": float(np.sqrt(np.mean((oof - y_test) ** 2)) / evaluator.y_range),
        "grade": spec.grade(cv_mape),
        "baseline_cv_mape": baseline_mape,
        "beats_baseline": cv_mape <= baseline_mape,
        "lift_evidence_z": evidence if np.isfinite(evidence) else None,
        "baseline_refuted_by_lift_tests": refuted,
        "baseline_bar_cv_mape": bar,
        "passes_baseline": cv_mape <= bar,
        "cv_folds": len(design.folds),
        "weeks": design.n_weeks,
        "data_start": str(design.weeks[0].date()),
        "data_end": str((design.weeks[-1] + pd.Timedelta(days=6)).date()),
    }


def lift_evidence_z(lift: LiftTests | None) -> float:
    """How many standard errors the fit's lift tests together put media's incremental revenue
    above 0 (sum of measurements over the root sum of their variances; NaN without tests)."""
    if lift is None or not lift.count:
        return float("nan")
    return float(lift.target.sum() / np.sqrt((lift.target_se**2).sum()))


def _baseline_out_of_fold(evaluator: Evaluator, state: FitState) -> np.ndarray:
    """The naive baseline: the same regression without media (trend, season, controls)."""
    design = evaluator.design
    keep = np.r_[0, np.arange(1 + design.n_channels, design.n_params)]
    X0 = state.X[0][:, keep]
    constrained, penalised = design.constrained[keep], design.penalised[keep]
    parts = []
    for fold in design.folds:
        rows = X0[fold.train]
        G = add_penalty(rows.T @ rows / len(rows), float(state.lam[0]), penalised)
        b = solve_nonneg(G, rows.T @ design.y[fold.train] / len(rows), constrained)
        parts.append(X0[fold.test] @ b)
    return np.concatenate(parts)


def _r2(y: np.ndarray, yhat: np.ndarray) -> float:
    total = float(((y - y.mean()) ** 2).sum())
    return float(1.0 - ((y - yhat) ** 2).sum() / total) if total > 0 else float("nan")


@dataclass
class Draws:
    """Bootstrap draws (R resamples): the refitted betas and the curve each was fitted on."""

    beta: np.ndarray  # (R, C) revenue per unit of saturation
    alpha: np.ndarray  # (R, C)
    inflexion: np.ndarray  # (R, C)
    adstocked: np.ndarray  # (R, T, C)
    saturation_sum: np.ndarray  # (R, C)


def _bootstrap(evaluator: Evaluator, state: FitState, hyper: dict, trials: list[Trial],
               spec: MMMSpec) -> Draws:
    """Moving blocks of weeks resampled and the regression refitted on each, with lift tests
    redrawn within their standard errors; hyperparameters per `bootstrap.hyperparameters`."""
    design, R = evaluator.design, spec.bootstrap_resamples
    if spec.bootstrap_hyperparameters == "near_optimal":
        units = near_optimal(trials, spec.bootstrap_near_optimal_within, R, spec.seed + 2)
        hyper = evaluator.space.decode(units)
        state = evaluator.fit(hyper)
        pick = np.arange(R)  # resample r refits with candidate r
    else:
        hyper = {k: np.repeat(v, R, axis=0) for k, v in hyper.items()}
        pick = np.zeros(R, int)  # every resample refits the chosen candidate
    indices = block_indices(design.n_weeks, spec.bootstrap_block_weeks, R, spec.seed)
    X = np.take_along_axis(state.X[pick], indices[:, :, None], axis=1)
    G, c = normal_equations(X, design.y[indices], state.lam[pick], design.penalised)
    cal = state.calibration
    if cal is not None:
        lift = evaluator.lift
        noise = np.random.default_rng(spec.seed + 1).standard_normal((R, lift.count))
        drawn = cal.target + noise * lift.target_se / design.y_scale
        # Each resample draws every test from N(lift, se): the interval carries the tests'
        # own uncertainty, with the discount each candidate's fit found.
        Calibration(cal.column, cal.slope[pick], cal.target, cal.weight, cal.se,
                    cal.discount[pick]).add_to(G, c, np.ones(lift.count, bool), design.n_weeks,
                                               drawn)
    coef = solve_nonneg(G, c, design.constrained)
    beta = coef[:, 1: 1 + design.n_channels] / state.scale[pick] * design.y_scale
    return Draws(beta, hyper["alpha"], state.inflexion[pick], state.adstocked[pick],
                 state.saturated[pick].sum(axis=1))


def _assemble(data: MMMData, spec: MMMSpec, evaluator: Evaluator, hyper: dict,
              state: FitState, draws: Draws, trials: list[Trial],
              stability: Stability, metrics: dict) -> MMMFit:
    design = evaluator.design
    beta = state.beta(design.y_scale)[0]
    saturation_sum = state.saturated[0].sum(axis=0)
    spend = design.spend.sum(axis=0)
    contribution = beta * saturation_sum
    roi_draws = draws.beta * draws.saturation_sum / spend
    roi_lower, roi_upper = percentile_interval(roi_draws, spec.interval)
    curves = [ResponseCurve(c, float(spend[i]), state.adstocked[0, :, i],
                            float(hyper["alpha"][0, i]), float(state.inflexion[0, i]),
                            float(beta[i]),
                            CurveDraws(draws.adstocked[:, :, i], draws.alpha[:, i],
                                       draws.inflexion[:, i], draws.beta[:, i]))
              for i, c in enumerate(design.channels)]
    mroi = np.array([float(c.marginal(c.current_spend)) for c in curves])
    allocation = pd.concat([allocate_budget(curves, spec.budget_bounds),
                            target_efficiency(curves, spec.target_mroi, spec.target_bounds)],
                           ignore_index=True)
    lift_report = _lift_report(evaluator, state)
    metrics = {
        **metrics,
        "decomp_rssd": float(decomp_rssd(contribution[None], evaluator.spend_share)[0]),
        "lift_mape": float(lift_report["abs_pct_error"].mean()) if len(lift_report) else None,
        "lift_tests_used": len(lift_report),
        "calibration_conflicts": int((~lift_report["reconciled"].astype(bool)).sum()),
        "trials": len(trials),
        "near_optimal_candidates": stability.pool_size,
        "roi_trial_max_relative_spread": stability.max_relative_spread,
        "objective": stability.objective,
        "best_objective": min(t.objective for t in trials),
        "media_share_of_revenue": float(contribution.sum() / design.revenue.sum()),
    }
    return MMMFit(
        country=data.country, segment=data.segment, spec=spec, design=design,
        channels=design.channels,
        hyper={k: v[0] for k, v in hyper.items() if k != "lam"}, lam=float(state.lam[0]),
        inflexion=state.inflexion[0], coef=state.coef[0], beta=beta, spend=spend,
        contribution=contribution, roi=contribution / spend, roi_lower=roi_lower,
        roi_upper=roi_upper, roi_draws=roi_draws, mroi=mroi,
        fitted=(state.X[0] @ state.coef[0]) * design.y_scale,
        media_weekly=state.saturated[0] * beta, metrics=metrics, trials=trials,
        stability=stability, curves=curves, allocation=allocation, lift_report=lift_report)


def _lift_report(evaluator: Evaluator, state: FitState) -> pd.DataFrame:
    """Each lift test beside the model's incremental revenue over the weeks it counted, both in the
    test's own terms (scaled back to the test's spend where it names one), and the ROI its
    channel's tests imply with the model's carry-over (the search holds ROI near it)."""
    columns = ["channel", "start_date", "end_date", "measured_until", "measured", "std_error",
               "predicted", "abs_pct_error", "z_score", "discount", "reconciled", "implied_channel_roi"]
    lift = evaluator.lift
    if lift is None:
        return pd.DataFrame(columns=columns)
    incremental = state.incremental(evaluator.design.y_scale)
    errors = evaluator.lift_errors(incremental)[0]
    predicted = incremental[0] * lift.factor
    se = lift.target_se * lift.factor
    z = (predicted - lift.measured) / se
    cal = state.calibration
    discount = cal.discount[0] if cal is not None and cal.discount is not None else \
        np.ones(lift.count)
    tested, implied, _ = evaluator.implied_roi(state)
    implied_by_test = implied[0][np.searchsorted(tested, lift.channel)]
    return pd.DataFrame({
        "channel": lift.rows["channel"].to_numpy(),
        "start_date": lift.rows["start_date"].astype(str).to_numpy(),
        "end_date": lift.rows["end_date"].astype(str).to_numpy(),
        "measured_until": [str(measured_until(r).date()) for r in lift.rows.itertuples()],
        "measured": lift.measured, "std_error": se, "predicted": predicted,
        "abs_pct_error": errors, "z_score": z, "discount": discount,
        "reconciled": np.abs(z) <= CONFLICT_Z, "implied_channel_roi": implied_by_test,
    })
