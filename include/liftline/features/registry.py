"""Every feature table, in the order they must be built (roll-ups after what they read)."""

from __future__ import annotations

from .base import FeatureSpec
from .calendar import CALENDAR
from .customers import CUSTOMER, SERVICE_INTERACTION
from .mmm import CRM_ATTRIBUTION, MMM_CONTROLS_WEEKLY, MMM_WEEKLY
from .promo import PROMO_EFFECTIVENESS
from .sales import SALES_DAILY, SALES_STORE_DAILY

FEATURE_SPECS: tuple[FeatureSpec, ...] = (
    CALENDAR,
    SALES_DAILY,
    SALES_STORE_DAILY,  # reads feat_sales_daily
    PROMO_EFFECTIVENESS,  # reads feat_sales_daily
    MMM_WEEKLY,
    MMM_CONTROLS_WEEKLY,
    CRM_ATTRIBUTION,
    CUSTOMER,
    SERVICE_INTERACTION,
)

_BY_TABLE = {spec.table: spec for spec in FEATURE_SPECS}


def spec_for(name: str) -> FeatureSpec:
    """The spec of feature table `name`, or a one-line error listing the known ones."""
    try:
        return _BY_TABLE[name]
    except KeyError:
        known = ", ".join(_BY_TABLE)
        raise ValueError(f"unknown feature table {name!r}: expected one of {known}") from None
