"""Ridge regression with sign constraints, solved in batches.

    minimise  (1/n) ||y - X b||^2 + lambda * sum_{j penalised} b_j^2
    subject to b_j >= 0 for the constrained columns (media and the intercept)

The non-negativity is a hard constraint: a primal-dual active-set method on the normal
equations (p is small, so each step is one batched Cholesky-sized solve), with an exact
bounded least-squares fallback for any system it does not settle. Every solve in the search,
the CV folds and the bootstrap goes through `solve_nonneg`, many systems at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import lsq_linear

MAX_ACTIVE_SET_STEPS = 30
KKT_TOL = 1e-9


def normal_equations(X: np.ndarray, y: np.ndarray, lam: np.ndarray | float,
                     penalised: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """G = X'X/n + lam * diag(penalised), c = X'y/n for X (..., n, p), y (..., n)."""
    n = X.shape[-2]
    G = np.matmul(np.swapaxes(X, -1, -2), X) / n
    c = np.matmul(np.swapaxes(X, -1, -2), y[..., None])[..., 0] / n
    return add_penalty(G, lam, penalised), c


def add_penalty(G: np.ndarray, lam: np.ndarray | float, penalised: np.ndarray) -> np.ndarray:
    lam = np.asarray(lam, dtype=float)
    diag = lam[..., None] * penalised.astype(float) if lam.ndim else lam * penalised
    return G + diag[..., None, :] * np.eye(G.shape[-1])


def solve_nonneg(G: np.ndarray, c: np.ndarray, constrained: np.ndarray) -> np.ndarray:
    """argmin 1/2 b'Gb - c'b subject to b_j >= 0 where `constrained` (p,) is True.

    G (..., p, p) symmetric positive definite, c (..., p); returns b (..., p).
    """
    shape = c.shape
    G2 = G.reshape(-1, shape[-1], shape[-1])
    c2 = c.reshape(-1, shape[-1])
    b = _active_set(G2, c2, constrained.astype(bool))
    return b.reshape(shape)


def _active_set(G: np.ndarray, c: np.ndarray, constrained: np.ndarray) -> np.ndarray:
    n, p = c.shape
    b = np.empty((n, p))
    active = np.zeros((n, p), dtype=bool)
    todo = np.arange(n)
    eye = np.eye(p)
    for _ in range(MAX_ACTIVE_SET_STEPS):
        keep = ~active[todo]
        Gm = G[todo] * keep[:, :, None] * keep[:, None, :] + eye * (~keep)[:, None, :]
        bm = np.linalg.solve(Gm, (c[todo] * keep)[..., None])[..., 0]
        multiplier = np.matmul(G[todo], bm[..., None])[..., 0] - c[todo]
        # Enter the active set: constrained and negative; leave it: the multiplier says
        # the objective would fall if the coefficient grew.
        new_active = constrained & np.where(active[todo], multiplier > 0, bm < 0)
        b[todo] = bm
        settled = (new_active == active[todo]).all(axis=1)
        active[todo] = new_active
        todo = todo[~settled]
        if todo.size == 0:
            break
    for i in todo:  # rare: cycling; solve exactly
        b[i] = _exact(G[i], c[i], constrained)
    return np.where(constrained & (b < 0), 0.0, b)


def _exact(G: np.ndarray, c: np.ndarray, constrained: np.ndarray) -> np.ndarray:
    """Bounded least squares on the Cholesky factor: ||L'b - L^-1 c||^2 = b'Gb - 2c'b + const."""
    L = np.linalg.cholesky(G)
    target = np.linalg.solve(L, c)
    lower = np.where(constrained, 0.0, -np.inf)
    return lsq_linear(L.T, target, bounds=(lower, np.full_like(lower, np.inf)),
                      method="bvls", tol=1e-12).x


def kkt_violation(G: np.ndarray, c: np.ndarray, b: np.ndarray, constrained: np.ndarray
                  ) -> float:
    """Largest violation of the optimality conditions (0 at the exact solution)."""
    grad = G @ b - c
    free = ~constrained | (b > KKT_TOL)
    return float(max(np.abs(grad[free]).max(initial=0.0),
                     (-grad[~free]).max(initial=0.0), (-b[constrained]).max(initial=0.0)))


@dataclass
class ConstrainedRidge:
    """scikit-learn-style estimator over a design whose columns are all given explicitly.

    `constrained[j]`: b_j >= 0; `penalised[j]`: b_j is shrunk by `lam` (the intercept column,
    if any, is usually neither penalised nor free). No centring or scaling happens inside.
    """

    lam: float = 1e-3
    constrained: np.ndarray | None = None  # default: every column
    penalised: np.ndarray | None = None  # default: every column
    coef_: np.ndarray = field(init=False, repr=False)

    def fit(self, X: np.ndarray, y: np.ndarray) -> ConstrainedRidge:
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        p = X.shape[1]
        constrained = np.ones(p, bool) if self.constrained is None else np.asarray(
            self.constrained, bool)
        penalised = np.ones(p, bool) if self.penalised is None else np.asarray(
            self.penalised, bool)
        G, c = normal_equations(X, y, self.lam, penalised)
        self.coef_ = solve_nonneg(G, c, constrained)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=float) @ self.coef_
