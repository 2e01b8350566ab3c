"""An alert's chart as a PNG for Slack, drawn at delivery from the data the alert row holds.

The alert keeps the chart's numbers (details["chart"]), not an image file: the row alone is
enough to deliver it from any worker, and a retry draws the same picture again. The spec:
`{"title": str, "y_label": str, "x": [label, ...], "series": [{"name": str, "values":
[number or null, ...]}, ...]}`; a null is a gap in its line.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

CHART_KEY = "chart"
CHART_SIZE_IN = (8.0, 3.6)
CHART_DPI = 110
COLOURS = ("#222222", "#1f6fb2", "#e8871e", "#2a9d5c")


def chart_spec(details: Mapping[str, Any]) -> dict[str, Any] | None:
    """The chart an alert carries, or None when it has none (or one with nothing to draw)."""
    spec = details.get(CHART_KEY)
    if not isinstance(spec, Mapping) or not spec.get("x") or not spec.get("series"):
        return None
    return dict(spec)


def chart_filename(alert: Mapping[str, Any]) -> str:
    """e.g. weekly_summary-week-2024-W26.png: readable in Slack's file list."""
    name = f"{alert.get('kind')}-{alert.get('entity_key')}"
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name) + ".png"


def render_chart_png(spec: Mapping[str, Any]) -> bytes:
    """The spec drawn as lines with markers, one per series, as PNG bytes (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a worker; must precede pyplot
    from matplotlib import pyplot as plt
    from matplotlib.ticker import StrMethodFormatter

    labels = [str(label) for label in spec["x"]]
    fig, ax = plt.subplots(figsize=CHART_SIZE_IN, dpi=CHART_DPI)
    try:
        for index, series in enumerate(spec["series"]):
            values = [_number(v) for v in series.get("values", [])][: len(labels)]
            ax.plot(labels[: len(values)], values, marker="o", linewidth=2,
                    color=COLOURS[index % len(COLOURS)], label=str(series.get("name", "")),
                    linestyle="-" if index == 0 else "--")
        ax.set_title(str(spec.get("title", "")), fontsize=11, loc="left")
        ax.set_ylabel(str(spec.get("y_label", "")))
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(frameon=False, fontsize=9)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(fig)  # a long-lived worker must not keep every figure in memory


def _number(value: Any) -> float:
    # None and non-finite values are gaps: matplotlib leaves NaN points unconnected.
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return math.nan
