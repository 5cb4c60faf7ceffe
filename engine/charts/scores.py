"""Per-fold scores and the metric-versus-latency trade-off."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from engine import metrics
from engine.charts.frames import stack
from engine.charts.style import (
    TITLE_ONLY_MARGIN,
    bounded_range,
    color,
    empty_figure,
    layout,
    log_axis,
    plain,
    titled,
)

TRADEOFF_COLUMNS = ["model", "metric", "mean", "std", "latency_p50_ms", "throughput_per_s", "size_bytes"]
FOLD_COLUMNS = ["model", "fold", "value", "mean", "std"]


def _label(metric: str) -> str:
    return metrics.get(metric).label if metric in metrics.BY_NAME else metric


def _bounded(metric: str) -> bool:
    return metrics.get(metric).bounded if metric in metrics.BY_NAME else False


def _better(metric: str) -> str:
    return metrics.get(metric).better_word if metric in metrics.BY_NAME else ""


# --------------------------------------------------------------- trade-off
def tradeoff_info(runs: pd.DataFrame, metric: str, *, labels: Sequence[str] | None = None) -> pd.DataFrame:
    """Each run's ``metric`` (mean, std over folds) against its speed.

    Columns: model, metric, mean, std, latency_p50_ms, throughput_per_s,
    size_bytes. Runs without the metric or without a latency measurement are
    left out.
    """
    if runs is None or runs.empty or f"{metric}_mean" not in runs.columns or "latency_p50_ms" not in runs.columns:
        return pd.DataFrame(columns=TRADEOFF_COLUMNS)

    def num(col: str) -> np.ndarray:
        if col not in runs.columns:
            return np.full(len(runs), np.nan)
        return pd.to_numeric(runs[col], errors="coerce").to_numpy(dtype=float)

    info = pd.DataFrame({
        "model": list(labels) if labels is not None else runs["model"].tolist(), "metric": metric,
        "mean": num(f"{metric}_mean"), "std": num(f"{metric}_std"), "latency_p50_ms": num("latency_p50_ms"),
        "throughput_per_s": num("throughput_per_s"), "size_bytes": num("size_bytes"),
    })
    return info.dropna(subset=["mean", "latency_p50_ms"]).reset_index(drop=True)


def tradeoff_figure(info: pd.DataFrame, *, metric: str | None = None, title: str | None = None) -> go.Figure:
    """Metric (mean ± std over folds) against p50 latency at batch size 1, log x; one trace per model."""
    metric = metric or (str(info["metric"].iloc[0]) if len(info) else "")
    label = _label(metric)
    if info.empty:
        return empty_figure(f"no runs with both {label} and a latency measurement", title=title)
    fig = go.Figure()
    for i, row in enumerate(info.itertuples()):
        std = 0.0 if np.isnan(row.std) else float(row.std)
        fig.add_trace(go.Scatter(
            x=[row.latency_p50_ms], y=[row.mean], mode="markers", name=plain(row.model), showlegend=True,
            marker={"color": color(i), "size": 13},
            error_y={"type": "data", "array": [std], "visible": True},
            hovertemplate=f"{plain(row.model)}<br>{label} %{{y:.4g}} ± {std:.2g}<br>p50 %{{x:.4g}} ms<extra></extra>",
        ))
    lo_y = float((info["mean"] - info["std"].fillna(0)).min())
    hi_y = float((info["mean"] + info["std"].fillna(0)).max())
    n = len(info)
    fig.update_layout(**layout(margin=TITLE_ONLY_MARGIN | {"b": 80 + 22 * n}, legend={"yanchor": "top", "y": -0.22}),
                      title=titled(title or f"{label} vs latency ({_better(metric)}; left is faster)"),
                      height=420 + 22 * n,
                      xaxis={"title": "p50 latency at batch size 1 (ms, log)",
                             **log_axis(float(info["latency_p50_ms"].min()), float(info["latency_p50_ms"].max()))},
                      yaxis={"title": label, "range": bounded_range(lo_y, hi_y, bounded=_bounded(metric))})
    return fig


# ------------------------------------------------------------ fold scores
def fold_metrics_info(folds: Mapping[str, pd.DataFrame], metric: str) -> pd.DataFrame:
    """Tidy per-fold scores of ``metric``: model, fold, value, mean, std."""
    parts = []
    for label, frame in folds.items():
        if frame is None or frame.empty or metric not in frame.columns:
            continue
        values = pd.to_numeric(frame[metric], errors="coerce")
        parts.append(pd.DataFrame({
            "model": label, "fold": frame["fold"].to_numpy(), "value": values.to_numpy(),
            "mean": values.mean(), "std": values.std(ddof=1) if len(values) > 1 else 0.0,
        }))
    return stack(parts, FOLD_COLUMNS)


def fold_metrics_figure(info: pd.DataFrame, *, metric: str, title: str | None = None) -> go.Figure:
    """Each fold's score as a point, with the mean ± std beside it; one legend entry per model."""
    label = _label(metric)
    if info.empty:
        return empty_figure(f"no fold scores for {label}", title=title)
    fig = go.Figure()
    models = list(dict.fromkeys(info["model"]))
    for i, model in enumerate(models):
        g = info[info["model"] == model]
        mean, std = float(g["mean"].iloc[0]), float(g["std"].iloc[0])
        spread = np.linspace(-0.08, 0.08, len(g)) if len(g) > 1 else np.zeros(1)
        name = plain(model)
        fig.add_trace(go.Scatter(
            x=i - 0.12 + spread, y=g["value"], mode="markers", name=name, legendgroup=name,
            marker={"color": color(i), "size": 9, "opacity": 0.75, "symbol": "circle-open", "line": {"width": 2}},
            customdata=g["fold"].to_numpy(),
            hovertemplate=f"{name}<br>fold %{{customdata}}: %{{y:.4g}}<extra></extra>",
        ))
        fig.add_trace(go.Scatter(
            x=[i + 0.12], y=[mean], mode="markers", name=f"{name} mean", legendgroup=name,
            showlegend=False, marker={"color": color(i), "size": 13, "symbol": "diamond"},
            error_y={"type": "data", "array": [std], "visible": True, "thickness": 2, "width": 8},
            hovertemplate=f"{name}<br>mean %{{y:.4g}} ± {std:.2g}<extra></extra>",
        ))
    values = info["value"].to_numpy(dtype=float)
    lo = float(np.nanmin(np.concatenate([values, info["mean"] - info["std"].fillna(0)])))
    hi = float(np.nanmax(np.concatenate([values, info["mean"] + info["std"].fillna(0)])))
    fig.update_layout(**layout(margin=TITLE_ONLY_MARGIN),
                      title=titled(title or f"{label} per fold: folds (o), mean ± std (◆); {_better(metric)}"),
                      yaxis={"title": label, "range": bounded_range(lo, hi, bounded=_bounded(metric))},
                      showlegend=False, height=420,
                      xaxis={"tickvals": list(range(len(models))), "tickangle": 0,
                             "ticktext": ["<br>".join(textwrap.wrap(plain(m), 14)) for m in models],
                             "range": [-0.6, len(models) - 0.4], "showgrid": False})
    return fig
