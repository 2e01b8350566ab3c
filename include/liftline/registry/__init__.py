"""The model registry: every training run's artifact and model card, champion/challenger
promotion, rollback, and what is due for training.

Artifacts live under `LIFTLINE_REGISTRY_URL` (default `LIFTLINE_HOME/registry`), one folder
per model and version; `ml_model_registry` in the warehouse indexes them with their status.
Scoring and monitoring load the champion (`champion(engine, model, as_of)`).
"""

from .card import ModelCard
from .store import read_file, version_url, write_files
from .versions import (
    CHALLENGER,
    CHAMPION,
    FAMILY_SPECS,
    RETIRED,
    SKIPPED,
    Decision,
    Version,
    champion,
    decide,
    due_for_training,
    lifecycle,
    make_version,
    models,
    register,
    register_skipped,
    rollback,
    versions,
)

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "FAMILY_SPECS",
    "RETIRED",
    "SKIPPED",
    "Decision",
    "ModelCard",
    "Version",
    "champion",
    "decide",
    "due_for_training",
    "lifecycle",
    "make_version",
    "models",
    "read_file",
    "register",
    "register_skipped",
    "rollback",
    "version_url",
    "versions",
    "write_files",
]
