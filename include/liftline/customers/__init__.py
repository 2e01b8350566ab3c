"""Customer models: value segments with a recommended action and each customer's expected
revenue over the next 6 months (README.md in this folder: method, names, measured numbers).

The stage functions the DAGs call are `train_segments` and `score_segments`.
"""

from .artifacts import SEGMENTS_MODEL, VALUE_MODEL, load_segments, load_value
from .evaluate import rfm_groups, unexplained_share
from .pipeline import score_segments, train_segments
from .segments import ACTIONS, SegmentModel, action_of, assign_segments, rule_segment
from .spec import SegmentSpec, load_spec
from .value import BgNbdValue, BoostedValue, value_rows

__all__ = [
    "ACTIONS",
    "SEGMENTS_MODEL",
    "VALUE_MODEL",
    "BgNbdValue",
    "BoostedValue",
    "SegmentModel",
    "SegmentSpec",
    "action_of",
    "assign_segments",
    "load_segments",
    "load_spec",
    "load_value",
    "rfm_groups",
    "rule_segment",
    "score_segments",
    "train_segments",
    "unexplained_share",
    "value_rows",
]
