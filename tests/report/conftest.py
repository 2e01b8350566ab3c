"""Fixtures of the report tests: a warehouse with rows in every table the report reads."""

from __future__ import annotations

import pytest
from report_world import fill
from sqlalchemy import Engine


@pytest.fixture
def full_warehouse(warehouse: Engine) -> Engine:
    fill(warehouse)
    return warehouse
