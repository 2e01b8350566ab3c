"""The promotion-lift model: lift % of a promotion in a store, from its terms and context.

Input is a *measured* frame: the columns of feat_promo_effectiveness plus `lift_pct` (the
measured lift of the promotion in that store) and `weight` (the row's baseline units). Two
LightGBM formulations compete on a time-based holdout (the promotions that started last):

- hurdle: P(lift > threshold) from a classifier, times the size of the lift when there is one
  (a regressor on the rows with lift); E[lift] = below + p x (size - below), where `below` is
  the mean lift of the rows without lift. Both models are monotone in discount, so the product
  is too.
- single: one regressor of lift on every row.

`kind: auto` keeps the one with the lower holdout MAE, scored per promotion (predicted and
measured lift are baseline-weighted over its stores). The baseline to beat is the category's
mean past lift; a model that does not beat it is not promoted (DESIGN.md, "Honest models") and
the category mean serves instead, as it does when there are too few measured promotions to
learn from. The interval is split-conformal: the `interval_level` quantile of the holdout's
absolute row residuals. The production model is then refitted on every measured promotion.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from liftline.modeling import Estimator

from .spec import PromoSpec

HURDLE, SINGLE, CATEGORY_MEAN = "hurdle", "single", "category_mean"
NUMERIC = ("discount_pct", "duration_days", "month", "n_skus", "sku_scope", "concurrent_promos",
           "past_promos_category", "past_lift_mean_category", "past_lift_last_category",
           "days_since_category_promo")
CATEGORICAL = ("promo_type", "category", "region")
RELIABILITY_BINS = 5
FORMAT = 1

Log = Callable[[str], None]


@dataclass(frozen=True)
class FeatureEncoder:
    """Numeric features as they are (NaN = unknown) and one-hot columns for the categoricals.

    One-hot rather than LightGBM categoricals: with a few hundred rows LightGBM's categorical
    splits rarely pass their minimum group size, and a vocabulary list is plain JSON.
    """

    vocab: dict[str, list[str]]

    @classmethod
    def fit(cls, frame: pd.DataFrame) -> FeatureEncoder:
        return cls({col: sorted(frame[col].dropna().astype(str).unique().tolist())
                    for col in CATEGORICAL if col in frame})

    @property
    def columns(self) -> list[str]:
        return [*NUMERIC, *(f"{col}={v}" for col, levels in self.vocab.items() for v in levels)]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        numeric = [_numeric(frame, col) for col in NUMERIC]
        dummies = [(frame[col].astype("string") == level).fillna(False).to_numpy(dtype="float64")
                   if col in frame else np.zeros(len(frame))
                   for col, levels in self.vocab.items() for level in levels]
        return np.column_stack([*numeric, *dummies]) if len(frame) else np.empty(
            (0, len(self.columns)))

    def monotone(self, discount: bool) -> list[int]:
        return [1 if discount and col == "discount_pct" else 0 for col in self.columns]


def _numeric(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col == "sku_scope":  # 1: one SKU, 0: the whole category (or everything)
        return frame["sku"].notna().to_numpy(dtype="float64") if "sku" in frame else np.zeros(
            len(frame))
    if col not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[col], errors="coerce").astype("float64").to_numpy(na_value=np.nan)


@dataclass(frozen=True)
class CategoryMean:
    """The baseline (and fallback): each category's mean lift over its measured promotions."""

    lift: dict[str, float]
    global_lift: float
    p_any: dict[str, float]
    global_p_any: float

    @classmethod
    def fit(cls, data: pd.DataFrame, threshold: float) -> CategoryMean:
        promos = promotion_lift(data)
        promos["any"] = (promos["lift_pct"] > threshold).astype("float64")
        by_cat = promos.dropna(subset=["category"]).groupby("category")
        return cls(lift=by_cat["lift_pct"].mean().to_dict(),
                   global_lift=_mean_or_nan(promos["lift_pct"]),
                   p_any=by_cat["any"].mean().to_dict(), global_p_any=_mean_or_nan(promos["any"]))

    def predict(self, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        cat = rows["category"].astype("object")
        lift = cat.map(self.lift).astype("float64").fillna(self.global_lift).to_numpy()
        p_any = cat.map(self.p_any).astype("float64").fillna(self.global_p_any).to_numpy()
        return p_any, lift


@dataclass
class LiftModel:
    """A fitted lift model: `predict` gives p_any_lift, lift_pct and its interval per row."""

    kind: str
    threshold_pct: float
    interval_level: float
    halfwidth_pp: float
    category_mean: CategoryMean
    encoder: FeatureEncoder | None = None
    boosters: dict[str, lgb.Booster] = field(default_factory=dict)
    below_mean: float = 0.0
    discount_range: dict[str, list[float]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    version: str | None = None  # the registry version (training run id) it was loaded from
    # The interval of a whole promotion's lift (its stores pooled), as ml_promo_lift holds it:
    # calibrated on the holdout's per-promotion residuals (NaN: use the store interval).
    promo_halfwidth_pp: float = math.nan

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        """One row per input row (same index): p_any_lift, lift_pct, lift_lower, lift_upper."""
        p_any, lift = self._point(rows)
        return pd.DataFrame({"p_any_lift": p_any, "lift_pct": lift,
                             "lift_lower": lift - self.halfwidth_pp,
                             "lift_upper": lift + self.halfwidth_pp}, index=rows.index)

    def in_support(self, rows: pd.DataFrame) -> np.ndarray:
        """True where the row's discount lies within those trained on for its promotion type
        (any type's, for a type never seen): trees predict flat beyond them, so a lift
        there is extrapolated. An unknown discount counts as supported."""
        if not self.discount_range:
            return np.ones(len(rows), dtype=bool)
        lows, highs = zip(*self.discount_range.values(), strict=True)
        types = rows["promo_type"].astype("object")
        lo = types.map(dict(zip(self.discount_range, lows, strict=True))).astype(
            "float64").fillna(min(lows))
        hi = types.map(dict(zip(self.discount_range, highs, strict=True))).astype(
            "float64").fillna(max(highs))
        discount = pd.to_numeric(rows["discount_pct"], errors="coerce")
        return (discount.isna() | ((discount >= lo) & (discount <= hi))).to_numpy()

    def _point(self, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == CATEGORY_MEAN or self.encoder is None:
            return self.category_mean.predict(rows)
        x = self.encoder.transform(rows)
        p_any = (self.boosters["classifier"].predict(x) if "classifier" in self.boosters
                 else self.category_mean.predict(rows)[0])
        if self.kind == SINGLE:
            return p_any, self.boosters["single"].predict(x)
        size = np.maximum(self.boosters["size"].predict(x), self.threshold_pct)
        return p_any, self.below_mean + p_any * (size - self.below_mean)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (boosters as LightGBM model strings) for ml_model_registry.params_json."""
        return {
            "format": FORMAT, "kind": self.kind, "threshold_pct": self.threshold_pct,
            "interval_level": self.interval_level, "halfwidth_pp": self.halfwidth_pp,
            "category_mean": vars(self.category_mean),
            "vocab": None if self.encoder is None else self.encoder.vocab,
            "boosters": {name: b.model_to_string() for name, b in self.boosters.items()},
            "below_mean": self.below_mean, "discount_range": self.discount_range,
            "metrics": self.metrics, "promo_halfwidth_pp": self.promo_halfwidth_pp,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any], version: str | None = None) -> LiftModel:
        if d.get("format") != FORMAT:
            raise ValueError(f"promotion-lift model format {d.get('format')!r} is not {FORMAT}: "
                             "retrain it with `liftline run`")
        return cls(
            kind=d["kind"], threshold_pct=d["threshold_pct"], interval_level=d["interval_level"],
            halfwidth_pp=d["halfwidth_pp"], category_mean=CategoryMean(**d["category_mean"]),
            encoder=None if d["vocab"] is None else FeatureEncoder(d["vocab"]),
            boosters={name: lgb.Booster(model_str=text) for name, text in d["boosters"].items()},
            below_mean=d["below_mean"], discount_range=d.get("discount_range", {}),
            metrics=d["metrics"], version=version,
            promo_halfwidth_pp=d.get("promo_halfwidth_pp", math.nan))


class LiftEstimator(Estimator):
    """The lift model behind the estimator interface (liftline.modeling): the spec in the
    constructor, `fit(measured)` trains (`train_lift_model`) and keeps the fitted `model_`,
    `predict(rows)` answers p_any_lift, lift_pct and its interval per row."""

    name = "promo_lift"

    def __init__(self, spec: PromoSpec | None = None, log: Log = print) -> None:
        self.spec = spec
        self.log = log

    def fit(self, measured: pd.DataFrame) -> LiftEstimator:
        from .spec import load_spec

        self.model_ = train_lift_model(measured, self.spec or load_spec(), self.log)
        return self

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        if not hasattr(self, "model_"):
            raise RuntimeError("promo_lift: call fit(measured) before predict(rows)")
        return self.model_.predict(rows)


def train_lift_model(measured: pd.DataFrame, spec: PromoSpec, log: Log = print) -> LiftModel:
    """Select, evaluate and refit the lift model on `measured` (see the module docstring).

    `.metrics` holds the holdout scores of each candidate and of the baseline, the chosen
    kind, calibration of the classifier and the train/holdout sizes; `reason` says why the
    category mean serves, when it does.
    """
    cfg = spec.section("model")
    data = measured_rows(measured, log)
    ends = pd.to_datetime(data.get("end_date", data["start_date"]))
    span = {"n_promos": data["promo_id"].nunique(), "n_rows": len(data),
            "data_start": _day(data["start_date"].min()), "data_end": _day(ends.max())}
    if span["n_promos"] < int(cfg["min_train_promos"]):
        reason = (f"{span['n_promos']} measured promotion(s), fewer than min_train_promos="
                  f"{cfg['min_train_promos']}: the category mean lift is the model")
        return _fallback(data, cfg, reason, span, log)
    metrics, residuals = backtest(*time_split(data, float(cfg["holdout_share"])), cfg)
    metrics = {**span, **metrics}
    log(f"promo lift: holdout MAE {metrics['mae_pp']:.1f} pp ({metrics['kind']}) vs category "
        f"mean {metrics['baseline_mae_pp']:.1f} pp over {metrics['n_holdout_promos']} promotions")
    if not metrics["beats_baseline"]:
        reason = (f"the {metrics['kind']} model's holdout MAE {metrics['mae_pp']:.1f} pp does "
                  f"not beat the category mean's {metrics['baseline_mae_pp']:.1f} pp: the "
                  "category mean lift is the model")
        return _fallback(data, cfg, reason, metrics, log, residuals["baseline"])
    final = _fit(metrics["kind"], data, cfg)
    level = float(cfg["interval_level"])
    final.halfwidth_pp = conformal_halfwidth(residuals[metrics["kind"]], level)
    final.promo_halfwidth_pp = conformal_halfwidth(_promotion_residuals(metrics), level)
    final.metrics = {**metrics, "interval_halfwidth_pp": final.halfwidth_pp,
                     "promo_interval_halfwidth_pp": final.promo_halfwidth_pp, "reason": None}
    return final


def _promotion_residuals(metrics: dict[str, Any]) -> np.ndarray:
    """Measured minus predicted lift of each holdout promotion (its stores pooled)."""
    per_promo = pd.DataFrame(metrics.get("holdout_promotions") or [])
    column = f"{metrics['kind']}_lift_pct"
    if per_promo.empty or column not in per_promo:
        return np.array([])
    return (per_promo["measured_lift_pct"] - per_promo[column]).to_numpy(dtype="float64")


def backtest(train: pd.DataFrame, holdout: pd.DataFrame, cfg: dict[str, Any]
             ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Fit the candidate kinds and the category-mean baseline on `train`, score them on
    `holdout`; the metrics name the best kind. Also returns each one's holdout row residuals."""
    threshold = float(cfg["lift_threshold_pct"])
    kinds = (HURDLE, SINGLE) if cfg["kind"] == "auto" else (cfg["kind"],)
    scored = {kind: _fit(kind, train, cfg).predict(holdout) for kind in kinds}
    base_lift = CategoryMean.fit(train, threshold).predict(holdout)[1]
    metrics = holdout_metrics(holdout, scored, base_lift, threshold)
    best = min(kinds, key=lambda kind: metrics["candidates"][kind]["mae_pp"])
    mae = metrics["candidates"][best]["mae_pp"]
    metrics.update(kind=best, mae_pp=mae, beats_baseline=bool(mae < metrics["baseline_mae_pp"]),
                   n_train_promos=train["promo_id"].nunique(),
                   n_holdout_promos=holdout["promo_id"].nunique(),
                   holdout_start=_day(holdout["start_date"].min()),
                   **calibration(holdout, scored[best]["p_any_lift"], threshold))
    actual = holdout["lift_pct"].to_numpy()
    residuals = {kind: actual - s["lift_pct"].to_numpy() for kind, s in scored.items()}
    return metrics, {**residuals, "baseline": actual - base_lift}


def measured_rows(measured: pd.DataFrame, log: Log) -> pd.DataFrame:
    """Rows with a finite measured lift and a positive weight; start_date as a timestamp."""
    lift = pd.to_numeric(measured["lift_pct"], errors="coerce")
    weight = pd.to_numeric(measured["weight"], errors="coerce")
    keep = np.isfinite(lift) & (weight > 0)
    if (~keep).any():
        log(f"promo lift: {(~keep).sum()} of {len(measured)} rows without a measured lift or "
            "weight are left out of training")
    data = measured.loc[keep].copy()
    data["lift_pct"], data["weight"] = lift[keep].astype("float64"), weight[keep].astype(
        "float64")
    data["start_date"] = pd.to_datetime(data["start_date"])
    return data.reset_index(drop=True)


def time_split(data: pd.DataFrame, share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Holdout: the latest-starting `share` of promotions (each with all its stores)."""
    starts = (data.groupby("promo_id")["start_date"].min().reset_index()
              .sort_values(["start_date", "promo_id"], kind="mergesort"))
    n_holdout = min(max(1, round(share * len(starts))), len(starts) - 1)
    held = set(starts["promo_id"].iloc[len(starts) - n_holdout:])
    in_holdout = data["promo_id"].isin(held)
    return data.loc[~in_holdout], data.loc[in_holdout]


def promotion_lift(data: pd.DataFrame, column: str = "lift_pct") -> pd.DataFrame:
    """Per promotion: the baseline-weighted mean of `column` over its stores, and its category."""
    weighted = data.assign(_wx=data[column] * data["weight"])
    grouped = weighted.groupby("promo_id", sort=False)
    out = pd.DataFrame({"category": grouped["category"].first(),
                        "weight": grouped["weight"].sum(), column: grouped["_wx"].sum()})
    out[column] = out[column] / out["weight"]
    return out.reset_index()


def holdout_metrics(holdout: pd.DataFrame, scored: dict[str, pd.DataFrame],
                    base_lift: np.ndarray, threshold: float) -> dict[str, Any]:
    """Per-promotion MAE (points) and incremental-units MAPE of each candidate and the baseline.

    MAPE counts promotions whose measured lift exceeds the threshold: incremental units near 0
    would make any relative error explode.
    """
    predicted = {"baseline": base_lift,
                 **{kind: s["lift_pct"].to_numpy() for kind, s in scored.items()}}
    frame = holdout.assign(**{f"{name}_lift_pct": v for name, v in predicted.items()})
    per_promo = promotion_lift(frame).rename(columns={"lift_pct": "measured_lift_pct"})
    for name in predicted:
        column = f"{name}_lift_pct"
        per_promo[column] = promotion_lift(frame, column)[column].to_numpy()
    measured = per_promo["measured_lift_pct"]
    lifted = measured > threshold

    def score(name: str) -> dict[str, float | None]:
        error = per_promo[f"{name}_lift_pct"] - measured
        mape = (error.abs() / measured.abs())[lifted]  # the weight cancels within a promotion
        return {"mae_pp": float(error.abs().mean()),
                "incremental_units_mape": float(mape.mean()) if lifted.any() else None}

    base = score("baseline")
    starts = holdout.groupby("promo_id")["start_date"].min()
    per_promo["start_date"] = per_promo["promo_id"].map(starts).dt.strftime("%Y-%m-%d")
    return {
        "candidates": {kind: score(kind) for kind in scored},
        "baseline_mae_pp": base["mae_pp"],
        "baseline_incremental_units_mape": base["incremental_units_mape"],
        "mape_promos": int(lifted.sum()),
        "holdout_promotions": per_promo.drop(columns="weight").to_dict("records"),
    }


def calibration(holdout: pd.DataFrame, p_any: pd.Series, threshold: float) -> dict[str, Any]:
    """Brier score of P(any lift) on holdout rows, beside the base rate's, and a reliability
    table (equal-width bins: mean predicted probability vs the observed share with lift)."""
    label = (holdout["lift_pct"].to_numpy() > float(threshold)).astype("float64")
    p = np.clip(p_any.to_numpy(dtype="float64"), 0, 1)
    bins = np.minimum((p * RELIABILITY_BINS).astype(int), RELIABILITY_BINS - 1)
    table = []
    for b in range(RELIABILITY_BINS):
        mask = bins == b
        if mask.any():
            table.append({"bin": f"{b / RELIABILITY_BINS:.1f}-{(b + 1) / RELIABILITY_BINS:.1f}",
                          "rows": int(mask.sum()), "mean_p": float(p[mask].mean()),
                          "share_with_lift": float(label[mask].mean())})
    return {"brier": float(np.mean((p - label) ** 2)),
            "brier_base_rate": float(np.mean((label.mean() - label) ** 2)),
            "reliability": table}


def conformal_halfwidth(residuals: np.ndarray, level: float) -> float:
    """Split-conformal half-width: the ceil((n+1) level)/n quantile of |residual|."""
    residuals = np.abs(np.asarray(residuals, dtype="float64"))
    residuals = residuals[np.isfinite(residuals)]
    if len(residuals) == 0:
        return math.nan
    q = min(1.0, math.ceil((len(residuals) + 1) * level) / len(residuals))
    return float(np.quantile(residuals, q, method="higher"))


def discount_range(data: pd.DataFrame) -> dict[str, list[float]]:
    """Per promotion type: the lowest and highest known discount trained on."""
    known = data.dropna(subset=["promo_type", "discount_pct"])
    bounds = known.groupby("promo_type")["discount_pct"].agg(["min", "max"])
    return {str(t): [float(lo), float(hi)] for t, lo, hi in bounds.itertuples()}


def _fit(kind: str, data: pd.DataFrame, cfg: dict[str, Any]) -> LiftModel:
    threshold = float(cfg["lift_threshold_pct"])
    encoder = FeatureEncoder.fit(data)
    x, y, w = encoder.transform(data), data["lift_pct"].to_numpy(), data["weight"].to_numpy()
    has_lift = y > threshold
    monotone = encoder.monotone(bool(cfg["monotone_discount"]))
    boosters = {}
    if 0 < has_lift.sum() < len(y):  # a classifier needs both outcomes; else the base rate
        boosters["classifier"] = _booster(x, has_lift.astype("float64"), w, "binary", monotone,
                                          cfg)
    below = float(np.average(y[~has_lift], weights=w[~has_lift])) if (~has_lift).any() else 0.0
    if kind == HURDLE and has_lift.any():
        boosters["size"] = _booster(x[has_lift], y[has_lift], w[has_lift], "regression",
                                    monotone, cfg)
    else:
        kind = SINGLE
        boosters["single"] = _booster(x, y, w, "regression", monotone, cfg)
    return LiftModel(kind=kind, threshold_pct=threshold,
                     interval_level=float(cfg["interval_level"]), halfwidth_pp=math.nan,
                     category_mean=CategoryMean.fit(data, threshold), encoder=encoder,
                     boosters=boosters, below_mean=below, discount_range=discount_range(data))


def _booster(x: np.ndarray, y: np.ndarray, w: np.ndarray, objective: str, monotone: list[int],
             cfg: dict[str, Any]) -> lgb.Booster:
    params = {
        "objective": objective, "num_leaves": int(cfg["num_leaves"]),
        "learning_rate": float(cfg["learning_rate"]),
        "min_data_in_leaf": int(cfg["min_child_samples"]), "monotone_constraints": monotone,
        "seed": int(cfg["seed"]), "deterministic": True, "num_threads": 1, "verbose": -1,
        # Tiny data: let bins and the leaf-weight floor follow min_data_in_leaf, not defaults
        # sized for big tables.
        "min_data_in_bin": 1, "min_sum_hessian_in_leaf": 0.0,
    }
    rounds = int(cfg["n_estimators"])
    try:
        return lgb.train(params, _dataset(x, y, w), num_boost_round=rounds)
    except lgb.basic.LightGBMError as error:
        if not any(monotone):
            raise
        # LightGBM's constrained split search fails now and then on real data ("Check failed:
        # (best_split_info.right_count) > (0)", seen training on the medium synthetic world):
        # one model without the discount constraint beats a failed stage. Said in the log.
        print(f"promo_lift: LightGBM failed with the discount constraint "
              f"({str(error).splitlines()[0][:160]}); this {objective} model is trained "
              "without it")
        params["monotone_constraints"] = [0] * len(monotone)
        return lgb.train(params, _dataset(x, y, w), num_boost_round=rounds)


def _dataset(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> lgb.Dataset:
    return lgb.Dataset(x, label=y, weight=w, params={"min_data_in_bin": 1, "verbose": -1})


def _fallback(data: pd.DataFrame, cfg: dict[str, Any], reason: str, metrics: dict[str, Any],
              log: Log, residuals: np.ndarray | None = None) -> LiftModel:
    """The category mean as the model; interval from holdout residuals when there are some,
    else in-sample ones."""
    threshold = float(cfg["lift_threshold_pct"])
    means = CategoryMean.fit(data, threshold)
    if residuals is None and len(data):
        residuals = data["lift_pct"].to_numpy() - means.predict(data)[1]
    level = float(cfg["interval_level"])
    halfwidth = conformal_halfwidth(residuals, level) if residuals is not None else math.nan
    log(f"promo lift: {reason}")
    return LiftModel(kind=CATEGORY_MEAN, threshold_pct=threshold, interval_level=level,
                     halfwidth_pp=halfwidth, category_mean=means,
                     discount_range=discount_range(data),
                     metrics={**metrics, "kind": CATEGORY_MEAN, "reason": reason,
                              "interval_halfwidth_pp": halfwidth})


def _day(value: Any) -> str | None:
    return None if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def _mean_or_nan(values: pd.Series) -> float:
    return float(values.mean()) if len(values) else math.nan
