"""Customer value segments: rules for customers too new or too quiet to cluster, K-means for
the rest, readable names that survive weekly refits, and a recommended action per segment.

- Rules first (`rule_segment`): a customer who never bought is a `prospect`; one whose
  invoices come from CRM deals is one of the `key_accounts` (sales manages them, and their
  invoices, a hundred times a consumer's, would take a cluster of their own); one without a
  purchase in the year is `lapsed`; one with a single purchase ever is a `first_purchase`.
  They would otherwise sit at the edge of every feature and pull centroids towards them.
- The rest are clustered on log-transformed, robustly scaled RFM and engagement features. k is
  chosen in the spec's range: among the k whose bootstrap agreement (mean adjusted Rand index
  between fits on resamples, measured on the same customers) reaches `min_stability`, the one
  with the best silhouette; both are measured on a sample, so 100k customers take seconds. A
  refit keeps the previous k while its agreement and silhouette stay within `k_switch_margin`
  of the threshold and of the best.
- Names: on the first fit, clusters are matched to archetypes (champions, loyal, ...) by a
  Hungarian assignment on how well each centroid's profile fits each archetype. On a refit,
  each new centroid is matched (Hungarian, distance in standard deviations) to the previous
  champion's centroids and keeps the name of its match; a cluster with no match within
  `match_distance` is genuinely new and gets an archetype name not in use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from threadpoolctl import threadpool_limits

from liftline.modeling import Estimator

PROSPECT, ACCOUNTS, LAPSED, FIRST_PURCHASE = ("prospect", "key_accounts", "lapsed",
                                              "first_purchase")
# Segment name -> recommended action. Rule segments first, then the cluster archetypes.
ACTIONS = {
    PROSPECT: "activate",
    ACCOUNTS: "retain",
    FIRST_PURCHASE: "activate",
    LAPSED: "win back",
    "champions": "retain",
    "loyal": "upsell",
    "big_spenders": "upsell",
    "bargain_hunters": "upsell",
    "newcomers": "activate",
    "occasional": "activate",
    "at_risk": "win back",
}
RULE_SEGMENTS = (PROSPECT, ACCOUNTS, LAPSED, FIRST_PURCHASE)


def _z(profile: dict[str, float], name: str) -> float:
    return profile.get(name, 0.0)


# How well a segment's profile (its members' mean features, log scale, in robust standard
# deviations from the clustered customers' median: `_member_profiles`) fits each archetype:
# higher is better. A high recency_days means long since the last purchase.
ARCHETYPES: dict[str, Callable[[dict[str, float]], float]] = {
    "champions": lambda p: (_z(p, "frequency") + _z(p, "monetary") - _z(p, "recency_days")) / 3,
    "loyal": lambda p: (_z(p, "frequency") + _z(p, "tenure_days") - _z(p, "recency_days")) / 3
    - abs(_z(p, "monetary")) / 3,
    "big_spenders": lambda p: (_z(p, "avg_order_value") - _z(p, "frequency")) / 2,
    "bargain_hunters": lambda p: (_z(p, "frequency") - _z(p, "avg_order_value")) / 2,
    "newcomers": lambda p: -_z(p, "tenure_days"),
    "occasional": lambda p: -(_z(p, "frequency") + _z(p, "monetary")) / 2,
    "at_risk": lambda p: (_z(p, "recency_days") - _z(p, "frequency")) / 2,
}
# What a segment's profile (and so its name) is read from, whichever features it clusters on.
PROFILE_FEATURES = ("recency_days", "frequency", "monetary", "avg_order_value", "tenure_days")
IQR_PER_SD = 1.349  # the interquartile range of a normal distribution, in standard deviations
TREND_CAP = 9.0  # spend ratio - 1 beyond this is one outlier more, not information


def transform_features(frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """The clustering inputs: log(1 + x) of the non-negative counts and amounts, and the log of
    the spend ratio for the trend, so a few big spenders do not own the scale."""
    out = {}
    for name in features:
        values = pd.to_numeric(frame[name], errors="coerce").astype("float64") \
            if name in frame else pd.Series(np.nan, index=frame.index)
        if name == "spend_trend":
            out[name] = np.log1p(values.clip(-0.9, TREND_CAP))
        else:
            out[name] = np.log1p(values.clip(lower=0))
    return pd.DataFrame(out, index=frame.index)


def rule_segment(snapshot: pd.DataFrame, purchases_ever: pd.Series) -> pd.Series:
    """The rule segment of each customer (None: clustered). `purchases_ever`: invoices on or
    before the as-of, aligned with `snapshot`; feat_customer's `frequency` counts the year's."""
    ever = purchases_ever.fillna(0).to_numpy()
    in_year = pd.to_numeric(snapshot["frequency"], errors="coerce").fillna(0).to_numpy()
    deals = pd.to_numeric(snapshot.get("crm_opportunities", pd.Series(0, index=snapshot.index)),
                          errors="coerce").fillna(0).to_numpy()
    found = np.select([ever <= 0, deals > 0, in_year <= 0, ever <= 1],
                      [PROSPECT, ACCOUNTS, LAPSED, FIRST_PURCHASE], default="")
    return pd.Series(np.where(found == "", None, found), index=snapshot.index, dtype=object)


@dataclass
class KChoice:
    k: int
    silhouette: float
    stability: float


class SegmentModel(Estimator):
    """K-means segments with named clusters; `fit(frame)` on the customers to cluster,
    `predict(frame)` gives each customer's segment name."""

    name = "kmeans_segments"

    def __init__(self, features: list[str], k_min: int = 3, k_max: int = 8,
                 min_stability: float = 0.75, resamples: int = 3, fit_sample: int = 20000,
                 score_sample: int = 4000, match_distance: float = 1.5,
                 k_switch_margin: float = 0.05, seed: int = 7,
                 previous: SegmentModel | None = None) -> None:
        self.features = features
        self.k_min = k_min
        self.k_max = k_max
        self.min_stability = min_stability
        self.resamples = resamples
        self.fit_sample = fit_sample
        self.score_sample = score_sample
        self.match_distance = match_distance
        self.k_switch_margin = k_switch_margin
        self.seed = seed
        self.previous = previous

    # --- fit -------------------------------------------------------------------------------

    def fit(self, frame: pd.DataFrame) -> SegmentModel:
        # One thread: the many small K-means fits of the k search spend more on waking an
        # OpenMP team than on arithmetic, worse still on cores other tasks share.
        with threadpool_limits(limits=1, user_api="openmp"):
            return self._fit(frame)

    def _fit(self, frame: pd.DataFrame) -> SegmentModel:
        raw = transform_features(frame, list(self.features))
        self.features_ = [c for c in raw.columns if raw[c].notna().any()]
        raw = raw[self.features_]
        self.fill_ = raw.median().to_dict()
        values = raw.fillna(self.fill_).to_numpy()
        self.mean_, self.scale_ = _robust_scale(values)
        x = (values - self.mean_) / self.scale_
        rng = np.random.default_rng(self.seed)
        self.choices_ = self._choose_k(_sample(x, self.fit_sample, rng), rng)
        self.k_ = self._chosen_k(self.choices_)
        self.centers_ = _final_fit(x, self.k_, self.seed, self.fit_sample)  # scaled space
        labels = _nearest(x, self.centers_)
        self.sizes_ = np.bincount(labels, minlength=self.k_).tolist()
        self.profiles_ = _member_profiles(frame, labels, self.k_)
        self.names_ = self._name(self.centers_)
        return self

    def _choose_k(self, x: np.ndarray, rng: np.random.Generator) -> list[KChoice]:
        """Silhouette and bootstrap agreement of every k in range, on one evaluation sample."""
        probe = _sample(x, self.score_sample, rng)
        upper = min(self.k_max, max(len(x) - 1, self.k_min))
        choices = []
        for k in range(self.k_min, upper + 1):
            reference = _quick_fit(x, k, self.seed).predict(probe)
            if len(np.unique(reference)) < 2:
                continue
            agreement = []
            for b in range(self.resamples):
                rows = rng.integers(0, len(x), len(x))
                refit = _quick_fit(x[rows], k, self.seed + b + 1)
                agreement.append(adjusted_rand_score(reference, refit.predict(probe)))
            choices.append(KChoice(k, float(silhouette_score(probe, reference)),
                                   float(np.mean(agreement)) if agreement else 1.0))
        return choices or [KChoice(self.k_min, float("nan"), float("nan"))]

    def _chosen_k(self, choices: list[KChoice]) -> int:
        """The best k; or the previous model's k while its agreement stays within
        `k_switch_margin` of `min_stability` and its silhouette within it of the best: both
        are estimates from a few thousand rows and a few resamples, and weekly refits should
        not flip between two nearly equal k and move customers for nothing."""
        best = _best(choices, self.min_stability)
        kept = next((c for c in choices if self.previous is not None
                     and c.k == self.previous.k_), None)
        margin = self.k_switch_margin
        if (kept is not None and kept.stability >= self.min_stability - margin
                and kept.silhouette >= best.silhouette - margin):
            return kept.k
        return best.k

    # --- names -----------------------------------------------------------------------------

    def _name(self, centers: np.ndarray) -> list[str]:
        """Names carried over from the previous model where a centroid matches, archetype
        names for the rest."""
        names: list[str | None] = [None] * len(centers)
        if self.previous is not None:
            for new, old_name in self._carried_over(centers).items():
                names[new] = old_name
        unnamed = [i for i, n in enumerate(names) if n is None]
        free = [a for a in ARCHETYPES if a not in names]
        profiles = [self.profiles_[i] for i in unnamed]
        for i, name in zip(unnamed, _archetype_names(profiles, free), strict=True):
            names[i] = name
        return [str(n) for n in names]

    def _carried_over(self, centers: np.ndarray) -> dict[int, str]:
        """New centroid -> the previous name it keeps (Hungarian on distances measured in this
        fit's standard deviations, over the features both models cluster on)."""
        prev = self.previous
        common = [f for f in self.features_ if f in prev.features_]
        if not common:
            return {}
        mine = [self.features_.index(f) for f in common]
        theirs = [prev.features_.index(f) for f in common]
        old = prev.log_centers()[:, theirs]
        new = self.log_centers_of(centers)[:, mine]
        scale = self.scale_[mine]
        cost = np.sqrt((((new[:, None, :] - old[None, :, :]) / scale) ** 2).sum(axis=2)
                       / len(common))
        rows, cols = linear_sum_assignment(cost)
        return {int(r): prev.names_[c] for r, c in zip(rows, cols, strict=True)
                if cost[r, c] <= self.match_distance}

    def log_centers_of(self, centers: np.ndarray) -> np.ndarray:
        return centers * self.scale_ + self.mean_

    def log_centers(self) -> np.ndarray:
        """Centroids in the transformed (log) units, comparable between fits."""
        return self.log_centers_of(self.centers_)

    # --- predict ---------------------------------------------------------------------------

    def predict(self, frame: pd.DataFrame) -> pd.Series:
        if frame.empty:
            return pd.Series([], index=frame.index, dtype=object)
        x = self._scaled(frame)
        return pd.Series(np.asarray(self.names_, dtype=object)[_nearest(x, self.centers_)],
                         index=frame.index)

    def _scaled(self, frame: pd.DataFrame) -> np.ndarray:
        raw = transform_features(frame, self.features_).fillna(self.fill_)
        return (raw.to_numpy() - self.mean_) / self.scale_

    def profiles(self) -> dict[str, dict[str, float]]:
        """Each segment's mean profile (PROFILE_FEATURES, log scale, in robust standard
        deviations from the clustered customers' median): what its name was chosen from."""
        return dict(zip(self.names_, self.profiles_, strict=True))

    # --- persistence -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"params": {k: v for k, v in self.get_params().items() if k != "previous"},
                "features": self.features_, "fill": self.fill_, "mean": self.mean_.tolist(),
                "scale": self.scale_.tolist(), "centers": self.centers_.tolist(),
                "names": self.names_, "sizes": self.sizes_, "k": self.k_,
                "profiles": self.profiles_,
                "choices": [vars(c) for c in self.choices_]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SegmentModel:
        model = cls(**data["params"])
        model.features_ = list(data["features"])
        model.fill_ = dict(data["fill"])
        model.mean_ = np.asarray(data["mean"], dtype=float)
        model.scale_ = np.asarray(data["scale"], dtype=float)
        model.centers_ = np.asarray(data["centers"], dtype=float)
        model.names_ = list(data["names"])
        model.sizes_ = list(data.get("sizes", []))
        model.k_ = int(data["k"])
        model.profiles_ = list(data.get("profiles", []))
        model.choices_ = [KChoice(**c) for c in data.get("choices", [])]
        return model


def assign_segments(model: SegmentModel | None, snapshot: pd.DataFrame,
                    purchases_ever: pd.Series) -> pd.Series:
    """Every customer's segment: the rule's when one applies, else the model's."""
    labels = rule_segment(snapshot, purchases_ever)
    open_ = labels.isna()
    if model is not None and open_.any():
        labels[open_] = model.predict(snapshot.loc[open_])
    return labels.fillna(FIRST_PURCHASE)  # no model yet: every buyer is still to be activated


def action_of(segment: str) -> str:
    base = segment.rsplit("_", 1)[0] if segment not in ACTIONS else segment
    return ACTIONS.get(base, "nurture")


def _archetype_names(profiles: list[dict[str, float]], free: list[str]) -> list[str]:
    """Archetype names for clusters with these profiles: the assignment (Hungarian) that
    maximises the summed fit; clusters beyond the archetypes left are `segment_N`."""
    if not profiles:
        return []
    fit = np.array([[ARCHETYPES[a](p) for a in free] for p in profiles]) if free else \
        np.zeros((len(profiles), 0))
    rows, cols = linear_sum_assignment(-fit) if free else (np.array([], int), np.array([], int))
    names = [f"segment_{i + 1}" for i in range(len(profiles))]
    for r, c in zip(rows, cols, strict=True):
        names[r] = free[c]
    return names


def _robust_scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and interquartile range (as a standard deviation) per column: a few accounts
    whose invoices are a hundred times a consumer's would otherwise set the scale and flatten
    the differences between everyone else."""
    centre = np.nanmedian(values, axis=0)
    spread = np.subtract(*np.nanpercentile(values, [75, 25], axis=0)) / IQR_PER_SD
    fallback = np.nanstd(values, axis=0)
    return centre, np.where(spread > 0, spread, np.where(fallback > 0, fallback, 1.0))


def _member_profiles(frame: pd.DataFrame, labels: np.ndarray, k: int
                     ) -> list[dict[str, float]]:
    """Per cluster, the mean of its members' PROFILE_FEATURES (log scale, robustly scaled).

    From the members, not the centroid, so a cluster is named by what the archetypes look at
    (order value included) whichever features it was clustered on."""
    raw = transform_features(frame, list(PROFILE_FEATURES))
    raw = raw[[c for c in raw.columns if raw[c].notna().any()]]
    if raw.empty:
        return [{} for _ in range(k)]
    centre, scale = _robust_scale(raw.to_numpy())
    scaled = pd.DataFrame((raw.to_numpy() - centre) / scale, columns=raw.columns)
    means = scaled.groupby(labels).mean().reindex(range(k))
    return [{c: round(float(v), 3) for c, v in row.items() if pd.notna(v)}
            for _, row in means.iterrows()]


def _sample(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return x if len(x) <= n else x[rng.choice(len(x), n, replace=False)]


def _quick_fit(x: np.ndarray, k: int, seed: int) -> KMeans:
    # Full Lloyd iterations on a sample: on a few thousand rows they beat mini-batches, whose
    # many small steps each pay the thread pool's start-up.
    return KMeans(n_clusters=k, n_init=2, max_iter=100, random_state=seed).fit(x)


def _final_fit(x: np.ndarray, k: int, seed: int, sample: int) -> np.ndarray:
    """Centroids on every customer: seeded from a fit on a sample, then mini-batch passes
    over all of them when there are many (100k customers: a second), else Lloyd's."""
    start = _quick_fit(_sample(x, sample, np.random.default_rng(seed)), k, seed).cluster_centers_
    if len(x) <= sample:
        return start
    return MiniBatchKMeans(n_clusters=k, init=start, n_init=1, batch_size=4096, max_iter=20,
                           random_state=seed).fit(x).cluster_centers_


def _best(choices: list[KChoice], min_stability: float) -> KChoice:
    stable = [c for c in choices if c.stability >= min_stability]
    if stable:
        return max(stable, key=lambda c: (c.silhouette, -c.k))
    return max(choices, key=lambda c: (c.stability, -c.k))


def _nearest(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    d = ((x[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    return d.argmin(axis=1)
