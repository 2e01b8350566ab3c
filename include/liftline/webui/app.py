"""The reports app: `/` lists the reports, `/latest` opens the newest, `/reports/<name>` one.

Only files of the reports folder that the listing shows can be served: a name is looked up in
the listing, never joined onto a path, so `../` or an absolute path cannot reach anything else.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from liftline import settings
from liftline.report import LATEST


@dataclass(frozen=True)
class Report:
    name: str
    path: Path
    modified: dt.datetime
    size: int


def list_reports(folder: Path | None = None) -> list[Report]:
    """The HTML reports in `folder`, newest first (the `latest.html` copy is not listed)."""
    folder = folder or settings.reports_dir()
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("*.html"):
        if path.name == LATEST or not path.is_file():
            continue
        stat = path.stat()
        found.append(Report(path.name, path, dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC),
                            stat.st_size))
    return sorted(found, key=lambda r: (r.modified, r.name), reverse=True)


def create_app(folder: Path | None = None, dependencies: Sequence[Any] = ()) -> FastAPI:
    """The app; `dependencies` guard every route (the plugin passes Airflow's user check)."""
    app = FastAPI(title="Liftline reports", dependencies=list(dependencies),
                  docs_url=None, redoc_url=None, openapi_url=None)

    def current_folder() -> Path:
        return folder or settings.reports_dir()

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return _index_page(list_reports(current_folder()), current_folder())

    @app.get("/latest")
    def latest() -> FileResponse:
        reports = list_reports(current_folder())
        if not reports:
            raise HTTPException(404, f"no report yet in {current_folder()}: run "
                                     "`liftline report` (or `liftline demo`) to write one")
        return _html_file(reports[0].path)

    @app.get("/reports/{name}")
    def one(name: str) -> FileResponse:
        for report in list_reports(current_folder()):
            if report.name == name:
                return _html_file(report.path)
        raise HTTPException(404, f"no report called {name!r}: see the list of reports")

    return app


def _html_file(path: Path) -> FileResponse:
    # A report changes with every run under the same name (latest): never cache it.
    return FileResponse(path, media_type="text/html", headers={"Cache-Control": "no-store"})


def _index_page(reports: list[Report], folder: Path) -> str:
    # Links are relative: the app is mounted under a prefix, maybe behind a proxy.
    rows = "".join(
        f'<tr><td><a href="reports/{html.escape(r.name)}">{html.escape(r.name)}</a></td>'
        f"<td>{r.modified:%Y-%m-%d %H:%M} UTC</td><td>{r.size / 1e6:.1f} MB</td></tr>"
        for r in reports)
    body = (f'<p><a href="latest">Open the latest report</a></p><table><thead><tr><th>Report'
            f"</th><th>Written</th><th>Size</th></tr></thead><tbody>{rows}</tbody></table>"
            if reports else
            f"<p>No report yet in <code>{html.escape(str(folder))}</code>. Run "
            "<code>liftline report</code> (or <code>liftline demo</code>) to write one.</p>")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Liftline reports</title>"
            "<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2937}"
            "table{border-collapse:collapse}td,th{padding:.3rem .8rem;text-align:left;"
            "border-bottom:1px solid #e5e7eb}</style></head><body><h1>Liftline reports</h1>"
            f"{body}</body></html>")
