"""Promotion lift: counterfactual baselines, the lift model, frozen predictions,
recommendations and the what-if. The daily lift monitor is `liftline.monitor.monitor_lift`.
The method: README.md in this folder."""

from .artifacts import load_counterfactual, load_lift_model
from .lift_table import ACTUAL_COLUMNS, current_rows, write_rows
from .measure import measure_promotions, probable_causes
from .pipeline import score_promotions, train_promo_lift
from .spec import PromoSpec, load_spec
from .whatif import what_if

__all__ = [
    "ACTUAL_COLUMNS",
    "PromoSpec",
    "current_rows",
    "load_counterfactual",
    "load_lift_model",
    "load_spec",
    "measure_promotions",
    "probable_causes",
    "score_promotions",
    "train_promo_lift",
    "what_if",
    "write_rows",
]
