"""Plotly figures as plain dicts: what the report's charts share (colours, layout, rounding).

Figures are built as JSON-ready dicts rather than through plotly's Python objects: the page only
needs the JSON, and skipping the objects' validation keeps a 54-store report fast. Values are
rounded so the embedded data stays small.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

BLUE, ORANGE, GREEN, RED, GREY, PURPLE = (
    "#1f6fb2", "#e8871e", "#2e9e5b", "#c8372d", "#8a8f98", "#7b4fa8")
BAND = "rgba(31,111,178,0.18)"
ZONE_COLOURS = {"efficient": GREEN, "diminishing": ORANGE, "saturated": RED}
FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"


def values(series: Iterable[Any], digits: int = 4) -> list[Any]:
    """JSON-safe numbers rounded to `digits` significant figures (None for missing)."""
    out: list[Any] = []
    for value in series:
        try:
            number = float(value)
        except (TypeError, ValueError):
            out.append(None if value is None else str(value))
            continue
        if math.isnan(number) or math.isinf(number):
            out.append(None)
        elif number == 0:
            out.append(0)
        else:
            out.append(float(f"{number:.{digits}g}"))
    return out


def labels(series: Iterable[Any]) -> list[str]:
    return [str(v) for v in series]


def layout(title: str = "", x: str = "", y: str = "", height: int = 380,
           **extra: Any) -> dict[str, Any]:
    margin = {"l": 70, "r": 20, "t": 50 if title else 20, "b": 90 if x else 60}
    # The legend sits a fixed number of pixels under the plot (below the x axis title when there
    # is one), whatever the chart's height: paper units would drift away on tall charts.
    below = (58 if x else 46) / max(height - margin["t"] - margin["b"], 50)
    base = {
        "title": {"text": title, "x": 0, "font": {"size": 15}},
        "height": height,
        "margin": margin,
        "font": {"family": FONT, "size": 12},
        "xaxis": {"title": {"text": x}, "automargin": True},
        "yaxis": {"title": {"text": y}, "automargin": True, "separatethousands": True},
        "legend": {"orientation": "h", "yanchor": "top", "y": -below},
        "hovermode": "closest",
        "plot_bgcolor": "#ffffff",
        "paper_bgcolor": "#ffffff",
    }
    base.update(extra)
    return base


def figure(data: list[dict[str, Any]], layout_: dict[str, Any]) -> dict[str, Any]:
    return {"data": data, "layout": layout_}


def bar(x: Sequence[Any], y: Sequence[Any], name: str = "", colour: str | list[str] = BLUE,
        horizontal: bool = False, hover: str = "", **extra: Any) -> dict[str, Any]:
    trace = {"type": "bar", "name": name, "marker": {"color": colour}}
    if horizontal:
        trace.update(x=values(y), y=labels(x), orientation="h")
    else:
        trace.update(x=labels(x), y=values(y))
    if hover:
        trace["hovertemplate"] = hover
    trace.update(extra)
    return trace


def line(x: Sequence[Any], y: Sequence[Any], name: str, colour: str = BLUE, dash: str = "solid",
         **extra: Any) -> dict[str, Any]:
    trace = {"type": "scatter", "mode": "lines", "name": name, "x": labels(x), "y": values(y),
             "line": {"color": colour, "dash": dash, "width": 2}}
    trace.update(extra)
    return trace


def band(x: Sequence[Any], lower: Sequence[Any], upper: Sequence[Any], name: str,
         fill: str = BAND, **extra: Any) -> list[dict[str, Any]]:
    """An interval as a filled area: an invisible lower edge, then the upper edge filled to it."""
    common = {"type": "scatter", "mode": "lines", "line": {"width": 0}, "x": labels(x),
              "hoverinfo": "skip", "legendgroup": name}
    low = {**common, "y": values(lower), "showlegend": False, "name": name + " (lower)"}
    high = {**common, "y": values(upper), "fill": "tonexty", "fillcolor": fill, "name": name}
    low.update(extra)
    high.update(extra)
    return [low, high]


def intervals(x: Sequence[Any], y: Sequence[Any], lower: Sequence[Any], upper: Sequence[Any],
              name: str, colour: str, horizontal: bool = True, **extra: Any) -> dict[str, Any]:
    """Points with asymmetric error bars (a value and its interval)."""
    point = [float(v) if v is not None else math.nan for v in values(y)]
    minus = [p - float(lo) if lo is not None and not math.isnan(p) else None
             for p, lo in zip(point, values(lower), strict=True)]
    plus = [float(hi) - p if hi is not None and not math.isnan(p) else None
            for p, hi in zip(point, values(upper), strict=True)]
    bars = {"type": "data", "symmetric": False, "array": values(plus), "arrayminus": values(minus),
            "color": colour, "thickness": 1.5, "width": 4}
    trace = {"type": "scatter", "mode": "markers", "name": name,
             "marker": {"color": colour, "size": 9}}
    if horizontal:
        trace.update(x=values(y), y=labels(x), error_x=bars)
    else:
        trace.update(x=labels(x), y=values(y), error_y=bars)
    trace.update(extra)
    return trace


def menu(buttons: list[dict[str, Any]]) -> dict[str, Any]:
    """A dropdown at the top left of the plot, clear of plotly's tool bar on the right."""
    return {"buttons": buttons, "direction": "down", "x": 0, "xanchor": "left", "y": 1.02,
            "yanchor": "bottom", "showactive": True, "bgcolor": "#ffffff",
            "bordercolor": "#8a8f98", "pad": {"r": 4, "t": 0}}


def pretty(name: Any) -> str:
    """A code such as online_video or ooh as people say it."""
    text = str(name)
    return SPOKEN.get(text.lower(), text.replace("_", " "))


SPOKEN = {"ooh": "out-of-home", "tv": "TV", "dooh": "digital out-of-home", "crm": "CRM"}
