"""Scoring hyperparameters: media transform, CV folds, calibration, decomposition, batched.

`Evaluator.score(hyper)` takes B candidate hyperparameter sets at once (each (B, C) per
transform parameter, (B,) for lambda) and returns their objective and its parts. The media
transform is computed once per candidate over all weeks (adstock only looks back, so a test
week's media uses only spend up to it); the CV folds then take rows of one design matrix, whose
Gram matrices come from prefix sums over the blocks between fold boundaries.

Lift tests calibrate twice: each is a Gaussian likelihood term on its channel's incremental
revenue over its window (linear in the channel's coefficient: (model - test)^2 / se^2 against
the regression's weekly residual variance), added to every fit whose training weeks contain the
window; and their remaining error is part of the search objective.

A regression whose weeks are confounded (spend rises with demand the data does not show) is
confident about a wrong coefficient, and the plain likelihood lets it outvote the experiments.
So each tested channel's tests are trusted over the regression by the smallest factor (its
`discount`, >= 1) that brings them to their expected chi-square, sum z^2 <= number of tests:
a channel whose tests agree with the data keeps the plain likelihood; one whose tests cannot be
met even then is a calibration conflict (model.py reports it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .design import Design
from .ridge import add_penalty, solve_nonneg
from .spec import MMMSpec
from .transforms import Adstock, HillSaturation, make_adstock

Hyper = dict[str, np.ndarray]  # adstock params and alpha, gamma: (B, C); lam: (B,)


@dataclass(frozen=True)
class HyperSpace:
    """The search box: one unit-cube coordinate per (parameter, channel) plus log10(lambda)."""

    names: tuple[str, ...]  # per-channel parameter names, adstock first
    lower: np.ndarray  # (len(names), C)
    upper: np.ndarray
    log_lambda: tuple[float, float]

    @classmethod
    def from_spec(cls, spec: MMMSpec, channels: tuple[str, ...]) -> HyperSpace:
        if spec.adstock == "geometric":
            adstock = {"theta": [spec.theta_bounds(c) for c in channels]}
        else:
            adstock = {"shape": [spec.weibull_shape] * len(channels),
                       "scale": [spec.weibull_scale] * len(channels)}
        bounds = {**adstock, "alpha": [spec.alpha_bounds(c) for c in channels],
                  "gamma": [spec.gamma] * len(channels)}
        arr = np.array(list(bounds.values()), dtype=float)  # (P, C, 2)
        lam = spec.ridge_lambda
        return cls(tuple(bounds), arr[..., 0], arr[..., 1],
                   (float(np.log10(lam[0])), float(np.log10(lam[1]))))

    @property
    def dimension(self) -> int:
        return self.lower.size + 1

    def decode(self, unit: np.ndarray) -> Hyper:
        """(B, dimension) points of the unit cube -> hyperparameters."""
        unit = np.clip(np.atleast_2d(unit), 0.0, 1.0)
        per_channel = unit[:, :-1].reshape(len(unit), *self.lower.shape)
        values = self.lower + per_channel * (self.upper - self.lower)
        hyper = {name: values[:, i] for i, name in enumerate(self.names)}
        lo, hi = self.log_lambda
        hyper["lam"] = 10.0 ** (lo + unit[:, -1] * (hi - lo))
        return hyper

    def middle(self) -> Hyper:
        return self.decode(np.full((1, self.dimension), 0.5))


@dataclass(frozen=True)
class LiftTests:
    """Lift tests placed on the design's weeks, in the model's own terms.

    A test of a country against a wider model (it names its spend, which differs from the
    modelled spend in its window) is scaled to the model's spend: the model should return the
    test's incremental revenue per unit of spend.
    """

    channel: np.ndarray  # (J,) channel index
    window: np.ndarray  # (T, J) bool: weeks of the test (the channel switched off)
    counted: np.ndarray  # (T, J) bool: weeks whose revenue the test counts (window + post-period)
    last_week: np.ndarray  # (J,) index of the last counted week
    first_week: np.ndarray
    measured: np.ndarray  # (J,) incremental revenue as reported
    factor: np.ndarray  # (J,) test spend / modelled spend in the window (1: unscaled)
    target: np.ndarray  # (J,) measured / factor: what the model's spend should return
    target_se: np.ndarray  # (J,) its standard error
    rows: pd.DataFrame  # the tests used, as given

    @property
    def count(self) -> int:
        return len(self.channel)

    @property
    def relative_se(self) -> np.ndarray:
        """(J,) each test's standard error over its measurement."""
        return self.target_se / np.maximum(np.abs(self.target), 1e-12)


def place_lift_tests(tests: pd.DataFrame, design: Design, spec: MMMSpec, notes: list[str]
                     ) -> LiftTests | None:
    """Lift tests of modelled channels whose window lies in the modelled weeks."""
    if tests is None or tests.empty:
        return None
    weeks = design.weeks
    used, channels, windows, counted = [], [], [], []
    for row in tests.itertuples(index=False):
        start, end = pd.Timestamp(row.start_date), pd.Timestamp(row.end_date)
        until = measured_until(row)
        label = f"lift test {row.channel} {start.date()}..{end.date()}"
        if row.channel not in design.channels:
            notes.append(f"{label}: channel not modelled; not used")
            continue
        first = start - pd.Timedelta(days=start.dayofweek)
        window = np.asarray((weeks >= first) & (weeks <= end))
        if not window.any() or start < weeks[0] or until > weeks[-1] + pd.Timedelta(days=6):
            notes.append(f"{label}: outside the modelled weeks; not used")
            continue
        if not np.isfinite(row.incremental_revenue) or row.incremental_revenue == 0:
            notes.append(f"{label}: no incremental revenue measured; not used")
            continue
        used.append(row)
        channels.append(design.channels.index(row.channel))
        windows.append(window)
        counted.append(np.asarray((weeks >= first) & (weeks <= until)))
    if not used:
        return None
    frame = pd.DataFrame(used)
    channel, window = np.array(channels), np.stack(windows, axis=1)
    counted = np.stack(counted, axis=1)
    measured = frame["incremental_revenue"].to_numpy(float)
    test_spend = _column(frame, "spend")
    model_spend = (design.spend[:, channel] * window).sum(axis=0)
    scaled = np.isfinite(test_spend) & (test_spend > 0) & (model_spend > 0)
    factor = np.where(scaled, test_spend / np.where(model_spend > 0, model_spend, 1.0), 1.0)
    se = _column(frame, "std_error")
    relative = spec.lift_default_relative_se * np.abs(measured)
    se = np.where(np.isfinite(se) & (se > 0), se, relative)
    # A test carried over to a wider model by its spend share is an approximation with an
    # error of its own (the channel's curve differs between places): add it.
    se = np.where(scaled & (np.abs(factor - 1.0) > 1e-6), np.hypot(se, relative), se)
    positions = np.arange(len(weeks))[:, None]
    return LiftTests(channel, window, counted, np.where(counted, positions, -1).max(axis=0),
                     np.where(counted, positions, len(weeks)).min(axis=0), measured, factor,
                     measured / factor, se / factor, frame)


def measured_until(row) -> pd.Timestamp:
    """The last day a test counted revenue: its `measured_until` (a post-period after the
    channel came back), else its end date."""
    until = getattr(row, "measured_until", None)
    end = pd.Timestamp(row.end_date)
    return end if until is None or pd.isna(until) else max(pd.Timestamp(until), end)


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(float)


@dataclass
class Scores:
    """Per candidate (B,): the objective and its parts, and the full-sample fit."""

    objective: np.ndarray
    nrmse: np.ndarray
    rssd: np.ndarray
    lift_mape: np.ndarray  # NaN without lift tests
    roi: np.ndarray  # (B, C)
    coef: np.ndarray  # (B, p) full-sample coefficients (standardised design)


RECONCILE_STEPS = 6  # discount updates per fit; each is one batched solve
MAX_DISCOUNT = 1e4  # beyond this the tests decide alone; a test still off is a conflict


@dataclass
class Calibration:
    """Lift tests as Gaussian likelihood terms on one coefficient each, per candidate."""

    column: np.ndarray  # (J,) design column of the test's channel
    slope: np.ndarray  # (B, J) incremental (scaled revenue) per unit of that coefficient
    target: np.ndarray  # (J,) scaled incremental revenue to match
    weight: np.ndarray  # (J,) precision relative to one week's noise: sigma^2 / se^2
    se: np.ndarray  # (J,) scaled standard error of the target
    discount: np.ndarray | None = None  # (B, J) how much more the tests are trusted (>= 1)

    def effective_weight(self) -> np.ndarray:
        """(B, J) or (J,): the likelihood weight times the channel's discount."""
        return self.weight if self.discount is None else self.weight * self.discount

    def add_to(self, G: np.ndarray, c: np.ndarray, tests: np.ndarray, n: int,
               target: np.ndarray | None = None) -> None:
        """Add the tests selected by `tests` (J,) bool to systems G (B, p, p), c (B, p)."""
        target = self.target if target is None else target
        weight = np.broadcast_to(self.effective_weight(), self.slope.shape)
        for j in np.flatnonzero(tests):
            k = self.column[j]
            s = self.slope[:, j]
            G[:, k, k] += weight[:, j] * s * s / n
            c[:, k] += weight[:, j] * s * target[..., j] / n

    def z_scores(self, coef: np.ndarray) -> np.ndarray:
        """(B, J) (model - test) / se of each test under coefficients (B, p)."""
        return (self.slope * coef[:, self.column] - self.target) / self.se

    def reconcile(self, G: np.ndarray, c: np.ndarray, n: int, constrained: np.ndarray
                  ) -> None:
        """Set `discount` per candidate and tested channel: the smallest factor (starting at
        1) for which the channel's tests reach their expected chi-square in the full-sample
        fit G (B, p, p), c (B, p). Fixed point: while the regression dominates, the miss
        shrinks in proportion to the discount, so multiplying it by the rms z lands near 1."""
        _, group, onehot = channel_groups(self.column)
        count = onehot.sum(axis=0)
        self.discount = np.ones(self.slope.shape)
        everything = np.ones(len(self.column), bool)
        for _ in range(RECONCILE_STEPS):
            Gk, ck = G.copy(), c.copy()
            self.add_to(Gk, ck, everything, n)
            coef = solve_nonneg(Gk, ck, constrained)
            rms = np.sqrt((self.z_scores(coef) ** 2) @ onehot / count)  # (B, K)
            grow = np.maximum(rms, 1.0)[:, group]
            if (grow <= 1.0 + 1e-3).all():
                break
            self.discount = np.minimum(self.discount * grow, MAX_DISCOUNT)


class Evaluator:
    """Scores hyperparameters on one Design; see the module docstring."""

    def __init__(self, design: Design, spec: MMMSpec, lift: LiftTests | None = None):
        self.design, self.spec, self.lift = design, spec, lift
        self.adstock: Adstock = make_adstock(spec.adstock, spec.weibull_l_max)
        self.saturation = HillSaturation()
        self.space = HyperSpace.from_spec(spec, design.channels)
        folds = design.folds
        cuts = {0, design.n_weeks}
        for f in folds:
            cuts |= {f.train.start, f.train.stop, f.test.start, f.test.stop}
        self.cuts = np.array(sorted(cuts))
        self._position = {c: i for i, c in enumerate(self.cuts)}
        self.windows = [f.train for f in folds] + [slice(0, design.n_weeks)]
        self.test_rows = np.concatenate([np.arange(f.test.start, f.test.stop) for f in folds])
        y = design.y
        self.y_range = float(y.max() - y.min()) or 1.0
        self.total_spend = design.spend.sum(axis=0)
        self.spend_share = self.total_spend / self.total_spend.sum()
        self.lift_weight = None
        if lift is not None:
            # How fully each test's miss counts in the search objective (see test_precision).
            self.lift_precision = test_precision(lift.relative_se,
                                                 spec.lift_default_relative_se)
        if lift is not None and spec.lift_calibration_weight > 0:
            # The Gaussian likelihood of each test relative to the regression's: its
            # precision 1/se^2 against the weekly residual variance.
            noise = self._weekly_noise()
            self.lift_weight = spec.lift_calibration_weight * noise / (
                lift.target_se / design.y_scale) ** 2

    # --- pieces --------------------------------------------------------------------------

    def adstock_params(self, hyper: Hyper) -> dict[str, np.ndarray]:
        return {name: hyper[name] for name in self.adstock.param_names}

    def media(self, hyper: Hyper) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Adstocked (B, T, C), saturated (B, T, C) and the Hill inflexion points (B, C)."""
        adstocked = self.adstock.apply(self.design.spend, **self.adstock_params(hyper))
        inflexion = self.saturation.inflexion(hyper["gamma"], self.saturation.span(adstocked))
        saturated = self.saturation.at_inflexion(adstocked, hyper["alpha"], inflexion)
        return adstocked, saturated, inflexion

    def matrix(self, saturated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Design matrices (B, T, p) with media columns scaled to unit sd, and the sds (B, C)."""
        scale = saturated.std(axis=-2)
        scale = np.where(scale > 0, scale, 1.0)
        B, T = saturated.shape[0], saturated.shape[1]
        controls = np.broadcast_to(self.design.controls, (B, *self.design.controls.shape))
        X = np.concatenate([np.ones((B, T, 1)), saturated / scale[:, None, :], controls], axis=2)
        return X, scale

    def prefix_sums(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative X'X and X'y at every cut: (B, cuts, p, p), (B, cuts, p)."""
        Xt = np.swapaxes(X, 1, 2)
        grams, cross = [np.zeros(X.shape[:1] + (X.shape[2],) * 2)], [np.zeros(X.shape[::2])]
        for a, b in zip(self.cuts[:-1], self.cuts[1:], strict=True):
            grams.append(grams[-1] + Xt[:, :, a:b] @ X[:, a:b])
            cross.append(cross[-1] + (Xt[:, :, a:b] @ y[..., a:b, None])[..., 0])
        return np.stack(grams, axis=1), np.stack(cross, axis=1)

    def fit_windows(self, X: np.ndarray, lam: np.ndarray,
                    calibration: Calibration | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Coefficients of every CV fold (B, F, p) and of all weeks (B, p)."""
        grams, cross = self.prefix_sums(X, np.broadcast_to(self.design.y, X.shape[:2]))
        Gs, cs = [], []
        for rows in self.windows:
            end, start = self._position[rows.stop], self._position[rows.start]
            n = rows.stop - rows.start
            Gs.append(add_penalty((grams[:, end] - grams[:, start]) / n, lam,
                                  self.design.penalised))
            cs.append((cross[:, end] - cross[:, start]) / n)
        if calibration is not None:
            # The discount comes from all weeks (the last window) and holds in every fold.
            if calibration.discount is None:
                calibration.reconcile(Gs[-1], cs[-1], self.design.n_weeks,
                                      self.design.constrained)
            lift = self.lift
            for rows, G, c in zip(self.windows, Gs, cs, strict=True):
                inside = (lift.first_week >= rows.start) & (lift.last_week < rows.stop)
                calibration.add_to(G, c, inside, rows.stop - rows.start)
        coef = solve_nonneg(np.stack(Gs, axis=1), np.stack(cs, axis=1), self.design.constrained)
        return coef[:, :-1], coef[:, -1]

    def out_of_fold(self, X: np.ndarray, fold_coef: np.ndarray) -> np.ndarray:
        """Predictions (B, test weeks) of each fold's model on its test weeks, in order."""
        parts = [np.einsum("btp,bp->bt", X[:, f.test], fold_coef[:, k])
                 for k, f in enumerate(self.design.folds)]
        return np.concatenate(parts, axis=1)

    def contributions(self, saturated_scaled_sum: np.ndarray, coef: np.ndarray) -> np.ndarray:
        """Revenue per channel over all weeks (B, C)."""
        return coef[:, 1: 1 + self.design.n_channels] * saturated_scaled_sum * self.design.y_scale

    def unit_lift(self, hyper: Hyper, adstocked: np.ndarray, inflexion: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Saturation each lift test loses over the weeks it counts with its channel off in
        its window (B, J): the test's incremental revenue is beta (revenue per unit of
        saturation) times this. Also the saturation lost over every week from the window on
        (B, J): the window's spend's whole effect, carry-over after the counted weeks included."""
        lift = self.lift
        ch = lift.channel
        switched_off = self.design.spend[:, ch] * lift.window  # (T, J): spend cut in the window
        params = {k: v[:, ch] for k, v in self.adstock_params(hyper).items()}
        lost = self.adstock.apply(switched_off, **params)  # (B, T, J)
        on = adstocked[:, :, ch]
        alpha, g = hyper["alpha"][:, ch], inflexion[:, ch]
        delta = (self.saturation.at_inflexion(on, alpha, g)
                 - self.saturation.at_inflexion(on - lost, alpha, g))
        return (delta * lift.counted).sum(axis=1), delta.sum(axis=1)

    def calibration(self, unit_lift: np.ndarray, scale: np.ndarray) -> Calibration | None:
        """The lift tests as observations on the standardised coefficients."""
        if self.lift_weight is None:
            return None
        ch = self.lift.channel
        return Calibration(1 + ch, unit_lift / scale[:, ch], self.lift.target / self.design.y_scale,
                           self.lift_weight, self.lift.target_se / self.design.y_scale)

    def lift_errors(self, incremental: np.ndarray) -> np.ndarray:
        """Absolute percentage error per test (B, J) of the model's incremental revenue in
        the window against the test's (scaled to the model's spend)."""
        return np.abs(incremental - self.lift.target) / np.abs(self.lift.target)

    def _weekly_noise(self) -> float:
        """Residual variance (scaled) of a fit at the middle of the search box, no tests."""
        hyper = self.space.middle()
        _, saturated, _ = self.media(hyper)
        X, _ = self.matrix(saturated)
        _, coef = self.fit_windows(X, hyper["lam"])
        residual = self.design.y - X[0] @ coef[0]
        dof = max(self.design.n_weeks - self.design.n_params, 1)
        return float((residual**2).sum() / dof)

    # --- the objective -------------------------------------------------------------------

    def fit(self, hyper: Hyper) -> FitState:
        """Media, design, calibration and the coefficients of every window."""
        adstocked, saturated, inflexion = self.media(hyper)
        X, scale = self.matrix(saturated)
        unit_lift = whole_effect = calibration = None
        if self.lift is not None:
            unit_lift, whole_effect = self.unit_lift(hyper, adstocked, inflexion)
            calibration = self.calibration(unit_lift, scale)
        fold_coef, coef = self.fit_windows(X, hyper["lam"], calibration)
        return FitState(adstocked, saturated, inflexion, X, scale, unit_lift, calibration,
                        fold_coef, coef, hyper["lam"],
                        self.lift.channel if self.lift is not None else None, whole_effect)

    def score(self, hyper: Hyper) -> Scores:
        design = self.design
        state = self.fit(hyper)
        predicted = self.out_of_fold(state.X, state.fold_coef)
        errors = predicted - design.y[self.test_rows]
        nrmse = np.sqrt((errors**2).mean(axis=1)) / self.y_range
        contrib = self.contributions(state.X[:, :, 1: 1 + design.n_channels].sum(axis=1),
                                     state.coef)
        rssd = decomp_rssd(contrib, self.spend_share)
        objective = nrmse + self.spec.weight_rssd * rssd
        roi = contrib / self.total_spend
        lift_mape = np.full(len(nrmse), np.nan)
        if self.lift is not None:
            errors = self.lift_errors(state.incremental(design.y_scale))
            lift_mape = errors.mean(axis=1)
            objective = (objective
                         + self.spec.weight_lift * (errors * self.lift_precision).mean(axis=1)
                         + self.spec.weight_lift_roi * self.tested_roi_gap(state, roi))
        return Scores(objective, nrmse, rssd, lift_mape, roi, state.coef)

    def tested_roi_gap(self, state: FitState, roi: np.ndarray) -> np.ndarray:
        """How far tested channels' ROIs (B, C) stray from what their tests imply (B,): the
        mean over tested channels of |ROI / implied - 1|, less `lift_roi_tolerance`, each
        weighted by how precisely its tests imply it.

        Among shapes that meet the tests, those that extrapolate least win: a candidate whose
        ROI over all weeks is far from its tests' says the untested weeks returned much more
        (or less) per dollar than the tested ones, a curve shape the tests did not see and
        the weekly data supplied, and weekly data are where a confounder lives (mmm README,
        "What limits TV, and a confounded channel"). Tests at the default precision
        (`calibration.default_relative_se`) or better hold their channel fully; a vaguer
        one in proportion to its precision, so one noisy test cannot drag the ROI."""
        channels, implied, relative_se = self.implied_roi(state)
        gap = np.abs(roi[:, channels] / np.where(implied > 0, implied, np.nan) - 1.0)
        gap = np.maximum(np.nan_to_num(gap, nan=1.0) - self.spec.lift_roi_tolerance, 0.0)
        precision = test_precision(relative_se, self.spec.lift_default_relative_se)
        return (precision * gap).mean(axis=1)

    def implied_roi(self, state: FitState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The tested channels (K,), the ROI their tests imply under each candidate (B, K) and
        its relative standard error (B, K).

        A go-dark test measures the channel's return over the weeks it counts (its window,
        and a post-period if it had one) at the spend it ran with. Scaled by the candidate's
        own carry-over beyond them (the window's spend's whole effect over its counted effect)
        it is that spend's return per dollar: the longer the post-period, the less the
        candidate's decay decides. A channel's tests combine
        as revenue over spend, each weighted also by its relative precision (se / measured):
        tests of equal precision give their total revenue over their total spend, and one
        vague test, however large its measurement, counts little. (Weights by absolute
        variance would favour the tests that measured low, since a test's error grows with
        what it measures.)"""
        lift = self.lift
        inside = state.unit_lift
        carry = np.where(inside > 0, state.whole_effect / np.where(inside > 0, inside, 1.0), 1.0)
        spend = np.maximum((self.design.spend[:, lift.channel] * lift.window).sum(axis=0),
                           1e-12)  # (J,) the model's spend in each window
        revenue = lift.target * carry  # (B, J), in the model's terms like the target
        relative = lift.relative_se  # (J,)
        weight = spend / np.maximum(relative, 1e-6) ** 2  # per dollar of each test
        channels, _, onehot = channel_groups(lift.channel)
        weighted = revenue / spend * weight  # (B, J)
        total = weighted @ onehot  # (B, K)
        implied = total / (weight @ onehot)
        relative_se = np.sqrt(((weighted * relative) ** 2) @ onehot) / np.maximum(
            np.abs(total), 1e-12)
        return channels, implied, relative_se


@dataclass
class FitState:
    """One batch of candidates fitted: everything later steps reuse."""

    adstocked: np.ndarray  # (B, T, C)
    saturated: np.ndarray
    inflexion: np.ndarray  # (B, C)
    X: np.ndarray  # (B, T, p)
    scale: np.ndarray  # (B, C) media column sds
    unit_lift: np.ndarray | None  # (B, J)
    calibration: Calibration | None
    fold_coef: np.ndarray  # (B, F, p)
    coef: np.ndarray  # (B, p)
    lam: np.ndarray  # (B,)
    lift_channel: np.ndarray | None  # (J,) channel index of each lift test
    whole_effect: np.ndarray | None = None  # (B, J) saturation lost from the window on

    def beta(self, y_scale: float) -> np.ndarray:
        """Revenue per unit of saturation per week (B, C)."""
        n = self.scale.shape[1]
        return self.coef[:, 1: 1 + n] / self.scale * y_scale

    def incremental(self, y_scale: float) -> np.ndarray:
        """The model's incremental revenue in each lift test's window (B, J)."""
        return self.beta(y_scale)[:, self.lift_channel] * self.unit_lift


def test_precision(relative_se: np.ndarray, reference: float) -> np.ndarray:
    """How fully a lift test (or a channel's tests) counts in the search objective: fully at
    the `reference` relative standard error or better, else (reference / relative_se)^2, its
    share of the information. A vague test then steers the search little; the likelihood
    still weighs it by its own standard error."""
    return np.minimum(1.0, (reference / np.maximum(relative_se, 1e-12)) ** 2)


def channel_groups(channel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct channels (K,) of per-test channel indices (J,), each test's group (J,) and
    the (J, K) one-hot matrix that sums per-test values by channel."""
    channels, group = np.unique(channel, return_inverse=True)
    return channels, group, np.eye(len(channels))[group]


def decomp_rssd(contrib: np.ndarray, spend_share: np.ndarray) -> np.ndarray:
    """Robyn's DECOMP.RSSD: distance between effect shares and spend shares (B,)."""
    total = contrib.sum(axis=-1, keepdims=True)
    effect_share = np.where(total > 0, contrib / np.where(total > 0, total, 1.0), 0.0)
    return np.sqrt(((effect_share - spend_share) ** 2).sum(axis=-1))
