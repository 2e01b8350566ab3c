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


def base_url() -> str | None:
    """The Airflow UI's public URL (LIFTLINE_BASE_URL), which alert links start from; None when
    unset, so a message names the report file instead of a link nobody can open."""
    url = os.environ.get("LIFTLINE_BASE_URL", "").strip()
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise ValueError(
            f"LIFTLINE_BASE_URL={url!r} is not an http(s) URL; set the Airflow UI's public "
            "address, e.g. https://airflow.example.com"
        )
    return url.rstrip("/")


def project_root() -> Path:
    """The checkout holding dags/, expectations/ and models/ (the package is installed from it)."""
    return Path(__file__).resolve().parents[2]


def expectations_dir() -> Path:
    """Where the Great Expectations suites live: LIFTLINE_EXPECTATIONS_DIR or expectations/."""
    override = os.environ.get("LIFTLINE_EXPECTATIONS_DIR", "").strip()
    return Path(override).expanduser().resolve() if override else project_root() / "expectations"


def settle_seconds() -> float:
    """Files modified more recently than this are still being written: left for the next run."""
    text = os.environ.get("LIFTLINE_SETTLE_SECONDS", "").strip()
    try:
        return float(text) if text else 60.0
    except ValueError:
        raise ValueError(
            f"LIFTLINE_SETTLE_SECONDS={text!r} is not a number of seconds; set e.g. 60"
        ) from None


def reports_dir() -> Path:
    """Where `liftline report` writes its HTML reports and the Airflow UI page reads them."""
    return liftline_home() / "reports"


def registry_url() -> str:
    """Where model artifacts are kept: LIFTLINE_REGISTRY_URL (any fsspec URL, e.g. s3://bucket/
    liftline for workers on several machines) or LIFTLINE_HOME/registry."""
    url = os.environ.get("LIFTLINE_REGISTRY_URL", "").strip()
    return url.rstrip("/") if url else str(liftline_home() / "registry")
