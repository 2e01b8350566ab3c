"""The next-experiment table, written by `liftline.plan.experiment` (one scoring run's rows).

`ml_experiment_recommendations`: per mix-model fit (country, or "ALL"), channel and test
design (weeks dark x matched treatment and control), what a geo-holdout lift test is expected
to do to the channel's ROI interval, its minimum detectable effect, power and cost; the
recommended test of each fit has `recommended` true and `rank` 1. A rerun of a run_id replaces
its rows.

Imported by `liftline.warehouse` so `create_schema` creates it on the shared metadata.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Connection, Float, Integer, String, Table

from .columns import add_missing_columns
from .tables import metadata

__all__ = ["EXPERIMENT_TABLES", "add_experiment_refit_columns", "ml_experiment_recommendations"]

ml_experiment_recommendations = Table(
    "ml_experiment_recommendations",
    metadata,
    Column("run_id", String, primary_key=True),  # the scoring run
    Column("country", String, primary_key=True),  # the mix model's area: a country or "ALL"
    Column("channel", String, primary_key=True),
    Column("weeks", Integer, primary_key=True, autoincrement=False),  # weeks dark
    Column("design", Integer, primary_key=True, autoincrement=False),  # 1.. by treated share
    Column("treatment", String),  # comma-separated regions or stores where the channel goes dark
    Column("control", String),  # their matched controls, same order of quality
    Column("mde", Float),  # minimum detectable incremental revenue of the area, 80% power, 5%
    Column("power", Float),  # to detect the model's own in-window incremental revenue
    Column("expected_interval_narrowing", Float),  # 1 - width after / width now
    Column("roi_lower_now", Float),
    Column("roi_upper_now", Float),
    Column("expected_roi_lower", Float),
    Column("expected_roi_upper", Float),
    Column("test_cost", Float),  # revenue the treated units lose, carry-over included
    Column("recommended", Boolean, nullable=False),
    Column("rank", Integer),  # 1 = recommended (when of acceptable cost), per country
    # --- beyond the columns ---
    Column("unit", String),  # region / store
    Column("treated_share", Float),  # of the area's POS revenue (taken as its share of spend)
    Column("test_se", Float),  # standard error of the area's incremental revenue
    Column("expected_incremental", Float),  # the model's in-window incremental, whole area
    Column("window_spend", Float),  # the channel's spend in such a window, whole area
    Column("roi_now", Float),
    Column("spend_share", Float),  # of the fit's media spend
    Column("score", Float),  # spend_share x expected_interval_narrowing
    Column("cost_acceptable", Boolean),
    Column("model_run_id", String),  # the training run of the mix model evaluated
    # how expected_interval_narrowing was found: "refit" (the mix model refitted with the
    # test's simulated results) or "screen" (the Gaussian screen alone, kept beside it)
    Column("narrowing_method", String),
    Column("screen_interval_narrowing", Float),
    Column("least_interval_narrowing", Float),  # refit: the least over the simulated results
)


def add_experiment_tables(conn: Connection) -> None:
    """ml_experiment_recommendations (the next experiment per mix model channel)"""
    # A new table only: create_all makes it after the migrations.


def add_experiment_refit_columns(conn: Connection) -> None:
    """ml_experiment_recommendations: how each expected narrowing was found (refit or screen)"""
    add_missing_columns(conn, ml_experiment_recommendations,
                        ["narrowing_method", "screen_interval_narrowing",
                         "least_interval_narrowing"])


EXPERIMENT_TABLES: tuple[str, ...] = ("ml_experiment_recommendations",)
