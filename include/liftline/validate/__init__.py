"""Validation: typed parsing of delivered text and the Great Expectations suites per source.

`typed_frame` parses a chunk and derives the helper columns the suites check; `load_suite`
reads expectations/<source>.json (with its policy); `PreparedSuite.validate` runs it with GX.
"""

from .coerce import KEY_OCCURRENCE, UNPARSED_SUFFIX, KeyCounter, blank_to_missing, typed_frame
from .run import PreparedSuite, RowFailure, Verdict
from .suites import Policy, Suite, SuiteError, check_name, load_suite

__all__ = [
    "KEY_OCCURRENCE",
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
    "typed_frame",
]
