"""The HTML report marketers read: one self-contained page per run (plots inline, no network).

`build_report` gathers each section's data from the warehouse's output tables and the model
registry (never `clean_*`), turns it into sentences, plots and tables; `render_html` makes the
page; `write_report` does both and writes `reports/report-<as_of>.html` and `reports/latest.html`
under LIFTLINE_HOME (or one named file). A section whose model or table has nothing yet says what
is missing and why instead of failing.

The `gather_*` functions, `decisions`, `diverged` and `fit_banner` are public so that other
summaries of the same outputs (the weekly Slack summary) say what the report says.
`SECTION_KEYS` are the page's anchors (`latest.html#promotions`).
"""

from .builder import LATEST, build_report, write_report
from .customers import CustomerData, gather_customers
from .forecast import ForecastData, gather_forecast
from .headline import HeadlineData, decisions, gather_headline
from .health import HealthData, gather_health
from .media import MediaData, fit_banner, gather_media
from .model import SECTION_KEYS, Notice, Plot, Report, Section, Table
from .plan import PlanData, gather_plan
from .promotions import PromoData, diverged, gather_promotions
from .render import render_html
from .secrets import known_secrets, redact, safe_url

__all__ = [
    "LATEST",
    "SECTION_KEYS",
    "CustomerData",
    "ForecastData",
    "HeadlineData",
    "HealthData",
    "MediaData",
    "Notice",
    "PlanData",
    "Plot",
    "PromoData",
    "Report",
    "Section",
    "Table",
    "build_report",
    "decisions",
    "diverged",
    "fit_banner",
    "gather_customers",
    "gather_forecast",
    "gather_headline",
    "gather_health",
    "gather_media",
    "gather_plan",
    "gather_promotions",
    "known_secrets",
    "redact",
    "render_html",
    "safe_url",
    "write_report",
]
