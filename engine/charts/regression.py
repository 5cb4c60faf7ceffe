"""Regression charts: predicted against actual, and residuals."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine.charts.frames import stack
from engine.charts.style import GUIDE_LINE, color, empty_figure, layout, plain, titled


def residuals_info(predictions: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Out-of-fold regression predictions: model, row, fold, actual, predicted, residual (actual - predicted)."""
    parts = []
    for label, frame in predictions.items():
        if frame is None or frame.empty:
            continue
        actual = frame["y_true"].to_numpy(dtype=float)
        predicted = frame["y_pred"].to_numpy(dtype=float)
        parts.append(pd.DataFrame({
            "model": label, "row": frame["row"].to_numpy(), "fold": frame["fold"].to_numpy(),
            "actual": actual, "predicted": predicted, "residual": actual - predicted,
        }))
    return stack(parts, ["model", "row", "fold", "actual", "predicted", "residual"])


def residuals_figure(info: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Predicted vs actual (with the identity line) and residual vs predicted (with zero)."""
    if info.empty:
        return empty_figure("no regression predictions", title=title)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=("Predicted vs actual", "Residual (actual − predicted) vs predicted"))
    for i, (model, g) in enumerate(info.groupby("model", sort=False)):
        model = plain(model)
        marker = {"color": color(i), "size": 6, "opacity": 0.55}
        fig.add_trace(go.Scatter(
            x=g["actual"], y=g["predicted"], mode="markers", name=model, legendgroup=model, marker=marker,
            hovertemplate="actual %{x:.3g}<br>predicted %{y:.3g}<extra>" + model + "</extra>"), row=1, col=1)
        fig.add_trace(go.Scatter(
            x=g["predicted"], y=g["residual"], mode="markers", name=model, legendgroup=model,
            showlegend=False, marker=marker,
            hovertemplate="predicted %{x:.3g}<br>residual %{y:.3g}<extra>" + model + "</extra>"), row=1, col=2)
    lo = float(min(info["actual"].min(), info["predicted"].min()))
    hi = float(max(info["actual"].max(), info["predicted"].max()))
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="perfect", showlegend=False,
                             line=GUIDE_LINE, hoverinfo="skip"),
                  row=1, col=1)
    fig.add_hline(y=0, line=GUIDE_LINE, row=1, col=2)
    fig.update_xaxes(title="actual", row=1, col=1)
    fig.update_yaxes(title="predicted", row=1, col=1)
    fig.update_xaxes(title="predicted", row=1, col=2)
    fig.update_yaxes(title="residual", row=1, col=2)
    fig.update_layout(**layout(margin={"t": 90}, legend={"y": 1.12}), title=titled(title), height=460)
    return fig


