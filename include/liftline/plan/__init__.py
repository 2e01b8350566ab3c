"""The quarter planner: media and promotions planned together (see types.py for the shapes)."""

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

__all__ = ["BASE_COLUMNS", "BUSINESS_AS_USUAL", "INCREMENT_COLUMNS", "MEDIA_COLUMNS", "PLANNED",
           "PROMOTION_COLUMNS", "RECOMMENDED", "UPLIFT_COLUMNS", "Plan", "PlanRequest",
           "Responses"]
