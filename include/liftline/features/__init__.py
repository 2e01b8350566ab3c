"""Feature tables (feat_*) rebuilt from the clean tables: what every model reads.

See README.md in this folder for each table's columns, its point-in-time rules and how
incremental rebuilds decide what to redo.
"""

from .asof import features_as_of, parse_as_of, resolve_as_of
from .base import BuildContext, BuildOutcome, Changes, FeatureSpec
from .build import build_features, build_table, default_as_of
from .registry import FEATURE_SPECS, spec_for

__all__ = [
    "FEATURE_SPECS",
    "BuildContext",
    "BuildOutcome",
    "Changes",
    "FeatureSpec",
    "build_features",
    "build_table",
    "default_as_of",
    "features_as_of",
    "parse_as_of",
    "resolve_as_of",
    "spec_for",
]
