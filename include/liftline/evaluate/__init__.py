"""`liftline evaluate --truth DIR`: the model outputs in the warehouse against the ground truth
a synthetic world was generated with.

`evaluate_models(engine, truth_dir)` returns one section per model (`status` `evaluated` with
a `headline` and its figures, or `not_evaluated` with the `reason`), JSON-safe;
`headline_table(result)` is the short table a person reads. What each metric means: README.md.
"""

from .report import evaluate_models, headline_table
from .truth import Truth, TruthError, truth_folder

__all__ = ["Truth", "TruthError", "evaluate_models", "headline_table", "truth_folder"]
