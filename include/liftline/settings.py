"""Runtime settings from the environment (CONTRACT.md, "Runtime locations and settings")."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_SLACK_CHANNEL = "#marketing-alerts"


def liftline_home() -> Path:
    """Working directory holding landing/, archive/, quarantine/, the registry and reports."""
    return Path(os.environ.get("LIFTLINE_HOME", "./.liftline")).expanduser().resolve()


def warehouse_url() -> str:
    """SQLAlchemy URL of the warehouse; SQLite under LIFTLINE_HOME unless set."""
    url = os.environ.get("LIFTLINE_WAREHOUSE_URL", "").strip()
    if url:
        return url
    return f"sqlite:///{liftline_home() / 'warehouse.db'}"


def slack_channel() -> str:
    return os.environ.get("LIFTLINE_SLACK_CHANNEL", "").strip() or DEFAULT_SLACK_CHANNEL
