"""Shared MMM fixtures: a small spec and simulated inputs."""

from __future__ import annotations

import pytest
from mmm_helpers import small_spec

from liftline.mmm.simulate import simulate


@pytest.fixture(scope="session")
def spec():
    return small_spec()


@pytest.fixture(scope="session")
def simulated():
    """(MMMData, truth) of 104 weeks and 3 channels."""
    return simulate(weeks=104, channels=3, seed=5, noise=0.01)
