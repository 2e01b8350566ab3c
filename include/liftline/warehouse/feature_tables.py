"""Feature tables (feat_*): the warehouse layer every model reads, built by `liftline.features`.

Defined here, beside the clean and output tables, so `create_schema` creates them. Every row
carries the `run_id` of the build that wrote it. Point in time: a feature of a row dated d uses
only facts known before d (lags, history, outcomes) or known in advance (the promotion and event
calendar, planned up to a stated horizon); see include/liftline/features/README.md.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, Float, Index, Integer, String, Table

from .tables import metadata


def _run_id() -> Column:
    return Column("run_id", String)


def _lag_columns() -> list[Column]:
    # Units on day d-k, and the mean over the k days before d (missing days count as 0); NULL
    # while the series is younger than k days.
    return [
        Column("units_lag_7", Float),
        Column("units_lag_14", Float),
        Column("units_lag_28", Float),
        Column("units_mean_7", Float),
        Column("units_mean_28", Float),
    ]


feat_calendar = Table(
    "feat_calendar",
    metadata,
    Column("date", Date, primary_key=True),
    Column("day_num", Integer, nullable=False),  # days since 1970-01-01
    Column("dow", Integer, nullable=False),  # 0 = Monday
    Column("week_start", Date, nullable=False),  # the Monday of the date's week
    Column("iso_year", Integer, nullable=False),
    Column("iso_week", Integer, nullable=False),
    Column("year", Integer, nullable=False),
    Column("month", Integer, nullable=False),
    Column("day_of_year", Integer, nullable=False),
    Column("is_weekend", Boolean, nullable=False),
    _run_id(),
)

feat_sales_daily = Table(
    "feat_sales_daily",
    metadata,
    # One row per POS row (store x SKU x day with a delivered sale).
    Column("date", Date, primary_key=True),
    Column("store_id", String, primary_key=True),
    Column("sku", String, primary_key=True),
    Column("category", String),
    Column("region", String),
    Column("country", String),
    Column("units", Float),
    Column("revenue", Float),
    Column("unit_price", Float),
    Column("list_price", Float),
    Column("price_index", Float),  # unit_price / list_price
    Column("promo_count", Integer, nullable=False),
    Column("promo_max_discount", Float),
    Column("promo_type", String),  # type of the deepest active promotion
    Column("days_since_promo", Integer),  # since the cell's last promotion ended
    Column("days_until_promo", Integer),  # to the next planned start, within 28 days
    Column("campaigns_active", Integer, nullable=False),
    Column("media_spend", Float, nullable=False),
    Column("event_count", Integer, nullable=False),
    Column("is_holiday", Boolean, nullable=False),
    Column("is_closed", Boolean, nullable=False),
    Column("on_hand", Float),
    Column("is_stockout", Boolean),  # NULL where no inventory was delivered
    *_lag_columns(),
    Column("dow", Integer, nullable=False),
    Column("month", Integer, nullable=False),
    _run_id(),
    Index(None, "store_id", "sku", "date"),
)

feat_sales_store_daily = Table(
    "feat_sales_store_daily",
    metadata,
    # Every day of every store from its first sale to the as-of date plus the forecast horizon
    # (is_future rows carry the planned drivers and NULL sales), so gaps are explicit zeros.
    Column("date", Date, primary_key=True),
    Column("store_id", String, primary_key=True),
    Column("region", String),
    Column("country", String),
    Column("format", String),
    Column("is_future", Boolean, nullable=False),
    Column("units", Float),
    Column("revenue", Float),
    Column("skus_sold", Integer),
    Column("promo_count", Integer, nullable=False),  # distinct promotions covering the store
    Column("promo_sku_share", Float, nullable=False),  # share of the store's SKUs on promotion
    Column("promo_max_discount", Float),
    Column("days_since_promo", Integer),
    Column("days_until_promo", Integer),
    Column("campaigns_active", Integer),  # NULL on future days: not planned in any extract
    Column("media_spend", Float),
    Column("event_count", Integer, nullable=False),
    Column("is_holiday", Boolean, nullable=False),
    Column("is_closed", Boolean, nullable=False),
    Column("stockout_skus", Integer),
    Column("economic_index", Float),
    Column("inflation_rate", Float),
    Column("unemployment_rate", Float),
    *_lag_columns(),
    Column("revenue_mean_28", Float),
    Column("dow", Integer, nullable=False),
    Column("month", Integer, nullable=False),
    Column("day_of_year", Integer, nullable=False),
    _run_id(),
    Index(None, "store_id", "date"),
)

feat_promo_effectiveness = Table(
    "feat_promo_effectiveness",
    metadata,
    Column("promo_id", String, primary_key=True),
    Column("store_id", String, primary_key=True),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("duration_days", Integer, nullable=False),
    Column("discount_pct", Float),
    Column("promo_type", String),
    Column("sku", String),  # NULL: the promotion covers a category or everything
    Column("category", String),
    Column("region", String),
    Column("country", String),
    Column("month", Integer, nullable=False),
    Column("n_skus", Integer, nullable=False),
    Column("concurrent_promos", Integer, nullable=False),  # others overlapping in this store
    Column("baseline_days", Integer, nullable=False),
    Column("baseline_units_per_day", Float),  # last 28 days before start without a promotion
    Column("baseline_revenue_per_day", Float),
    Column("during_days", Integer, nullable=False),  # days of the window observed so far
    Column("during_units", Float),
    Column("during_revenue", Float),
    Column("post_days", Integer, nullable=False),
    Column("post_units", Float),
    Column("post_revenue", Float),
    Column("observed_lift_pct", Float),  # during vs baseline per day; NULL until observed
    Column("status", String, nullable=False),  # planned / running / completed
    Column("past_promos_category", Integer, nullable=False),
    Column("past_lift_mean_category", Float),
    Column("past_lift_last_category", Float),
    Column("days_since_category_promo", Integer),
    _run_id(),
    Index(None, "start_date"),
)

feat_mmm_weekly = Table(
    "feat_mmm_weekly",
    metadata,
    # Long: week x country x segment x channel. segment "all" rows always exist; revenue is the
    # week's marketing revenue (POS + ERP) of the country and segment, repeated on each channel.
    Column("week_start", Date, primary_key=True),
    Column("country", String, primary_key=True),
    Column("segment", String, primary_key=True),
    Column("channel", String, primary_key=True),
    Column("spend", Float, nullable=False),
    Column("impressions", Float),
    Column("clicks", Float),
    Column("video_views", Float),
    Column("campaigns", Integer, nullable=False),
    Column("revenue_pos", Float, nullable=False),
    Column("revenue_erp", Float, nullable=False),
    Column("revenue", Float, nullable=False),
    _run_id(),
)

feat_mmm_controls_weekly = Table(
    "feat_mmm_controls_weekly",
    metadata,
    # Long: free-form controls (macro indicators, event and promotion intensity, price index).
    Column("week_start", Date, primary_key=True),
    Column("country", String, primary_key=True),
    Column("control", String, primary_key=True),
    Column("value", Float),
    _run_id(),
)

feat_crm_attribution = Table(
    "feat_crm_attribution",
    metadata,
    # ERP revenue traced invoice -> opportunity -> campaign -> channel (CRM last touch).
    Column("invoice_id", String, primary_key=True),
    Column("invoice_date", Date, nullable=False),
    Column("week_start", Date, nullable=False),
    Column("country", String),
    Column("amount", Float),
    Column("opportunity_id", String),
    Column("campaign_id", String),
    Column("channel", String),  # NULL: not traceable to a campaign
    Column("first_touch_date", Date),
    Column("lag_days", Integer),  # first touch -> invoice
    _run_id(),
    Index(None, "week_start", "country"),
)

feat_customer = Table(
    "feat_customer",
    metadata,
    # One snapshot per as-of date: only facts dated on or before it.
    Column("as_of_date", Date, primary_key=True),
    Column("customer_id", String, primary_key=True),
    Column("recency_days", Float),
    Column("frequency", Float),  # invoices in the 365 days to as-of
    Column("monetary", Float),  # their amount
    Column("avg_order_value", Float),
    Column("tenure_days", Float),
    Column("product_breadth", Integer),
    Column("spend_trend", Float),  # last 90 days vs the 90 before, as a ratio - 1
    Column("crm_opportunities", Integer),
    Column("crm_won", Integer),
    Column("service_contacts", Integer),
    Column("service_mean_rating", Float),
    Column("service_low_share", Float),
    Column("mean_days_late", Float),
    Column("age", Float),
    Column("gender", String),
    Column("income", Float),
    Column("region", String),
    Column("country", String),
    Column("marital_status", String),
    _run_id(),
)

feat_service_interaction = Table(
    "feat_service_interaction",
    metadata,
    Column("interaction_id", String, primary_key=True),
    Column("customer_id", String, nullable=False),
    Column("opened_at", DateTime, nullable=False),
    Column("opened_date", Date, nullable=False),
    Column("interaction_type", String),
    Column("channel", String),
    Column("hour", Integer, nullable=False),
    Column("weekday", Integer, nullable=False),
    Column("handling_hours", Float),  # NULL while open
    Column("is_closed", Boolean, nullable=False),
    Column("repeat_contact_30d", Boolean, nullable=False),  # another contact in the 30 days before
    Column("prior_contacts", Integer, nullable=False),
    Column("prior_mean_rating", Float),  # ratings of interactions closed before this one opened
    Column("prior_low_share", Float),
    Column("order_value_30d", Float),  # ERP amount in the 30 days before opening
    Column("last_order_days_late", Float),
    Column("satisfaction_rating", Float),
    Column("label_low_satisfaction", Boolean),  # rating <= 2 once closed and rated, else NULL
    _run_id(),
    Index(None, "opened_date"),
)

feat_build_inputs = Table(
    "feat_build_inputs",
    metadata,
    # Which delivered files each feature table has already taken in: the next build rebuilds
    # only what files it has not seen touch.
    Column("feature_table", String, primary_key=True),
    Column("file_sha256", String(64), primary_key=True),
    Column("source", String, nullable=False),
    Column("built_at", DateTime),
    _run_id(),
)

feat_build_state = Table(
    "feat_build_state",
    metadata,
    # The last successful build of each feature table: its definitions' version and as-of date.
    Column("feature_table", String, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("as_of", Date, nullable=False),
    Column("mode", String, nullable=False),
    Column("built_at", DateTime),
    _run_id(),
)

FEATURE_TABLES: tuple[str, ...] = (
    "feat_calendar",
    "feat_sales_daily",
    "feat_sales_store_daily",
    "feat_promo_effectiveness",
    "feat_mmm_weekly",
    "feat_mmm_controls_weekly",
    "feat_crm_attribution",
    "feat_customer",
    "feat_service_interaction",
)
