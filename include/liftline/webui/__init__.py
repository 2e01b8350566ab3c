"""The report pages the Airflow UI shows: a small web app listing the HTML reports in
`$LIFTLINE_HOME/reports/` and serving them, mounted in Airflow's api-server by the plugin in
plugins/liftline_reports.py (which adds the authentication Airflow gives its own pages).
"""

from .app import create_app, list_reports

__all__ = ["create_app", "list_reports"]
