"""Stand-ins of the planner's fitted responses and business as usual (another part's modules):
the toy world of plan_helpers behind the names plan_quarter imports."""

from __future__ import annotations

import sys
import types

import pytest
from plan_helpers import FittedStandIn, bau_plan, candidates


@pytest.fixture
def stand_ins(monkeypatch):
    """liftline.plan.fitted and .bau as the toy world."""
    fitted = types.ModuleType("liftline.plan.fitted")
    fitted.FittedResponses = FittedStandIn
    fitted.promotion_candidates = lambda engine, req, log=print: candidates()
    bau = types.ModuleType("liftline.plan.bau")
    bau.business_as_usual = lambda engine, req, log=print: bau_plan()
    monkeypatch.setitem(sys.modules, "liftline.plan.fitted", fitted)
    monkeypatch.setitem(sys.modules, "liftline.plan.bau", bau)
    return fitted
