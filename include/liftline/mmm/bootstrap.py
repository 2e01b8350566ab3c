"""Moving-block bootstrap: which weeks each resample takes, and percentile intervals.

Weeks are resampled in blocks of consecutive weeks (keeping the autocorrelation a block long)
and the constrained ridge is refitted on each resample, all resamples in one batched solve
(model._bootstrap).
"""

from __future__ import annotations

import numpy as np


def block_indices(n_weeks: int, block: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n_weeks) week indices: random blocks of `block` weeks, cut to n_weeks."""
    block = max(1, min(block, n_weeks))
    rng = np.random.default_rng(seed)
    blocks = -(-n_weeks // block)
    starts = rng.integers(0, n_weeks - block + 1, size=(resamples, blocks))
    idx = (starts[:, :, None] + np.arange(block)).reshape(resamples, -1)
    return idx[:, :n_weeks]


def percentile_interval(draws: np.ndarray, level: float, axis: int = 0
                        ) -> tuple[np.ndarray, np.ndarray]:
    tail = (1.0 - level) / 2.0
    return (np.quantile(draws, tail, axis=axis), np.quantile(draws, 1.0 - tail, axis=axis))
