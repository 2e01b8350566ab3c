"""The ground truth folder a synthetic world was written with (`liftline generate`'s `_truth/`).

`truth_folder` accepts the world folder or its `_truth/` folder; `Truth` reads its files once
each and answers None for a file that is missing or has no rows, so an evaluator can say why
it did not evaluate instead of failing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

TRUTH_DIR = "_truth"
# Any one of these marks a folder as a truth folder.
TRUTH_FILES = ("world.json", "baseline_daily.csv", "promotions.csv", "channels.csv",
               "customers.csv", "service.csv")


class TruthError(ValueError):
    """The folder given is not a ground truth folder; the message says what to pass instead."""


def truth_folder(path: Path | str) -> Path:
    """The truth folder of `path`: `path/_truth` when it is a world folder, else `path` itself."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise TruthError(f"{folder} is not a folder: pass a world written by liftline generate "
                         "or its _truth/ folder")
    if (folder / TRUTH_DIR).is_dir():
        folder = folder / TRUTH_DIR
    if not any((folder / name).is_file() for name in TRUTH_FILES):
        raise TruthError(f"{folder} holds no ground truth ({', '.join(TRUTH_FILES[:3])}, ...): "
                         "pass a world written by liftline generate or its _truth/ folder")
    return folder


class Truth:
    """The files of one truth folder, each read once."""

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        self._frames: dict[str, pd.DataFrame | None] = {}

    def frame(self, name: str) -> pd.DataFrame | None:
        """The CSV `name` (ids as strings), or None when it is missing or has no rows."""
        if name not in self._frames:
            self._frames[name] = _read_csv(self.folder / name)
        return self._frames[name]

    def missing(self, name: str) -> str:
        """Why `frame(name)` is None, for a not_evaluated reason."""
        path = self.folder / name
        return f"truth file {name} is missing" if not path.is_file() else \
            f"truth file {name} has no rows"

    def world(self) -> dict[str, Any]:
        """world.json (seed, scale, window ...), or {} without it."""
        path = self.folder / "world.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {}


def _read_csv(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path, dtype={c: str for c in ("store_id", "promo_id", "customer_id",
                                                          "interaction_id", "sku")})
    except pd.errors.EmptyDataError:
        return None
    return frame if len(frame) else None
