"""Feature tables (feat_*) rebuilt from the clean tables: what every model reads.

See README.md in this folder for each table's columns, its point-in-time rules and how
incremental rebuilds decide what to redo. Model stages read the feature tables, and the
delivered dimensions through the `read_*` functions here, never the clean tables; who a
promotion or an event applies to (CONTRACT.md) is decided here once: `coverage.py`.
"""

from .asof import features_as_of, parse_as_of, resolve_as_of
from .base import BuildContext, BuildOutcome, Changes, FeatureSpec
from .build import build_features, build_table, default_as_of
from .coverage import (
    EVENT_STORE_LEVELS,
    PROMOTION_SKU_LEVELS,
    PROMOTION_STORE_LEVELS,
    event_stores,
    in_scope,
    promo_cover,
    promotion_skus,
    promotion_stores,
    sales_cells,
    scope_condition,
    scope_level,
    temp_table,
)
from .customers import customer_purchases, customer_revenue, customer_snapshot_at
from .dimensions import (
    dimension_table,
    read_events,
    read_lift_tests,
    read_products,
    read_promotions,
    read_stores,
)
from .promo import with_category_history
from .registry import FEATURE_SPECS, spec_for

__all__ = [
    "EVENT_STORE_LEVELS",
    "FEATURE_SPECS",
    "PROMOTION_SKU_LEVELS",
    "PROMOTION_STORE_LEVELS",
    "BuildContext",
    "BuildOutcome",
    "Changes",
    "FeatureSpec",
    "build_features",
    "build_table",
    "customer_purchases",
    "customer_revenue",
    "customer_snapshot_at",
    "default_as_of",
    "dimension_table",
    "event_stores",
    "features_as_of",
    "in_scope",
    "parse_as_of",
    "promo_cover",
    "promotion_skus",
    "promotion_stores",
    "read_events",
    "read_lift_tests",
    "read_products",
    "read_promotions",
    "read_stores",
    "resolve_as_of",
    "sales_cells",
    "scope_condition",
    "scope_level",
    "spec_for",
    "temp_table",
    "with_category_history",
]
