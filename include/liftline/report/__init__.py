"""The HTML report marketers read: one self-contained page per run (plots inline, no network).

`build_report` gathers each section's data from the warehouse's output tables and the model
registry (never `clean_*`), turns it into sentences, plots and tables; `render_html` makes the
page; `write_report` does both and writes `reports/report-<as_of>.html` and `reports/latest.html`
under LIFTLINE_HOME (or one named file). A section whose model or table has nothing yet says what
is missing and why instead of failing.
"""

from .builder import LATEST, build_report, write_report
from .model import Notice, Plot, Report, Section, Table
from .render import render_html
from .secrets import known_secrets, redact, safe_url

__all__ = [
    "LATEST",
    "Notice",
    "Plot",
    "Report",
    "Section",
    "Table",
    "build_report",
    "known_secrets",
    "redact",
    "render_html",
    "safe_url",
    "write_report",
]
