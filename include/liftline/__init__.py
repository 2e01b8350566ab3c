"""Liftline: an Airflow 3 batch ML pipeline for marketing analytics.

The library holds all logic and never imports Airflow; DAGs in `dags/` call into it.
"""

__version__ = "0.1.0"
