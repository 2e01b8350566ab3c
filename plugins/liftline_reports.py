"""Liftline's report inside the Airflow UI: a "Liftline report" entry in the navigation opens
the latest HTML report in the UI's frame, and `/liftline/` lists every report.

Airflow does not authenticate a plugin's FastAPI app, so every route here requires the same
logged-in user as Airflow's own pages (`get_user`: the UI's token cookie or a bearer token).
The app itself is `liftline.webui`.
"""

from __future__ import annotations

from airflow.api_fastapi.core_api.security import get_user
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends

from liftline.webui import create_app

URL_PREFIX = "/liftline"


class LiftlineReportsPlugin(AirflowPlugin):
    name = "liftline_reports"
    fastapi_apps = [{
        "app": create_app(dependencies=[Depends(get_user)]),
        "url_prefix": URL_PREFIX,
        "name": "Liftline reports",
    }]
    external_views = [{
        "name": "Liftline report",
        "href": "liftline/latest",  # relative to the UI's base URL: works behind a proxy
        "url_route": "liftline-report",
        "destination": "nav",
    }]
