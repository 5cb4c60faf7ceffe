"""Latency charts: per-call distributions at one batch size, and the batch-size sweep."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine.charts.frames import stack
from engine.charts.style import color, empty_figure, layout, log_axis, plain, titled


def latency_distribution_info(samples: Mapping[str, pd.DataFrame], *, batch_size: int = 1) -> pd.DataFrame:
    """Every timed call at ``batch_size``: model, batch_size, call, ms.

    A model timed without that batch size contributes no rows.
    """
    parts = []
    for label, frame in samples.items():
        if frame is None or frame.empty:
            continue
        sel = frame[frame["batch_size"] == batch_size]
        if sel.empty:
            continue
        parts.append(pd.DataFrame({"model": label, "batch_size": int(batch_size),
                                   "call": sel["call"].to_numpy(), "ms": sel["seconds"].to_numpy() * 1e3}))
    return stack(parts, ["model", "batch_size", "call", "ms"])


def latency_distribution_figure(info: pd.DataFrame, *, kind: str = "box", log_y: bool | None = None,
                                title: str | None = None) -> go.Figure:
    """Per-call latency in ms as a box (or ``kind="violin"``) per model."""
    if info.empty:
        return empty_figure("no latency samples at this batch size", title=title)
    batch = int(info["batch_size"].iloc[0])
    fig = go.Figure()
    for i, (model, g) in enumerate(info.groupby("model", sort=False)):
        model = plain(model)
        common = {"y": g["ms"], "name": model, "marker": {"color": color(i)}, "line": {"color": color(i)},
                  "hovertemplate": "%{y:.4f} ms<extra>" + model + "</extra>"}
        if kind == "violin":
            fig.add_trace(go.Violin(**common, box={"visible": True}, meanline={"visible": True},
                                    points=False, spanmode="hard"))
        else:
            fig.add_trace(go.Box(**common, boxpoints="outliers", boxmean=True))
    if log_y is None:
        medians = info.groupby("model")["ms"].median()
        log_y = bool(medians.min() > 0 and medians.max() / medians.min() > 20)
    if log_y:
        yaxis = {"title": "ms per call (log)", **log_axis(float(info["ms"].min()), float(info["ms"].max()))}
    else:
        top, above = _whisker_top(info)
        yaxis = {"title": "ms per call", "range": [0, top]}
        if above:
            fig.add_annotation(text=f"{above} slow call(s) above the axis, up to {info['ms'].max():.4g} ms "
                                    "(hover the box for outliers)", showarrow=False, xref="paper", yref="paper",
                               x=1, y=1.02, xanchor="right", yanchor="bottom", font={"size": 11, "color": "#64748b"})
    fig.update_layout(**layout(), title=titled(title or f"Latency per call at batch size {batch}"), height=420,
                      showlegend=False, yaxis=yaxis)
    return fig


def _whisker_top(info: pd.DataFrame) -> tuple[float, int]:
    """A linear axis top that shows every box and whisker (Tukey: Q3 + 1.5 IQR, per model), so
    one 100 ms outlier does not flatten the boxes; and how many calls lie above it."""
    top = 0.0
    for _, g in info.groupby("model", sort=False):
        q1, q3 = np.percentile(g["ms"], [25, 75])
        top = max(top, float(min(g["ms"].max(), q3 + 1.5 * (q3 - q1))))
    top = top * 1.1 if top > 0 else float(info["ms"].max()) * 1.1 or 1.0
    return top, int((info["ms"] > top).sum())


def batch_sweep_info(latency: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Latency statistics by batch size: model, batch_size, p50_ms, p95_ms, p99_ms, ms_per_row, throughput_per_s,
    skewed (measured on a busy machine, by its own evidence) and skew_reason."""
    parts = []
    for label, frame in latency.items():
        if frame is None or frame.empty:
            continue
        f = frame.sort_values("batch_size")
        parts.append(pd.DataFrame({
            "model": label, "batch_size": f["batch_size"].astype(int).to_numpy(),
            "p50_ms": f["p50_ms"].to_numpy(dtype=float), "p95_ms": f["p95_ms"].to_numpy(dtype=float),
            "p99_ms": f["p99_ms"].to_numpy(dtype=float),
            "ms_per_row": f["p50_ms"].to_numpy(dtype=float) / f["batch_size"].to_numpy(dtype=float),
            "throughput_per_s": f["throughput_per_s"].to_numpy(dtype=float),
            "skewed": _flags(f), "skew_reason": f["skew_reason"].fillna("").astype(str).to_numpy()
            if "skew_reason" in f else "",
        }))
    return stack(parts, ["model", "batch_size", "p50_ms", "p95_ms", "p99_ms", "ms_per_row", "throughput_per_s",
                         "skewed", "skew_reason"])


def _flags(f: pd.DataFrame) -> np.ndarray:
    """The skew flag per batch size (older runs stored it as ``noisy``)."""
    column = "skewed" if "skewed" in f else "noisy" if "noisy" in f else None
    return f[column].fillna(False).to_numpy(dtype=bool) if column else np.zeros(len(f), dtype=bool)


def batch_sweep_figure(info: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Throughput (rows/s) and p50 latency (ms) against batch size, log axes; one colour per model."""
    if info.empty:
        return empty_figure("no latency measurements", title=title)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=("Throughput (rows/s, higher is better)",
                                        "p50 latency per call (ms, lower is better)"))
    for i, (model, g) in enumerate(info.groupby("model", sort=False)):
        model = plain(model)
        style = {"color": color(i), "width": 2}
        fig.add_trace(go.Scatter(
            x=g["batch_size"], y=g["throughput_per_s"], mode="lines+markers", name=model,
            legendgroup=model, line=style,
            hovertemplate="batch %{x}<br>%{y:,.0f} rows/s<extra>" + model + "</extra>"), row=1, col=1)
        fig.add_trace(go.Scatter(
            x=g["batch_size"], y=g["p50_ms"], mode="lines+markers", name=model, legendgroup=model,
            showlegend=False, line=style,
            marker={"symbol": np.where(g["skewed"].to_numpy(dtype=bool), "x", "circle"), "size": 9},
            error_y={"type": "data", "symmetric": False, "array": (g["p95_ms"] - g["p50_ms"]).clip(lower=0),
                     "arrayminus": np.zeros(len(g)), "visible": True, "thickness": 1},
            customdata=np.where(g["skewed"].to_numpy(dtype=bool), "<br>skewed: measured on a busy machine", ""),
            hovertemplate="batch %{x}<br>p50 %{y:.4f} ms%{customdata}<extra>" + model + "</extra>"), row=1, col=2)
    sizes = sorted(set(info["batch_size"].astype(int)))
    fig.update_xaxes(type="log", title="batch size", tickvals=sizes, ticktext=[str(s) for s in sizes])
    fig.update_yaxes(title="rows per second", row=1, col=1,
                     **log_axis(float(info["throughput_per_s"].min()), float(info["throughput_per_s"].max())))
    fig.update_yaxes(title="ms per call (bar: p95; x: skewed)", row=1, col=2,
                     **log_axis(float(info["p50_ms"].min()), float(info["p95_ms"].max())))
    fig.update_layout(**layout(margin={"t": 90}, legend={"y": 1.12}), title=titled(title), height=440)
    return fig


