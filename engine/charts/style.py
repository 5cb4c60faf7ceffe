"""Shared look of every chart: palette, layout, empty figures and plain-text labels.

User strings (model and dataset names, class labels) reach Plotly as trace
names, hover text, tick labels and titles, where Plotly renders a subset of
HTML — an ``<a href>`` in a model name would become a link. :func:`plain`
escapes them so they show as typed.
"""

from __future__ import annotations

import html
import math
from typing import Any

import plotly.graph_objects as go

PALETTE = (
    "#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d",
    "#475569", "#ea580c",
)
LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
    "font": {"size": 13},
}
# titles pinned to the top-left of the figure (pixels, not fractions), so charts side by side line up
TITLE = {"x": 0.01, "xanchor": "left", "y": 1.0, "yanchor": "top", "yref": "container", "pad": {"t": 14}}
LEGEND_INSIDE = {"bgcolor": "rgba(255,255,255,0.85)", "bordercolor": "#e2e8f0", "borderwidth": 1,
                 "orientation": "v", "yanchor": "bottom", "y": 0.03}
LEGEND_ABOVE_MARGIN = {"l": 60, "r": 20, "t": 90, "b": 50}
TITLE_ONLY_MARGIN = {"l": 60, "r": 20, "t": 70, "b": 50}
GUIDE_LINE = {"dash": "dash", "color": "#94a3b8", "width": 1}


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def plain(text: object) -> str:
    """A user string as Plotly text: HTML-escaped, so it renders literally."""
    return html.escape(str(text), quote=False)


def layout(**overrides: Any) -> dict[str, Any]:
    """The shared layout with ``overrides`` merged one level deep (dicts are updated, not replaced)."""
    out = dict(LAYOUT)
    for key, value in overrides.items():
        out[key] = (out[key] | value) if isinstance(out.get(key), dict) and isinstance(value, dict) else value
    return out


def titled(title: str | None) -> dict[str, Any]:
    """The title block: same place in every chart, so side-by-side charts line up."""
    return TITLE | {"text": title or ""}


def empty_figure(message: str, *, title: str | None = None) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                       font={"size": 14, "color": "#64748b"})
    fig.update_layout(**layout(), title=titled(title), xaxis={"visible": False}, yaxis={"visible": False},
                      height=300)
    return fig


def log_axis(lo: float, hi: float, *, pad_decades: float = 0.25) -> dict[str, Any]:
    """A log axis over [lo, hi] (positive): labels only at powers of ten once the range spans a
    decade (Plotly's default also labels 2 and 5 in between, which crowds: "5 0.01 2 5 0.1")."""
    lo_log, hi_log = math.log10(max(lo, 1e-12)), math.log10(max(hi, 1e-12))
    pad = max(pad_decades, 0.1 * (hi_log - lo_log))
    axis: dict[str, Any] = {"type": "log", "range": [lo_log - pad, hi_log + pad]}
    if hi_log - lo_log + 2 * pad >= 1.0:
        axis |= {"dtick": 1, "minor": {"showgrid": False}}
    return axis


def bounded_range(lo: float, hi: float, *, bounded: bool) -> list[float]:
    """An axis range around [lo, hi] with a little padding; a metric bounded in [0, 1] never
    runs past 1 by more than the padding (all folds at 1.0 must not stretch the axis to 2)."""
    span = hi - lo
    pad = max(span * 0.15, abs(hi) * 0.01, 1e-3 if bounded else 1e-6)
    top = hi + pad
    if bounded:
        top = min(top, 1.0 + max(span * 0.15, 0.005))
        lo = max(lo - pad, 0.0) if lo - pad < 0 else lo - pad
        return [lo, top]
    return [lo - pad, top]
