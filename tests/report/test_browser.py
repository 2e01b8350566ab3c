"""The report in a real browser: every plot draws, nothing logs an error, and a screenshot
(tests/browser.py drives Chromium). Skips where /usr/bin/chromium is absent. The same page served
through the Airflow api-server's plugin is rendered in tests/dags/test_scheduler.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import CHROMIUM_FOUND, SKIP_REASON, render, run_chromium
from report_world import fill

from liftline.report import write_report
from liftline.warehouse import create_schema, dispose_engines, get_engine

pytestmark = pytest.mark.skipif(not CHROMIUM_FOUND, reason=SKIP_REASON)


def test_every_plot_renders_without_console_errors(tmp_path: Path):
    # SQLite only: what the browser sees does not depend on the warehouse's dialect.
    engine = get_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    create_schema(engine)
    fill(engine)
    page = write_report(engine, out=tmp_path / "report.html")
    dispose_engines()
    rendered = render(page.read_text(encoding="utf-8"), tmp_path)
    assert rendered.errors == []
    assert rendered.meant == 13 and len(rendered.drawn) == rendered.meant, rendered.drawn
    assert f'data-plots-drawn="{rendered.meant}"' in rendered.dom
    # Chromium's own log of the console, in case an error came before the probe could listen.
    assert not [line for line in rendered.console if "Uncaught" in line], rendered.console

    shot = tmp_path / "report.png"
    taken = run_chromium("--window-size=1280,2400", f"--screenshot={shot}", page.as_uri(),
                         cwd=tmp_path)
    assert taken.returncode == 0 and shot.stat().st_size > 50_000, taken.stderr[-2000:]
    print(f"screenshot: {shot}")
