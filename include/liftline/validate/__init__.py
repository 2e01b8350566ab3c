"""Validation: typed parsing of delivered text and the Great Expectations suites per source.

`typed_frame` parses a chunk and derives the helper columns the suites check; `load_suite`
reads expectations/<source>.json (with its policy); `PreparedSuite.validate` runs it with GX.
"""

from .coerce import (
    KEY_OCCURRENCE,
    NOT_IN,
    UNPARSED_SUFFIX,
    KeyCounter,
    blank_to_missing,
    reference_column,
    typed_frame,
)
from .run import PreparedSuite, RowFailure, Verdict
from .suites import (
    Policy,
    Suite,
    SuiteError,
    check_name,
    load_suite,
    referenced_columns,
    referenced_dimension,
)

__all__ = [
    "KEY_OCCURRENCE",
    "NOT_IN",
    "UNPARSED_SUFFIX",
    "KeyCounter",
    "Policy",
    "PreparedSuite",
    "RowFailure",
    "Suite",
    "SuiteError",
    "Verdict",
    "blank_to_missing",
    "check_name",
    "load_suite",
    "reference_column",
    "referenced_columns",
    "referenced_dimension",
    "typed_frame",
]
