"""Where an alert sends its reader: the report section it is about, in the Airflow UI.

The one rule from an alert's kind to a section of the HTML report lives here (REPORT_SECTIONS).
The report is served by the Airflow UI at `<LIFTLINE_BASE_URL>/liftline/latest`, and its
sections are anchors (`liftline.report.SECTION_KEYS`; a test keeps the two in step). Without a
base URL a message names the report file instead: a localhost link would open nothing on the
reader's machine. Links are made when a message is formatted, not when the alert is recorded,
so setting the base URL later fixes the links of alerts still in the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from liftline import settings

# The report page inside the Airflow UI (plugins/liftline_reports.py: the app's /latest route
# under the /liftline prefix) and the file it serves.
REPORT_PAGE = "liftline/latest"
REPORT_FILE = "latest.html"

# Alert kind -> the report section that explains it. pipeline_failure has none: its link is
# the failed task's log, which the alert carries itself.
REPORT_SECTIONS: Mapping[str, str] = {
    "lift_divergence": "promotions",
    "forecast_drop": "forecast",
    "drift": "health",
    "model_degraded": "health",
    "stale_model": "health",
    "data_quality": "health",
    "stale_source": "health",
    "service_risk": "customers",
    "weekly_summary": "headline",
    "calibration_conflict": "media",
    "plan_summary": "plan",
    "plan_deviation": "plan",
}
SECTION_TITLES: Mapping[str, str] = {
    "headline": "This week",
    "forecast": "Sales forecast",
    "promotions": "Promotions",
    "media": "Media mix",
    "plan": "Quarter plan",
    "customers": "Customers",
    "health": "Data quality and model health",
}


@dataclass(frozen=True)
class ReportLink:
    """A report section: `url` when the base URL is known, else the report file's `path`."""

    section: str
    url: str | None
    path: str

    @property
    def title(self) -> str:
        return SECTION_TITLES.get(self.section, self.section)


@dataclass(frozen=True)
class ReportLinks:
    """How to reach the report: the Airflow UI's public URL (or None) and the reports folder."""

    base_url: str | None
    reports_dir: Path

    @classmethod
    def from_settings(cls) -> ReportLinks:
        return cls(settings.base_url(), settings.reports_dir())

    def for_kind(self, kind: str | None) -> ReportLink | None:
        """The section an alert of `kind` refers to, None when no section explains it."""
        section = REPORT_SECTIONS.get(str(kind))
        if section is None:
            return None
        url = (f"{self.base_url.rstrip('/')}/{REPORT_PAGE}#{section}"
               if self.base_url else None)
        return ReportLink(section, url, f"{self.reports_dir / REPORT_FILE}#{section}")
