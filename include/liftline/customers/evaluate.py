"""How much a grouping of customers says about their next-period revenue, and the naive
grouping segments must beat.

`unexplained_share`: the within-group share of the variance of next-period revenue per
customer (1 - between-group share); lower is better, as the registry wants. A grouping that
puts customers who will spend alike together explains more.

`rfm_groups`: the classic RFM-quintile score (recency, frequency and monetary quintiles,
5 best, summed) cut into the same number of groups as the segments, so the comparison is
about where the lines are drawn, not how many there are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def unexplained_share(revenue: pd.Series, groups: pd.Series) -> float:
    """Within-group sum of squares / total sum of squares of `revenue` (NaN when constant)."""
    values = pd.to_numeric(revenue, errors="coerce").fillna(0.0).astype("float64")
    total = float(((values - values.mean()) ** 2).sum())
    if total <= 0:
        return float("nan")
    within = values - values.groupby(groups.to_numpy()).transform("mean").to_numpy()
    return float((within ** 2).sum() / total)


def rfm_groups(snapshot: pd.DataFrame, n_groups: int) -> pd.Series:
    """RFM score groups (0 = lowest score) of every snapshot customer; a customer without a
    purchase in the year scores lowest on all three."""
    recency = pd.to_numeric(snapshot["recency_days"], errors="coerce")
    frequency = pd.to_numeric(snapshot["frequency"], errors="coerce").fillna(0.0)
    monetary = pd.to_numeric(snapshot["monetary"], errors="coerce").fillna(0.0)
    active = frequency > 0
    score = (_quintile(-recency.where(active), active) + _quintile(frequency, active)
             + _quintile(monetary, active))
    ranks = score.rank(method="first").to_numpy()
    cut = np.ceil(ranks / len(score) * max(n_groups, 1)).astype(int) - 1
    return pd.Series(cut, index=snapshot.index)


def _quintile(values: pd.Series, active: pd.Series) -> pd.Series:
    """1-5 quintile among active customers (5: best), 0 for inactive ones."""
    ranked = values[active].rank(pct=True, method="average")
    return (np.ceil(ranked * 5).clip(1, 5)).reindex(values.index).fillna(0.0)
