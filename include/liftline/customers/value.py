"""Expected customer value: each customer's revenue over the next `horizon_days` (182).

Two models, one interface (`fit(rows)` on a training table, `predict(rows)` on a scoring
table, rows from `value_rows`), compared on a time-split backtest (`value_backtest`):

- `BgNbdValue`: BG/NBD (Fader, Hardie & Lee 2005) for how many purchase days a customer will
  have, times Gamma-Gamma for what each is worth; maximum likelihood with scipy. It learns
  from each customer's purchase history up to the cut-off alone (repeat purchase days x, time
  of the last one t_x, age T; in weeks). A customer who never bought is worth 0 to it: it
  models repeat buying, not first purchases.
- `BoostedValue`: a LightGBM regressor of the next period's revenue on the feat_customer
  snapshot and the same history summary, trained on the window before.

The baseline is "same as last period": the revenue of the `horizon_days` before the cut-off.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1

from liftline.modeling import Estimator

WEEK = 7.0
# feat_customer columns the boosted model reads (numeric ones; demographics as delivered).
SNAPSHOT_FEATURES = ("recency_days", "frequency", "monetary", "avg_order_value", "tenure_days",
                     "product_breadth", "spend_trend", "crm_opportunities", "crm_won",
                     "service_contacts", "service_mean_rating", "service_low_share",
                     "mean_days_late", "age", "income")
HISTORY_FEATURES = ("x", "t_x", "T", "invoices_ever", "revenue_ever", "mean_value")


def value_rows(snapshot: pd.DataFrame, purchases: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """One row per snapshot customer: its snapshot features and its purchase history up to
    `as_of` as BG/NBD reads it (weeks): x repeat purchase days, t_x first to last, T first to
    as-of; plus the all-time invoices, revenue and mean invoice value."""
    frame = snapshot.merge(purchases, on="customer_id", how="left")
    as_of_ts = pd.Timestamp(as_of)
    first, last = pd.to_datetime(frame.first_purchase), pd.to_datetime(frame.last_purchase)
    invoices = frame.invoices.fillna(0.0)
    return frame.assign(
        x=(frame.purchase_days.fillna(1.0) - 1).clip(lower=0),
        t_x=((last - first).dt.days / WEEK).fillna(0.0),
        T=((as_of_ts - first).dt.days / WEEK).fillna(0.0),
        invoices_ever=invoices,
        revenue_ever=frame.revenue.fillna(0.0),
        mean_value=(frame.revenue / invoices).where(invoices > 0),
    ).reset_index(drop=True)


# --- BG/NBD + Gamma-Gamma --------------------------------------------------------------------


def bgnbd_log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray,
                         T: np.ndarray) -> np.ndarray:
    """Per-customer log-likelihood of BG/NBD with parameters (r, alpha, a, b)."""
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    a4 = np.full_like(a3, -np.inf)
    a4[repeat] = (np.log(a) - np.log(b + x[repeat] - 1)
                  - (r + x[repeat]) * np.log(alpha + t_x[repeat]))
    return a1 + a2 + np.logaddexp(a3, a4)


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Maximum-likelihood (r, alpha, a, b), optimised on their logs (all are positive)."""
    def loss(log_params: np.ndarray) -> float:
        return -float(bgnbd_log_likelihood(np.exp(log_params), x, t_x, T).mean())

    start = np.log([0.5, max(float(np.mean(T)), 1.0), 1.0, 1.0])
    found = minimize(loss, start, method="L-BFGS-B", bounds=[(-8, 8)] * 4)
    return np.exp(found.x)


def bgnbd_expected(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                   t: float) -> np.ndarray:
    """Expected purchase days in the next `t` weeks given each customer's history."""
    r, alpha, a, b = params
    a = max(a, 1.0 + 1e-6)  # the closed form needs a > 1; a near 1 means churn is rare
    z = t / (alpha + T + t)
    head = (a + b + x - 1) / (a - 1)
    tail = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    alive_term = np.where(x > 0, a / (b + np.maximum(x, 1) - 1)
                          * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
    return np.nan_to_num(head * tail / (1 + alive_term), nan=0.0, posinf=0.0).clip(min=0)


def fit_gamma_gamma(n: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Maximum-likelihood (p, q, v) of Gamma-Gamma on customers' invoice counts `n` and mean
    invoice values `m` (every invoice, the first included: the model draws each from the
    same gamma, so all of them inform the customer's mean)."""
    keep = (n > 0) & (m > 0)
    n, m = n[keep], m[keep]

    def loss(log_params: np.ndarray) -> float:
        p, q, v = np.exp(log_params)
        ll = (gammaln(p * n + q) - gammaln(p * n) - gammaln(q) + q * np.log(v)
              + (p * n - 1) * np.log(m) + p * n * np.log(n) - (p * n + q) * np.log(n * m + v))
        return -float(ll.mean())

    start = np.log([1.0, 2.0, max(float(np.mean(m)), 1.0)])
    return np.exp(minimize(loss, start, method="L-BFGS-B", bounds=[(-8, 12)] * 3).x)


def gamma_gamma_mean(params: np.ndarray, n: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Expected invoice value per customer: their own mean shrunk to the population's."""
    p, q, v = params
    q = max(q, 1.0 + 1e-6)
    population = p * v / (q - 1)
    n = np.nan_to_num(n, nan=0.0)
    m = np.nan_to_num(m, nan=0.0)
    weight = p * n / (p * n + q - 1)
    return (1 - weight) * population + weight * m


class BgNbdValue(Estimator):
    """Expected revenue = BG/NBD expected purchase days x invoices per purchase day x the
    Gamma-Gamma expected invoice value."""

    name = "bgnbd"

    def __init__(self, horizon_days: int = 182) -> None:
        self.horizon_days = horizon_days

    def fit(self, rows: pd.DataFrame, target: pd.Series | None = None) -> BgNbdValue:
        buyers = rows[rows.invoices_ever > 0]
        self.bgnbd_ = fit_bgnbd(*_history(buyers))
        self.gamma_gamma_ = fit_gamma_gamma(buyers.invoices_ever.to_numpy(float),
                                            buyers.mean_value.to_numpy(float))
        return self

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        x, t_x, T = _history(rows)
        days = bgnbd_expected(self.bgnbd_, x, t_x, T, self.horizon_days / WEEK)
        n = rows.invoices_ever.to_numpy(float)
        per_day = np.where(x + 1 > 0, n / (x + 1), 1.0)  # invoices per purchase day
        value = gamma_gamma_mean(self.gamma_gamma_, n, rows.mean_value.to_numpy(float))
        return np.where(n > 0, days * per_day * value, 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.name, "horizon_days": self.horizon_days,
                "bgnbd": dict(zip(("r", "alpha", "a", "b"), self.bgnbd_.tolist(), strict=True)),
                "gamma_gamma": dict(zip(("p", "q", "v"), self.gamma_gamma_.tolist(),
                                        strict=True))}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BgNbdValue:
        model = cls(data["horizon_days"])
        model.bgnbd_ = np.array([data["bgnbd"][k] for k in ("r", "alpha", "a", "b")])
        model.gamma_gamma_ = np.array([data["gamma_gamma"][k] for k in ("p", "q", "v")])
        return model


def _history(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (rows.x.to_numpy(float), rows.t_x.to_numpy(float), rows["T"].to_numpy(float))


# --- LightGBM --------------------------------------------------------------------------------


class BoostedValue(Estimator):
    """LightGBM regressor of the next `horizon_days` revenue on snapshot and history."""

    name = "lightgbm"

    def __init__(self, horizon_days: int = 182, objective: str = "tweedie", num_leaves: int = 15,
                 learning_rate: float = 0.05, n_estimators: int = 300,
                 min_child_samples: int = 20, seed: int = 11) -> None:
        self.horizon_days = horizon_days
        self.objective = objective
        self.num_leaves = num_leaves
        self.learning_rate = learning_rate
        self.n_estimators = n_estimators
        self.min_child_samples = min_child_samples
        self.seed = seed

    def fit(self, rows: pd.DataFrame, target: pd.Series) -> BoostedValue:
        x = _design(rows)
        self.features_ = list(x.columns)
        params = {k: v for k, v in self.get_params().items() if k != "horizon_days"}
        self.booster_ = lgb.LGBMRegressor(**params, n_jobs=1, verbose=-1).fit(
            x, np.clip(np.asarray(target, float), 0, None)).booster_
        return self

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        x = _design(rows).reindex(columns=self.features_)
        return np.clip(self.booster_.predict(x), 0, None)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.name, "params": self.get_params(), "features": self.features_,
                "booster": self.booster_.model_to_string()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BoostedValue:
        model = cls(**data["params"])
        model.features_ = list(data["features"])
        model.booster_ = lgb.Booster(model_str=data["booster"])
        return model


def _design(rows: pd.DataFrame) -> pd.DataFrame:
    names = [c for c in (*SNAPSHOT_FEATURES, *HISTORY_FEATURES) if c in rows.columns]
    return rows[names].apply(pd.to_numeric, errors="coerce").astype("float64")


def value_model_from_dict(data: dict[str, Any]) -> BgNbdValue | BoostedValue:
    kind = data.get("kind")
    return BgNbdValue.from_dict(data) if kind == BgNbdValue.name else BoostedValue.from_dict(data)


def value_model_json(model: BgNbdValue | BoostedValue) -> dict[str, Any]:
    return json.loads(json.dumps(model.to_dict()))


# --- backtest --------------------------------------------------------------------------------


def value_errors(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """RMSE (what decides: expected value is a mean, and the mean minimises squared error),
    MAE, and the error of the predicted total as a share of the actual total."""
    error = np.asarray(predicted, float) - np.asarray(actual, float)
    total = float(np.sum(actual))
    return {"rmse": float(np.sqrt(np.mean(error ** 2))), "mae": float(np.mean(np.abs(error))),
            "total_error_pct": float(100 * error.sum() / total) if total else float("nan")}


def backtest_dates(as_of: date, horizon_days: int) -> dict[str, date]:
    """The backtest's windows: the models see facts up to `cut` (as-of - horizon) and predict
    the revenue of (cut, as_of]; the boosted model learns from features at `train_cut` (a
    horizon earlier) and the revenue of (train_cut, cut]."""
    cut = as_of - timedelta(days=horizon_days)
    return {"train_cut": cut - timedelta(days=horizon_days), "cut": cut, "end": as_of}
