"""The Pareto chart: every run on two objectives (a metric and a cost, usually), the front joined by a
staircase, optionally a third objective as colour."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from engine import metrics
from engine.charts.style import (
    LEGEND_ABOVE_MARGIN,
    bounded_range,
    color,
    empty_figure,
    layout,
    log_axis,
    plain,
    titled,
)
from engine.compare.pareto import front_order, non_dominated

PARETO_COLUMNS = ["run_id", "label", "x", "y", "color", "on_front", "front_rank", "skewed", "rows_seen",
                  "lineage", "params"]
SKEWED_NAME = "latency measured on a busy machine"
ROWS_SEEN_NOTE = "scored on rows it may have been trained on"
SKEWED_SYMBOL = "diamond-open"
LOG_DECADES = 2.0  # an axis whose (positive) values span more than this many decades is drawn log


def _direction(column: str) -> bool:
    hib = metrics.column_higher_is_better(column)
    if hib is None:
        known = [c.name for c in metrics.COSTS] + [f"{m.name}_mean" for m in metrics.REGISTRY]
        raise ValueError(f"unknown column {column!r}: neither a metric nor a cost, so its direction is "
                         f"unknown; known: {', '.join(known)}")
    return hib


def _better_word(higher_is_better: bool) -> str:
    return "higher is better" if higher_is_better else "lower is better"


# -------------------------------------------------------------------- info
def pareto_info(runs: pd.DataFrame, *, x: str, y: str, color: str | None = None,
                label: str = "label") -> pd.DataFrame:
    """Each run on ``x`` and ``y`` (summary columns: costs such as ``latency_p95_ms``, metrics such as
    ``accuracy_mean``) and whether it is on the Pareto front.

    Directions come from the metric and cost registry (:func:`engine.metrics.column_higher_is_better`);
    a column with no known direction raises ValueError. With ``color`` the colour column is a third
    objective: the front is computed over (x, y, color), and a run without a colour value is shown but
    never on the front.

    Columns: run_id, label, x, y, color (NaN without ``color``), on_front, front_rank (position along
    the drawn front, x ascending; -1 off it), skewed (latency measured on a busy machine), rows_seen
    (scored on rows it may have been trained on), lineage, params. Rows keep the input order; runs
    without x or y are left out and counted.

    ``attrs``: x, y, color (column names), x_label, y_label, color_label, x_higher_is_better,
    y_higher_is_better, color_higher_is_better (None without colour), n_dropped (runs without x or
    y), n_missing_color (runs kept but without a colour value).
    """
    x_hib, y_hib = _direction(x), _direction(y)
    c_hib = _direction(color) if color is not None else None
    runs = runs if runs is not None else pd.DataFrame()
    n = len(runs)

    def num(col: str | None) -> np.ndarray:
        if col is None or col not in runs.columns:
            return np.full(n, np.nan)
        return pd.to_numeric(runs[col], errors="coerce").to_numpy(dtype=float)

    def flag(col: str) -> np.ndarray:
        if col not in runs.columns:
            return np.zeros(n, dtype=bool)
        return runs[col].astype("boolean").fillna(False).to_numpy(dtype=bool)

    def text(col: str) -> list[str]:
        if col not in runs.columns:
            return [""] * n
        return ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in runs[col]]

    run_ids = runs["run_id"].astype(str).tolist() if "run_id" in runs.columns else [str(i) for i in range(n)]
    labels = runs[label].astype(str).tolist() if label in runs.columns else list(run_ids)
    frame = pd.DataFrame({
        "run_id": run_ids, "label": labels, "x": num(x), "y": num(y), "color": num(color),
        "on_front": np.zeros(n, dtype=bool), "front_rank": np.full(n, -1, dtype=int),
        "skewed": flag("latency_skewed"), "rows_seen": flag("rows_seen"),
        "lineage": text("lineage"), "params": text("params"),
    }, columns=PARETO_COLUMNS)
    has_xy = frame["x"].notna() & frame["y"].notna()
    info = frame[has_xy].reset_index(drop=True)

    xs, ys = info["x"].to_numpy(dtype=float), info["y"].to_numpy(dtype=float)
    if color is None:
        on_front = non_dominated(np.column_stack([xs, ys]), [x_hib, y_hib])
    else:
        on_front = non_dominated(np.column_stack([xs, ys, info["color"].to_numpy(dtype=float)]),
                                 [x_hib, y_hib, bool(c_hib)])
    rank = np.full(len(info), -1, dtype=int)
    rank[front_order(xs, ys, on_front, x_higher_is_better=x_hib, y_higher_is_better=y_hib)] = \
        np.arange(int(on_front.sum()))
    info["on_front"] = on_front
    info["front_rank"] = rank
    info.attrs = {
        "x": x, "y": y, "color": color,
        "x_label": metrics.column_label(x), "y_label": metrics.column_label(y),
        "color_label": metrics.column_label(color) if color is not None else None,
        "x_higher_is_better": x_hib, "y_higher_is_better": y_hib, "color_higher_is_better": c_hib,
        "n_dropped": int((~has_xy).sum()),
        "n_missing_color": int(info["color"].isna().sum()) if color is not None else 0,
    }
    return info


# ------------------------------------------------------------------ figure
def _format(column: str | None, value: float) -> str:
    """A value as tables show it: the metric's own format, else 4 significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    name = (column or "").removesuffix("_mean")
    if name in metrics.BY_NAME:
        return metrics.get(name).format(float(value))
    return f"{float(value):,.0f}" if abs(value) >= 1e4 else f"{float(value):.4g}"


def _hover(info: pd.DataFrame, a: dict) -> list[str]:
    """Per-run hover text; every user string escaped."""
    out = []
    x_label, y_label, c_label = plain(a["x_label"]), plain(a["y_label"]), plain(a["color_label"] or "")
    for row in info.itertuples(index=False):
        lines = [f"<b>{plain(row.label)}</b>"]
        if row.lineage:
            lines.append(plain(row.lineage))
        if row.params:
            lines.append(plain(row.params))
        lines.append(f"{x_label}: {_format(a['x'], row.x)}")
        lines.append(f"{y_label}: {_format(a['y'], row.y)}")
        if a["color"] is not None:
            lines.append(f"{c_label}: {_format(a['color'], row.color)}")
        lines.append("on the Pareto front" if row.on_front else "dominated: another run is at least as "
                     "good on every objective")
        if row.skewed:
            lines.append(f"⚠ {SKEWED_NAME}")
        if row.rows_seen:
            lines.append(f"⚠ {ROWS_SEEN_NOTE}")
        out.append("<br>".join(lines))
    return out


def _axis(values: np.ndarray, column: str | None, title: str) -> dict:
    """Log over more than two decades of positive values; metrics bounded in [0, 1] keep their range."""
    vals = values[np.isfinite(values)]
    axis: dict = {"title": title}
    if not len(vals):
        return axis
    lo, hi = float(vals.min()), float(vals.max())
    if lo > 0 and math.log10(hi / lo) > LOG_DECADES:
        return axis | log_axis(lo, hi) | {"title": f"{title} (log)"}
    name = (column or "").removesuffix("_mean")
    if name in metrics.BY_NAME and metrics.get(name).bounded:
        axis["range"] = bounded_range(lo, hi, bounded=True)
    return axis


def pareto_figure(info: pd.DataFrame, *, title: str | None = None, webgl_threshold: int = 500) -> go.Figure:
    """Every run as a marker; the front larger and outlined, joined by the staircase that bounds the
    region it dominates (for two objectives; with colour as a third, by a dotted line in x order).

    A run whose latency was measured on a busy machine is drawn as a hollow diamond; one scored on
    rows it may have been trained on says so on hover. Above ``webgl_threshold`` runs the traces are
    WebGL (``Scattergl``).
    """
    a = dict(info.attrs) if info is not None else {}
    a.setdefault("x", None)
    a.setdefault("y", None)
    a.setdefault("color", None)
    a.setdefault("x_label", a["x"] or "x")
    a.setdefault("y_label", a["y"] or "y")
    a.setdefault("color_label", a["color"])
    x_hib = a.get("x_higher_is_better")
    y_hib = a.get("y_higher_is_better")
    x_title = f"{a['x_label']} — {_better_word(x_hib)}" if x_hib is not None else a["x_label"]
    y_title = f"{a['y_label']} — {_better_word(y_hib)}" if y_hib is not None else a["y_label"]
    n_dropped = int(a.get("n_dropped", 0) or 0)
    if info is None or info.empty:
        msg = plain(f"no runs with both {a['x_label']} and {a['y_label']}")
        hint = "measure latency and evaluate runs to place them here"
        if n_dropped:
            hint = f"{n_dropped} run(s) lack one of them; {hint}"
        return empty_figure(f"{msg}<br>{plain(hint)}", title=title)

    scatter = go.Scattergl if len(info) > webgl_threshold else go.Scatter
    has_color = a["color"] is not None
    c_hib = bool(a.get("color_higher_is_better"))
    hover = np.asarray(_hover(info, a), dtype=object)
    symbols = np.where(info["skewed"].to_numpy(dtype=bool), SKEWED_SYMBOL, "circle")
    cvals = info["color"].to_numpy(dtype=float)
    cmin, cmax = (float(np.nanmin(cvals)), float(np.nanmax(cvals))) if has_color and np.isfinite(cvals).any() \
        else (0.0, 1.0)
    colorscale = {"colorscale": "Viridis", "reversescale": c_hib, "cmin": cmin, "cmax": cmax}  # better: darker
    front = info["on_front"].to_numpy(dtype=bool)
    fig = go.Figure()

    def markers(sel: np.ndarray, name: str, *, on_front: bool, colored: bool, showscale: bool = False) -> None:
        # runs as indices, unskewed first: the legend draws a trace's symbol from its first point
        sel = np.flatnonzero(sel)
        sel = sel[np.argsort(symbols[sel] != "circle", kind="stable")]
        marker: dict = {"symbol": symbols[sel], "size": 13 if on_front else 8,
                        "opacity": 1.0 if on_front else 0.45,
                        # an open symbol is only its outline: off the front it needs a width too
                        "line": {"width": 1.5, "color": "#0f172a"} if on_front else
                        {"width": np.where(symbols[sel] != "circle", 1.5, 0.0)}}
        if colored:
            marker |= colorscale | {"color": cvals[sel], "showscale": showscale}
            if showscale:
                marker["colorbar"] = {"title": {"text": plain(a["color_label"]) + "<br>"
                                                        + _better_word(c_hib), "side": "right"},
                                      "thickness": 14}
        else:
            marker["color"] = color(0) if on_front else "#94a3b8"
        fig.add_trace(scatter(
            x=info["x"].to_numpy(dtype=float)[sel], y=info["y"].to_numpy(dtype=float)[sel], mode="markers",
            name=name, marker=marker, text=hover[sel], hovertemplate="%{text}<extra></extra>",
            customdata=info["run_id"].to_numpy(dtype=object)[sel],
        ))

    # the front line first, under the markers
    ranks = info["front_rank"].to_numpy()
    order = np.flatnonzero(ranks >= 0)
    order = order[np.argsort(ranks[order], kind="stable")]
    if len(order):
        line = {"color": "#0f172a" if has_color else color(0), "width": 2}
        if has_color:
            fig.add_trace(scatter(x=info["x"].to_numpy(dtype=float)[order],
                                  y=info["y"].to_numpy(dtype=float)[order], mode="lines",
                                  name="Pareto front (3 objectives; joined left to right)",
                                  line=line | {"dash": "dot", "width": 1.5}, hoverinfo="skip"))
        else:
            # the dominated region lies on the far side of each front point in x: right of it when
            # lower x is better (step across, then up/down), left of it when higher x is better
            fig.add_trace(scatter(x=info["x"].to_numpy(dtype=float)[order],
                                  y=info["y"].to_numpy(dtype=float)[order], mode="lines",
                                  name="Pareto front", line=line | {"shape": "vh" if x_hib else "hv"},
                                  hoverinfo="skip"))
    missing_color = np.isnan(cvals) if has_color else np.zeros(len(info), dtype=bool)
    others = ~front & ~missing_color
    if others.any():
        markers(others, "dominated runs", on_front=False, colored=has_color, showscale=False)
    if has_color and missing_color.any():
        markers(missing_color, f"no {plain(a['color_label'])} value", on_front=False, colored=False)
    if front.any():
        markers(front, "on the front", on_front=True, colored=has_color, showscale=has_color)
    if info["skewed"].any():  # legend entry for the symbol only
        fig.add_trace(scatter(x=[None], y=[None], mode="markers", name=SKEWED_NAME,
                              marker={"symbol": SKEWED_SYMBOL, "size": 11, "color": "#475569"},
                              hoverinfo="skip"))

    heading = title or f"{a['y_label']} vs {a['x_label']}: Pareto front"
    notes = []
    if n_dropped:
        notes.append(f"{n_dropped} run(s) without {a['x_label']} or {a['y_label']} not shown")
    if info["rows_seen"].any():
        notes.append(f"{int(info['rows_seen'].sum())} run(s) {ROWS_SEEN_NOTE} (see hover)")
    if notes:
        heading = f"{plain(heading)}<br><sup>{plain('; '.join(notes))}</sup>"
    else:
        heading = plain(heading)
    fig.update_layout(**layout(margin=LEGEND_ABOVE_MARGIN | ({"t": 110} if notes else {}),
                               legend={"y": 1.02}),
                      title=titled(heading), height=480,
                      xaxis=_axis(info["x"].to_numpy(dtype=float), a["x"], plain(x_title)),
                      yaxis=_axis(info["y"].to_numpy(dtype=float), a["y"], plain(y_title)),
                      hovermode="closest")
    return fig
