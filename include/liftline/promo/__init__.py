"""Promotion lift (issue 6): counterfactual baselines, the lift model, frozen predictions,
recommendations and the what-if. The daily lift monitor is in `liftline.monitor.lift`.
The method: README.md in this folder."""

from .pipeline import score_promotions, train_promo_lift

__all__ = ["score_promotions", "train_promo_lift"]
