"""Promotion lift (issue 6): counterfactual baselines, the lift model, frozen predictions,
recommendations and the what-if. The daily lift monitor is `liftline.monitor.monitor_lift`.
The method: README.md in this folder."""

from .pipeline import score_promotions, train_promo_lift
from .whatif import what_if

__all__ = ["score_promotions", "train_promo_lift", "what_if"]
