"""Assembling the report: gather every section's data, build the sections, write the page."""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from liftline import settings
from liftline.modeling import resolve_as_of
from liftline.report.customers import CustomerData, customers_section, gather_customers
from liftline.report.forecast import forecast_section, gather_forecast
from liftline.report.headline import gather_headline, headline_section
from liftline.report.health import HealthData, gather_health, health_section
from liftline.report.media import MediaData, gather_media, media_section
from liftline.report.model import Report, Section
from liftline.report.plan import gather_plan, plan_section
from liftline.report.promotions import PromoData, gather_promotions, promotions_section
from liftline.report.render import render_html
from liftline.report.secrets import known_secrets, redact, safe_url

log = logging.getLogger(__name__)

LATEST = "latest.html"


def build_report(engine: Engine, as_of: dt.date | str | None = None,
                 now: dt.datetime | None = None) -> Report:
    """The report of the warehouse's latest outputs (as of `as_of`, default the features')."""
    day = resolve_as_of(engine, as_of)
    promos = _gathered("promotions", lambda: gather_promotions(engine, day))
    media = _gathered("media", lambda: gather_media(engine, day))
    customers = _gathered("customers", lambda: gather_customers(engine, day))
    health = _gathered("health", lambda: gather_health(engine, day))
    empty = pd.DataFrame()
    headline = _guarded("headline", "This week", lambda: headline_section(
        gather_headline(engine, day),
        promos if isinstance(promos, PromoData) else PromoData(empty, empty),
        media if isinstance(media, MediaData) else MediaData({}, empty, empty, empty),
        customers if isinstance(customers, CustomerData) else CustomerData(empty, empty, empty),
        health if isinstance(health, HealthData) else HealthData(day, empty, empty, empty)))
    sections = [
        headline,
        _guarded("forecast", "Sales forecast",
                 lambda: forecast_section(gather_forecast(engine, day))),
        _guarded("promotions", "Promotions", lambda: promotions_section(_must(promos))),
        _guarded("media", "Media mix", lambda: media_section(_must(media))),
        _guarded("plan", "Quarter plan", lambda: plan_section(gather_plan(engine, day))),
        _guarded("customers", "Customers", lambda: customers_section(_must(customers))),
        _guarded("health", "Data quality and model health",
                 lambda: health_section(_must(health))),
    ]
    generated = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return Report(day, generated, safe_url(engine.url.render_as_string(hide_password=False)),
                  sections)


def write_report(engine: Engine, out: Path | str | None = None,
                 as_of: dt.date | str | None = None) -> Path:
    """Write the page to `out`, or to LIFTLINE_HOME/reports/report-<as_of>.html plus
    reports/latest.html; returns the path written (the dated one by default)."""
    report = build_report(engine, as_of)
    html = redact(render_html(report),
                  known_secrets(engine.url.render_as_string(hide_password=False)))
    if out is not None:
        target = Path(out).expanduser()
        _write_atomically(target, html)
        return target
    folder = settings.reports_dir()
    target = folder / f"report-{report.as_of or 'no-data'}.html"
    _write_atomically(target, html)
    _write_atomically(folder / LATEST, html)
    return target


def _write_atomically(target: Path, html: str) -> None:
    """Readers (the Airflow UI, a browser reloading) never see half a page."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(html)
    os.chmod(temporary, 0o644)  # mkstemp makes it private; a report is meant to be read
    shutil.move(temporary, target)


class _Unavailable(Exception):
    """A section's data could not be gathered (the reason is already logged)."""


def _gathered(key: str, gather: Callable[[], Any]) -> Any:
    """The section's data, or the exception that stopped its gathering."""
    try:
        return gather()
    except Exception as exc:  # noqa: BLE001 - one bad table must not cost the whole report
        log.exception("report: gathering the %s section failed", key)
        return exc


def _must(data: Any) -> Any:
    if isinstance(data, Exception):
        raise _Unavailable(_first_line(data))
    return data


def _guarded(key: str, title: str, build: Callable[[], Section]) -> Section:
    """The section, or one that says why it could not be built (the rest still renders)."""
    try:
        return build()
    except Exception as exc:  # noqa: BLE001 - see _gather_or_none
        if not isinstance(exc, _Unavailable):
            log.exception("report: section %s failed", key)
        section = Section(key, title)
        section.warn(f"This section could not be built from the warehouse "
                     f"({_first_line(exc)}); the other sections are unaffected. The "
                     "pipeline's log has the details.")
        return section


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
