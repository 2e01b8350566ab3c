"""Monitors that watch the models: what they predicted against what happened, and whether
their inputs, data and versions are still fit to serve.

Model health (README.md in this folder): one entry point per check, each
`(engine, run_id, as_of=None, log=print, link=None) -> dict` (a strict-JSON summary), recording
alerts through the outbox once per change of state, and `check_model_health` running them all.
`profile_inputs` is called by the training stages to keep a profile of the training inputs in
the model card, which the drift check compares the recent inputs with.

The daily lift monitor is `liftline.monitor.lift.monitor_lift`; it is not imported here,
because it depends on `liftline.promo`, which itself profiles its inputs with this package.
"""

from .accuracy import check_accuracy
from .drift import check_drift
from .freshness import check_freshness
from .health import check_model_health
from .profile import column_psi, profile_inputs, psi
from .staleness import check_stale_models

__all__ = [
    "check_accuracy",
    "check_drift",
    "check_freshness",
    "check_model_health",
    "check_stale_models",
    "column_psi",
    "profile_inputs",
    "psi",
]
