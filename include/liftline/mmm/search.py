"""Hyperparameter search: Nevergrad TwoPointsDE trials and the choice of a stable solution.

Each trial is one seeded TwoPointsDE run of `budget` evaluations over the unit cube of
`HyperSpace`, asking `batch` candidates at a time and scoring them together. Trials with
different seeds should agree; the spread of channel ROI across their winners is reported and,
among every candidate within `stable_within` of the best objective, the one closest to their
median ROI is chosen (a lucky outlier does not win on a sliver of fit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import nevergrad as ng
import numpy as np

from .evaluate import Evaluator, HyperSpace

Log = Callable[[str], None]
FAILED = 1e6  # objective of a candidate whose fit produced no number


@dataclass
class Trial:
    seed: int
    unit: np.ndarray  # best point of the unit cube
    objective: float
    nrmse: float
    rssd: float
    lift_mape: float
    roi: np.ndarray  # (C,) channel ROI of the best point
    trace: list[float] = field(default_factory=list)  # best objective after each batch
    evaluations: int = 0
    units: np.ndarray | None = None  # (evaluations, dimension): every candidate evaluated
    objectives: np.ndarray | None = None  # (evaluations,)
    rois: np.ndarray | None = None  # (evaluations, C)


def run_trial(evaluator: Evaluator, space: HyperSpace, budget: int, batch: int, seed: int
              ) -> Trial:
    """One seeded TwoPointsDE run; the best candidate it evaluated (first of ties)."""
    parametrization = ng.p.Array(shape=(space.dimension,), lower=0.0, upper=1.0)
    parametrization.random_state = np.random.RandomState(seed)
    optimizer = ng.optimizers.TwoPointsDE(parametrization=parametrization, budget=budget,
                                          num_workers=batch)
    best: Trial | None = None
    trace: list[float] = []
    units, objectives, rois = [], [], []
    done = 0
    while done < budget:
        asked = [optimizer.ask() for _ in range(min(batch, budget - done))]
        unit = np.stack([candidate.value for candidate in asked])
        scores = evaluator.score(space.decode(unit))
        objective = np.where(np.isfinite(scores.objective), scores.objective, FAILED)
        for candidate, value in zip(asked, objective, strict=True):
            optimizer.tell(candidate, float(value))
        i = int(np.argmin(objective))
        if best is None or objective[i] < best.objective:
            best = Trial(seed, unit[i].copy(), float(objective[i]), float(scores.nrmse[i]),
                         float(scores.rssd[i]), float(scores.lift_mape[i]),
                         scores.roi[i].copy())
        done += len(asked)
        trace.append(best.objective)
        units.append(unit)
        objectives.append(objective)
        rois.append(scores.roi)
    best.trace, best.evaluations = trace, done
    best.units, best.objectives = np.concatenate(units), np.concatenate(objectives)
    best.rois = np.concatenate(rois)
    return best


def run_trials(evaluator: Evaluator, space: HyperSpace, budget: int, batch: int, trials: int,
               seed: int, log: Log = print) -> list[Trial]:
    results = []
    for k in range(trials):
        trial = run_trial(evaluator, space, budget, batch, seed + k)
        log(f"mmm search trial {k + 1}/{trials} (seed {seed + k}): objective "
            f"{trial.objective:.4f} (CV NRMSE {trial.nrmse:.4f}, DECOMP.RSSD {trial.rssd:.3f})")
        results.append(trial)
    return results


@dataclass(frozen=True)
class Stability:
    """The chosen candidate and how much the trials and near-optimal candidates agree."""

    unit: np.ndarray  # the chosen point of the unit cube
    objective: float  # its objective
    pool_size: int  # candidates within tolerance of the best objective
    pool_roi_median: np.ndarray  # (C,)
    trial_roi_median: np.ndarray  # (C,) over the trials' winners
    roi_sd: np.ndarray  # (C,) over the trials' winners
    roi_min: np.ndarray
    roi_max: np.ndarray

    @property
    def max_relative_spread(self) -> float:
        """Largest (max - min) / |median| ROI of the trials' winners across channels: 0 when
        all trials agree. A channel whose median is near 0 is measured against a quarter of
        the mean |median| instead, so a channel switched off in most trials stays readable."""
        median = np.abs(self.trial_roi_median)
        floor = max(0.25 * float(median.mean()) if median.size else 0.0, 1e-9)
        spread = (self.roi_max - self.roi_min) / np.maximum(median, floor)
        return float(spread.max(initial=0.0))


def choose_stable(trials: list[Trial], tolerance: float) -> Stability:
    """Among every candidate of every trial within `tolerance` of the best objective, the one
    whose channel ROI is nearest their median: a central, reproducible choice among fits the
    data cannot tell apart, not the luckiest one."""
    units, objectives, rois = _evaluated(trials)
    best = objectives.min()
    inside = np.flatnonzero(objectives <= best + tolerance * abs(best))
    median = np.median(rois[inside], axis=0)
    scale = np.maximum(np.abs(median), 1e-9 + 1e-3 * np.abs(median).max(initial=0.0))
    distance = np.sqrt((((rois[inside] - median) / scale) ** 2).mean(axis=1))
    order = np.lexsort((objectives[inside], np.round(distance, 12)))
    chosen = inside[order[0]]
    winners = np.stack([t.roi for t in trials])
    return Stability(units[chosen].copy(), float(objectives[chosen]), len(inside), median,
                     np.median(winners, axis=0), winners.std(axis=0), winners.min(axis=0),
                     winners.max(axis=0))


def _evaluated(trials: list[Trial]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.concatenate([t.units for t in trials]),
            np.concatenate([t.objectives for t in trials]),
            np.concatenate([t.rois for t in trials]))


def near_optimal(trials: list[Trial], tolerance: float, draws: int, seed: int) -> np.ndarray:
    """`draws` candidates (unit-cube points) drawn from every trial's evaluations whose
    objective is within `tolerance` of the best: the hyperparameters the data cannot tell
    apart, for the bootstrap to carry their uncertainty into the intervals."""
    units, objectives, _ = _evaluated(trials)
    best = objectives.min()
    pool = units[objectives <= best + tolerance * abs(best)]
    rng = np.random.default_rng(seed)
    return pool[rng.integers(0, len(pool), size=draws)]
