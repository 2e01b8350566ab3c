"""The as-of resolver every model stage, DAG and command uses (defined with the feature
tables it depends on: `liftline.features.asof`)."""

from liftline.features import parse_as_of, resolve_as_of

__all__ = ["parse_as_of", "resolve_as_of"]
