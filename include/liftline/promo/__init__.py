"""Promotion lift (issue 6): counterfactual baselines, the lift model, frozen predictions,
recommendations and the what-if. The daily lift monitor is in `liftline.monitor`."""
