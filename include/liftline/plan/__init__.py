"""The quarter planner: media and promotions planned together (see types.py for the shapes).

`plan_quarter` makes, evaluates and stores a plan (pipeline.py); `optimise_plan` and
`evaluate_plan` are the engine (optimize.py); `what_if` re-evaluates a plan with one change
(whatif.py). README.md has the formula, the constraints and the tables.
"""

from .optimize import MODES, PlanOutcome, evaluate_plan, optimise_plan
from .pipeline import (
    PlanResult,
    channel_items,
    fitted_responses,
    plan_id_for,
    plan_next_quarter,
    plan_quarter,
    plan_start,
    stored_plan,
)
from .types import (
    BASE_COLUMNS,
    BUSINESS_AS_USUAL,
    INCREMENT_COLUMNS,
    MEDIA_COLUMNS,
    PLANNED,
    PROMOTION_COLUMNS,
    RECOMMENDED,
    UPLIFT_COLUMNS,
    Plan,
    PlanRequest,
    Responses,
)
from .whatif import WhatIf, parse_add_promo, parse_media_change, parse_remove_promo, what_if

__all__ = [
    "BASE_COLUMNS",
    "BUSINESS_AS_USUAL",
    "INCREMENT_COLUMNS",
    "MEDIA_COLUMNS",
    "MODES",
    "PLANNED",
    "PROMOTION_COLUMNS",
    "RECOMMENDED",
    "UPLIFT_COLUMNS",
    "Plan",
    "PlanOutcome",
    "PlanRequest",
    "PlanResult",
    "Responses",
    "WhatIf",
    "channel_items",
    "evaluate_plan",
    "fitted_responses",
    "optimise_plan",
    "parse_add_promo",
    "parse_media_change",
    "parse_remove_promo",
    "plan_id_for",
    "plan_next_quarter",
    "plan_quarter",
    "plan_start",
    "stored_plan",
    "what_if",
]
