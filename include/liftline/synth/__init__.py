"""The synthetic marketing world: extracts of every contract source plus their ground truth,
and any quarter plan simulated under its true response (plan_truth)."""

from liftline.synth.generate import GenerateError, Summary, generate
from liftline.synth.plan_truth import (
    PlanTruthError,
    TrueResponses,
    random_plan,
    simulate_plan,
    world_plan,
)

__all__ = [
    "GenerateError",
    "PlanTruthError",
    "Summary",
    "TrueResponses",
    "generate",
    "random_plan",
    "simulate_plan",
    "world_plan",
]
