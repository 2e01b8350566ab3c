"""The report in a real browser: every plot draws, nothing logs an error, and a screenshot.

Headless Chromium from the Debian package, driven through its command line: `--dump-dom` after
the page's scripts ran, with a small probe injected at the top of the page that records console
errors and uncaught exceptions and checks each plot for drawn traces. No DevTools websocket or
Playwright: nothing to download, no port to race for. Skips where /usr/bin/chromium is absent.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest
from report_world import fill

from liftline.report import write_report
from liftline.warehouse import create_schema, dispose_engines, get_engine

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="needs /usr/bin/chromium (apt-get install chromium)")

# Runs before the page's own scripts: keeps every console.error and uncaught error, and once the
# page has loaded writes them and the plots that drew traces into attributes of <html>.
PROBE = """<script>
(function () {
  var errors = [];
  var report = console.error.bind(console);
  console.error = function () {
    errors.push(Array.prototype.join.call(arguments, " ")); report.apply(null, arguments);
  };
  window.addEventListener("error", function (e) { errors.push("uncaught: " + e.message); });
  window.addEventListener("unhandledrejection", function (e) {
    errors.push("unhandled: " + e.reason);
  });
  window.addEventListener("load", function () {
    var drawn = [];
    document.querySelectorAll("[data-plot]").forEach(function (el) {
      if (el.querySelector(".main-svg") && el.querySelectorAll(".trace, .hm").length > 0) {
        drawn.push(el.getAttribute("data-plot"));
      }
    });
    var root = document.documentElement;
    root.setAttribute("data-probe-errors", JSON.stringify(errors));
    root.setAttribute("data-probe-drawn", JSON.stringify(drawn));
  });
})();
</script>"""

BROWSER = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--no-first-run", "--virtual-time-budget=20000"]


def run_chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*BROWSER, *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, check=False)


def attribute(dom: str, name: str):
    found = re.search(rf'{name}="([^"]*)"', dom)
    assert found, f"{name} missing: the probe did not run"
    return json.loads(unescape(found.group(1)))


def test_every_plot_renders_without_console_errors(tmp_path: Path):
    # SQLite only: what the browser sees does not depend on the warehouse's dialect.
    engine = get_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    create_schema(engine)
    fill(engine)
    page = write_report(engine, out=tmp_path / "report.html")
    dispose_engines()
    html = page.read_text(encoding="utf-8")
    meant = int(re.search(r'name="liftline-plots" content="(\d+)"', html).group(1))
    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")

    dumped = run_chromium("--enable-logging=stderr", "--v=0", "--dump-dom",
                          probed.as_uri(), cwd=tmp_path)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    assert attribute(dom, "data-probe-errors") == []
    drawn = attribute(dom, "data-probe-drawn")
    assert meant == 13 and len(drawn) == meant, (meant, drawn)
    assert f'data-plots-drawn="{meant}"' in dom
    # Chromium's own log of the console, in case an error came before the probe could listen.
    console = [line for line in dumped.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "Uncaught" in line], console

    shot = tmp_path / "report.png"
    taken = run_chromium("--window-size=1280,2400", f"--screenshot={shot}", page.as_uri(),
                         cwd=tmp_path)
    assert taken.returncode == 0 and shot.stat().st_size > 50_000, taken.stderr[-2000:]
    print(f"screenshot: {shot}")
