"""The estimator interface every model follows, in the scikit-learn style.

Parameters go to the constructor and are stored under their own names (no hidden state);
`get_params`/`set_params` read them from the constructor's signature; `fit(...)` learns and
returns `self`; `predict(...)` answers. Learned state ends in `_` (`models_`, `origin_`).
"""

from __future__ import annotations

import inspect
from typing import Any


class Estimator:
    """Base of the forecast candidates, the promotion-lift model and the mix model.

    Each subclass defines `fit(...)` (returning itself) and `predict(...)` for its own data;
    this base gives them the same parameter handling."""

    name = "estimator"

    def get_params(self) -> dict[str, Any]:
        names = [p for p in inspect.signature(type(self).__init__).parameters
                 if p not in ("self", "args", "kwargs")]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params: Any) -> Estimator:
        known = self.get_params()
        for name, value in params.items():
            if name not in known:
                raise ValueError(f"{type(self).__name__} has no parameter {name!r}; "
                                 f"known: {sorted(known)}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items()
                          if k != "calibration")
        return f"{type(self).__name__}({shown})"
