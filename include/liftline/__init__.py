"""Liftline: an Airflow 3 batch ML pipeline for marketing analytics.

The library holds all logic and never imports Airflow; DAGs in `dags/` call into it. Each
sub-package is one stage, and its `__init__` is its public API.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
