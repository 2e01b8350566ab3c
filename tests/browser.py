"""Headless Chromium for the report's tests: render a page and read what its plots did.

Driven through Chromium's command line (`--dump-dom` after the page's scripts ran), with a small
probe injected at the top of the page that records console errors and uncaught exceptions and
checks each plot for drawn traces. No DevTools websocket or Playwright: nothing to download, no
port to race for. `CHROMIUM_FOUND` is False where Debian's chromium is not installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from html import unescape
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FOUND = Path(CHROMIUM).exists()
SKIP_REASON = "needs /usr/bin/chromium (apt-get install chromium)"

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


@dataclass
class Rendered:
    meant: int  # the plots the page says it draws
    drawn: list[str]  # the plots that drew traces
    errors: list[str]  # console errors and uncaught exceptions
    console: list[str]  # Chromium's own console log lines
    dom: str


def run_chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*BROWSER, *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, check=False)


def render(html: str, workdir: Path) -> Rendered:
    """Load `html` (a report page) in Chromium with the probe; what its plots did."""
    meant = int(re.search(r'name="liftline-plots" content="(\d+)"', html).group(1))
    probed = workdir / "probed.html"
    probed.write_text(html.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    dumped = run_chromium("--enable-logging=stderr", "--v=0", "--dump-dom", probed.as_uri(),
                          cwd=workdir)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    console = [line for line in dumped.stderr.splitlines() if "CONSOLE" in line]
    return Rendered(meant, _attribute(dom, "data-probe-drawn"),
                    _attribute(dom, "data-probe-errors"), console, dom)


def _attribute(dom: str, name: str):
    found = re.search(rf'{name}="([^"]*)"', dom)
    assert found, f"{name} missing: the probe did not run"
    return json.loads(unescape(found.group(1)))
