"""Customer models (README.md in this folder: method, names, measured numbers):

- value segments with a recommended action, and each customer's expected revenue over the next
  6 months (`train_segments`, `score_segments`);
- the risk that an open service interaction ends with a low rating, scored daily, with one
  digest a day of the high-risk repeat contacts (`train_satisfaction`, `score_satisfaction`).
"""

from .artifacts import SEGMENTS_MODEL, VALUE_MODEL, load_segments, load_value
from .evaluate import rfm_groups, unexplained_share
from .pipeline import score_segments, train_segments
from .satisfaction import score_satisfaction, train_satisfaction
from .satisfaction_spec import SatisfactionSpec
from .satisfaction_spec import load_spec as load_satisfaction_spec
from .segments import ACTIONS, SegmentModel, action_of, assign_segments, rule_segment
from .spec import SegmentSpec
from .spec import load_spec as load_segment_spec
from .value import BgNbdValue, BoostedValue, value_rows

__all__ = [
    "ACTIONS",
    "SEGMENTS_MODEL",
    "VALUE_MODEL",
    "BgNbdValue",
    "BoostedValue",
    "SatisfactionSpec",
    "SegmentModel",
    "SegmentSpec",
    "action_of",
    "assign_segments",
    "load_satisfaction_spec",
    "load_segment_spec",
    "load_segments",
    "load_value",
    "rfm_groups",
    "rule_segment",
    "score_satisfaction",
    "score_segments",
    "train_satisfaction",
    "train_segments",
    "unexplained_share",
    "value_rows",
]
