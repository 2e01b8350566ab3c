"""Ingest fixtures: an empty LIFTLINE_HOME with its folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from liftline.ingest import ensure_layout


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    ensure_layout(path)
    return path
