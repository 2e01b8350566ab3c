"""Promotion lift: counterfactual baselines, the lift model, frozen predictions,
recommendations and the what-if. The daily lift monitor is `liftline.monitor.monitor_lift`.
The method: README.md in this folder."""

from .artifacts import load_counterfactual, load_lift_model
from .candidates import (
    Catalogue,
    baseline_rates,
    conflicts_with_upcoming,
    load_catalogue,
    top_skus,
    with_prices,
)
from .lift_table import ACTUAL_COLUMNS, current_rows, write_rows
from .measure import measure_promotions, probable_causes
from .model import LiftModel
from .pipeline import score_promotions, train_promo_lift
from .recommend import bounded_grid, candidate_grid, score_candidates
from .spec import PromoSpec, load_spec
from .whatif import what_if

__all__ = [
    "ACTUAL_COLUMNS",
    "Catalogue",
    "LiftModel",
    "PromoSpec",
    "baseline_rates",
    "bounded_grid",
    "candidate_grid",
    "conflicts_with_upcoming",
    "current_rows",
    "load_catalogue",
    "load_counterfactual",
    "load_lift_model",
    "load_spec",
    "measure_promotions",
    "probable_causes",
    "score_candidates",
    "score_promotions",
    "top_skus",
    "train_promo_lift",
    "what_if",
    "with_prices",
    "write_rows",
]
