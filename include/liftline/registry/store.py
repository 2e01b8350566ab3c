"""Artifact storage: `<registry>/<model>/<version>/`, on local disk or any fsspec URL.

The registry root is `LIFTLINE_REGISTRY_URL` (e.g. `s3://bucket/liftline`, so Celery workers
on several machines share it) or `LIFTLINE_HOME/registry`. A version's folder holds its model
card (`card.json`) and the model's files (JSON where the model is data, a pickle where it is a
fitted Python object). Files are written to a temporary name and moved into place, so a reader
never sees half a file.
"""

from __future__ import annotations

import json
import pickle
import re
from typing import Any

import fsspec

from liftline import settings

CARD_FILE = "card.json"


def version_url(model: str, version: str, root: str | None = None) -> str:
    """Where `model`'s `version` lives (model names such as sales_forecast/north nest)."""
    root = (root or settings.registry_url()).rstrip("/")
    parts = [_safe(p) for p in str(model).split("/")] + [_safe(version)]
    return "/".join([root, *parts])


def write_files(url: str, files: dict[str, Any]) -> None:
    """Write each `name: value` under `url`: dict/list as JSON, bytes as is, else pickled."""
    fs, path = fsspec.core.url_to_fs(url)
    fs.makedirs(path, exist_ok=True)
    for name, value in files.items():
        if isinstance(value, bytes):
            data = value
        elif isinstance(value, dict | list) and name.endswith(".json"):
            # Key order is kept: some artifacts (encoders) depend on it.
            data = json.dumps(value, indent=1, default=str).encode()
        else:
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        target = f"{path}/{name}"
        partial = f"{target}.partial"
        with fs.open(partial, "wb") as out:
            out.write(data)
        fs.mv(partial, target)


def read_file(url: str, name: str) -> Any:
    """One file of a version: JSON decoded, a pickle unpickled (the registry is trusted
    storage written by Liftline itself), else bytes. A one-line error when it is missing."""
    fs, path = fsspec.core.url_to_fs(url)
    target = f"{path}/{name}"
    if not fs.exists(target):
        raise FileNotFoundError(f"registry artifact {url}/{name} is missing: retrain the model "
                                "(liftline run, or trigger train_models) or roll back")
    with fs.open(target, "rb") as source:
        data = source.read()
    if name.endswith(".json"):
        return json.loads(data)
    if name.endswith(".pkl"):
        return pickle.loads(data)  # noqa: S301 - our own artifact store
    return data


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", part) or "_"
