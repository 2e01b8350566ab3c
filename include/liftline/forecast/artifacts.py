"""The training result kept with the model: champion per grain, metrics, conformal quantiles.

One JSON file per region under `$LIFTLINE_HOME/models/sales_forecast/`: `latest/<region>.json`
(what scoring reads, replaced atomically) and `runs/<run_id>/<region>.json` (the history).
JSON rather than a pickled model: the champion is refitted at scoring time on the data up to
the scoring as-of (seconds), so the artifact only has to say *which* candidate, with which
parameters, and how wrong it was, which is small, diffable and readable by the registry and
the report. `artifact_uri` of the registry issue can point at the run file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from liftline import settings

from .conformal import ResidualQuantiles

ALL_REGIONS = "all"


def model_dir() -> Path:
    return settings.liftline_home() / "models" / "sales_forecast"


def region_slug(region: str | None) -> str:
    if region in (None, ""):
        return ALL_REGIONS
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(region)) or ALL_REGIONS


def save_training(result: dict[str, Any], run_id: str, region: str | None) -> Path:
    """Write the run file and replace latest/<region>.json; returns the run file's path."""
    slug = region_slug(region)
    run_file = model_dir() / "runs" / region_slug(run_id) / f"{slug}.json"
    _write_atomic(run_file, result)
    _write_atomic(model_dir() / "latest" / f"{slug}.json", result)
    return run_file


def load_latest(region: str | None) -> dict[str, Any] | None:
    path = model_dir() / "latest" / f"{region_slug(region)}.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def calibration_of(artifact: dict[str, Any], grain: str, candidate: str
                   ) -> ResidualQuantiles | None:
    found = artifact.get("grains", {}).get(grain, {}).get("candidates", {}).get(candidate)
    if not found or "calibration" not in found:
        return None
    return ResidualQuantiles.from_dict(found["calibration"])


def _write_atomic(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(payload, out, indent=1, sort_keys=True, default=str)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
