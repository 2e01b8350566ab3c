"""The report as one self-contained HTML page: Jinja2 template, plotly.js inlined once.

Why plotly: hover, zoom and a store dropdown come with it, and its one bundle (~4.8 MB,
inlined once however many plots) keeps the page offline-safe; each figure adds only its data.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from liftline.report.model import Report

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="liftline-plots" content="{{ report.plots | length }}">
<title>Liftline report{% if report.as_of %} — {{ report.as_of }}{% endif %}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1d2330; background: #f4f5f7; line-height: 1.45; }
header { background: #1d2330; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #c4c9d4; font-size: 13px; }
nav { position: sticky; top: 0; background: #fff; border-bottom: 1px solid #dde1e7;
      padding: 8px 32px; z-index: 10; font-size: 14px; }
nav a { margin-right: 18px; color: #1f6fb2; text-decoration: none; }
main { max-width: 1180px; margin: 0 auto; padding: 12px 24px 48px; }
section { background: #fff; border: 1px solid #dde1e7; border-radius: 8px; padding: 8px 24px 20px;
          margin: 18px 0; }
section h2 { font-size: 19px; margin: 14px 0 8px; }
.reading p { margin: 6px 0; max-width: 900px; }
.notice { border-radius: 6px; padding: 10px 14px; margin: 10px 0; font-size: 14px; }
.notice.missing { background: #f1f3f6; border-left: 4px solid #8a8f98; }
.notice.warning { background: #fff4e0; border-left: 4px solid #e8871e; font-weight: 600; }
.notice.info { background: #e8f1fa; border-left: 4px solid #1f6fb2; }
.notice .tag { text-transform: uppercase; font-size: 11px; letter-spacing: .05em;
               margin-right: 6px; color: #555; }
figure { margin: 14px 0; }
figcaption { font-size: 12px; color: #5c6370; margin-top: 2px; }
.plot { width: 100%; min-height: 280px; }
table { border-collapse: collapse; font-size: 13px; margin: 10px 0 6px; width: 100%; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #e6e9ee;
         vertical-align: top; }
th { background: #f7f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
footer { color: #5c6370; font-size: 12px; text-align: center; padding: 20px; }
</style>
</head>
<body>
<header>
<h1>Liftline marketing report</h1>
<p>Data as of {{ report.as_of or "unknown (no sales features yet)" }} · built
{{ report.generated_at.strftime("%Y-%m-%d %H:%M UTC") }} · warehouse {{ report.warehouse }}</p>
</header>
<nav>{% for s in report.sections %}<a href="#{{ s.key }}">{{ s.title }}</a>{% endfor %}</nav>
<main>
{% for s in report.sections %}
<section id="{{ s.key }}" data-section="{{ s.key }}">
<h2>{{ s.title }}</h2>
{% for n in s.notices %}<div class="notice {{ n.level }}" data-notice="{{ n.level }}">
<span class="tag">{{ {"missing": "missing", "warning": "caution", "info": "note"}[n.level] }}</span>
{{ n.text }}</div>
{% endfor %}
{% for item in s.items %}
{% if item.kind == "text" %}<div class="reading">{% for t in item.sentences %}<p>{{ t }}</p>
{% endfor %}</div>
{% elif item.kind == "plot" %}<figure><div class="plot" id="plot-{{ item.key }}"
 data-plot="{{ item.key }}"></div>{% if item.caption %}<figcaption>{{ item.caption }}
</figcaption>{% endif %}</figure>
{% else %}<table>{% if item.caption %}<caption>{{ item.caption }}</caption>{% endif %}
<thead><tr>{% for c in item.columns %}<th>{{ c }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in item.rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
{% endif %}
{% endfor %}
</section>
{% endfor %}
</main>
<footer>Liftline · figures from the warehouse's model outputs and the model registry ·
every chart: hover for values, drag to zoom, double-click to reset</footer>
<script>{{ plotly_js }}</script>
<script type="application/json" id="liftline-figures">{{ figures_json }}</script>
<script>
(function () {
  var figures = JSON.parse(document.getElementById("liftline-figures").textContent);
  var drawn = 0;
  Object.keys(figures).forEach(function (key) {
    var target = document.getElementById("plot-" + key);
    var fig = figures[key];
    try {
      Plotly.newPlot(target, fig.data, fig.layout, {responsive: true, displaylogo: false});
      drawn += 1;
    } catch (err) {
      console.error("liftline: plot " + key + " failed: " + err);
    }
  });
  document.body.setAttribute("data-plots-drawn", String(drawn));
})();
</script>
</body>
</html>
"""


@cache
def plotly_js() -> str:
    """The plotly.js bundle shipped inside the pinned `plotly` package (no network)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _script_safe(text: str) -> str:
    """Text that cannot close the <script> element it sits in."""
    return text.replace("</", "<\\/")


def render_html(report: Report) -> str:
    env = Environment(autoescape=select_autoescape(default=True), trim_blocks=True,
                      lstrip_blocks=True)
    figures: dict[str, Any] = {plot.key: plot.figure for plot in report.plots}

    return env.from_string(TEMPLATE).render(
        report=report,
        plotly_js=Markup(_script_safe(plotly_js())),
        figures_json=Markup(_script_safe(json.dumps(figures, separators=(",", ":"),
                                                     allow_nan=False))))
