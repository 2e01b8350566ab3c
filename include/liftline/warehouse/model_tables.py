"""Model output tables of the marketing mix model (CONTRACT.md outputs), keyed by fit.

A mix model is fitted per (country, segment) as the spec's granularity says, several per run,
so each table carries `country` and `segment` beside `run_id` (and the budget table the
`scenario`), and a rerun of one fit replaces exactly its rows (liftline.mmm.outputs). The CONTRACT
columns are all here; the rest are additive. `ml_model_registry`, shared by every model, is
defined in tables.py and re-exported here.

Defined on the same MetaData as every other table (imported by liftline.warehouse), so
`create_schema` creates them.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Connection, Date, Float, Integer, String, Table

from .columns import add_missing_columns
from .tables import metadata, ml_model_registry

__all__ = ["MODEL_TABLES", "ml_budget_allocation", "ml_mmm_channel_results",
           "ml_mmm_response_curves", "ml_model_registry"]


def _fit_key() -> list[Column]:
    return [
        Column("run_id", String, primary_key=True),
        Column("country", String, primary_key=True),  # "ALL" or a country code
        Column("segment", String, primary_key=True),  # "all" or a product segment
    ]


ml_mmm_channel_results = Table(
    "ml_mmm_channel_results",
    metadata,
    *_fit_key(),
    Column("channel", String, primary_key=True),
    Column("channel_type", String),  # the spec's type, which set the adstock bounds
    Column("spend", Float),  # over the modelled window
    Column("contribution", Float),  # revenue the model credits to the channel
    Column("contribution_share", Float),  # of all media contribution
    Column("spend_share", Float),
    Column("roi", Float),  # contribution / spend
    Column("roi_lower", Float),  # 90% moving-block bootstrap interval
    Column("roi_upper", Float),
    Column("roi_trial_sd", Float),  # spread of ROI across the search trials
    Column("mroi", Float),  # marginal ROI at current spend
    Column("adstock_theta", Float),  # geometric adstock (NULL for Weibull)
    Column("adstock_shape", Float),  # Weibull adstock (NULL for geometric)
    Column("adstock_scale", Float),
    Column("hill_alpha", Float),
    Column("hill_gamma", Float),  # relative to the adstocked spend's range
    Column("hill_inflexion", Float),  # the same point in adstocked spend units
    Column("is_significant", Boolean),  # roi_lower > 0
    Column("zone", String),  # efficient / diminishing / saturated
    # CRM last touch beside the model: ERP revenue whose opportunity's campaign ran on the
    # channel (feat_crm_attribution), over the same weeks; NULL for segment fits.
    Column("crm_last_touch_revenue", Float),
    Column("crm_last_touch_share", Float),  # of the revenue traced to a modelled channel
    Column("crm_last_touch_roi", Float),
    Column("data_start", Date),
    Column("data_end", Date),
    # The registry's verdict on the fit these rows come from: champion, or challenger (its
    # figures are shown, but it is not the model to act on; model_note says why).
    Column("model_status", String),
    Column("model_note", String),
)

ml_mmm_response_curves = Table(
    "ml_mmm_response_curves",
    metadata,
    *_fit_key(),
    Column("channel", String, primary_key=True),
    Column("point", Integer, primary_key=True, autoincrement=False),  # 0 .. points-1
    Column("spend", Float),  # total over the modelled window, current pattern scaled
    Column("response", Float),
    Column("response_lower", Float),
    Column("response_upper", Float),
    Column("mroi", Float),  # marginal ROI at this spend
)

ml_budget_allocation = Table(
    "ml_budget_allocation",
    metadata,
    *_fit_key(),
    Column("scenario", String, primary_key=True),  # budget_neutral / target_efficiency
    Column("channel", String, primary_key=True),
    Column("current_spend", Float),
    Column("recommended_spend", Float),
    Column("change_pct", Float),
    Column("current_response", Float),
    Column("recommended_response", Float),
    Column("current_mroi", Float),
    Column("recommended_mroi", Float),
    Column("lower_spend", Float),  # the bounds the optimizer kept to
    Column("upper_spend", Float),
    Column("model_status", String),  # champion / challenger (a recommendation not to act on)
    Column("model_note", String),
)

STATUS_COLUMNS = ("model_status", "model_note")


def add_model_status_columns(conn: Connection) -> None:
    """The registry verdict beside the mix model's results and budget recommendations."""
    for target in (ml_mmm_channel_results, ml_budget_allocation):
        add_missing_columns(conn, target, STATUS_COLUMNS)


MODEL_TABLES: tuple[str, ...] = (
    "ml_mmm_channel_results",
    "ml_mmm_response_curves",
    "ml_budget_allocation",
    "ml_model_registry",
)
