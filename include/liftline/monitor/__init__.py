"""Monitors that watch the models: what they predicted against what happened, and whether
their inputs, data and versions are still fit to serve.

Model health (README.md in this folder): one entry point per check, each
`(engine, run_id, as_of=None, log=print, link=None) -> dict` (a strict-JSON summary), recording
alerts through the outbox once per change of state, and `check_model_health` running them all.
The training stages keep a profile of their inputs in the model card
(`liftline.modeling.profile_inputs`), which the drift check compares the recent inputs with.
`monitor_lift` is the daily lift monitor (lift.py). `record_weekly_summary` records the
week's Slack summary (weekly.py) with the same signature.
"""

from .accuracy import check_accuracy
from .drift import check_drift
from .freshness import check_freshness
from .health import check_model_health
from .lift import monitor_lift
from .plan import check_plan
from .staleness import check_stale_models
from .weekly import record_weekly_summary, summary_week, week_key

__all__ = [
    "check_plan",
    "check_accuracy",
    "check_drift",
    "check_freshness",
    "check_model_health",
    "check_stale_models",
    "monitor_lift",
    "record_weekly_summary",
    "summary_week",
    "week_key",
]
