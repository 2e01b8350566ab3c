"""The Assets that chain the DAGs: clean tables -> feature tables -> scored tables, champions.

Each producing DAG emits, through an alias and at the end of its run (tasks.publish_assets),
one Asset event per table it actually changed, so a run that changed nothing triggers nothing
downstream and a consumer sees exactly what moved.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias

# ingest_extracts emits each clean table it changed through this alias.
CLEAN_TABLES = AssetAlias("liftline_clean_tables")
# build_features emits each feature table it (re)built.
FEATURE_TABLES = AssetAlias("liftline_feature_tables")
# score_models emits each ml_* table it wrote rows to.
SCORED_TABLES = AssetAlias("liftline_scored_tables")
# train_models emits CHAMPIONS_ASSET when a training task reported a new champion.
CHAMPIONS = AssetAlias("liftline_champions")
CHAMPIONS_ASSET = Asset(name="champions", uri="liftline://registry/champions",
                        group="liftline_models")

# The feature tables build_features makes, in its order: the sales tables read each other
# (each after the one before), the others are independent.
SALES_FEATURE_TABLES = ("feat_calendar", "feat_sales_daily", "feat_sales_store_daily",
                        "feat_promo_effectiveness")
OTHER_FEATURE_TABLES = ("feat_mmm_weekly", "feat_mmm_controls_weekly", "feat_crm_attribution",
                        "feat_customer", "feat_service_interaction")
FEATURE_TABLE_NAMES = SALES_FEATURE_TABLES + OTHER_FEATURE_TABLES

# What scoring writes and the monitor reads.
SCORED_TABLE_NAMES = ("ml_sales_forecast", "ml_promo_lift", "ml_promo_recommendations",
                      "ml_customer_segments", "ml_customer_profiles", "ml_segment_migrations",
                      "ml_satisfaction_scores", "ml_experiment_recommendations")
MONITORED_TABLE_NAMES = ("ml_sales_forecast", "ml_promo_lift")


def clean_table_asset(table: str) -> Asset:
    """The Asset of a clean warehouse table: schedule downstream DAGs on these."""
    # str(): the library may hand over SQLAlchemy's quoted_name, which Airflow's task
    # supervisor cannot serialise (the task would then fail after its work was done).
    table = str(table)
    return Asset(name=table, uri=f"liftline://warehouse/{table}", group="liftline_clean")


def feature_table_asset(table: str) -> Asset:
    """The Asset of a feature table (feat_*): model training and scoring schedule on these."""
    table = str(table)
    return Asset(name=table, uri=f"liftline://warehouse/{table}", group="liftline_features")


def scored_table_asset(table: str) -> Asset:
    """The Asset of a scoring output (ml_*): the monitor schedules on these."""
    table = str(table)
    return Asset(name=table, uri=f"liftline://warehouse/{table}", group="liftline_scores")


def champions_asset(family: str) -> Asset:
    """The Asset a new champion of any model family emits (`family` goes in the event's extra)."""
    return CHAMPIONS_ASSET


def feature_table_assets() -> list[Asset]:
    """Every feature table's Asset: training and scoring run when any of them changed."""
    return [feature_table_asset(name) for name in FEATURE_TABLE_NAMES]


def monitored_table_assets() -> list[Asset]:
    """The scoring outputs the monitor reads: it runs when scoring wrote any of them."""
    return [scored_table_asset(name) for name in MONITORED_TABLE_NAMES]
