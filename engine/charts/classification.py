"""Confusion matrices and the per-class report of classifiers' out-of-fold predictions."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sklearn import metrics as skm

from engine.charts.predictions import class_names, n_classes
from engine.charts.style import empty_figure, layout, plain, titled

CONFUSION_COLUMNS = ["true", "predicted", "count", "fraction"]


def confusion_matrix_info(predictions: pd.DataFrame, classes: Sequence[Any] | None) -> pd.DataFrame:
    """Tidy confusion matrix: true, predicted, count, fraction (of the true class's rows).

    Rows are in class order (true-major); the figure colours by count or fraction.
    """
    n = n_classes(predictions, classes)
    names = class_names(classes, n)
    cm = skm.confusion_matrix(predictions["y_true"], predictions["y_pred"], labels=np.arange(n))
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = skm.confusion_matrix(predictions["y_true"], predictions["y_pred"],
                                    labels=np.arange(n), normalize="true")
    frac = np.nan_to_num(frac)
    t, p = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    info = pd.DataFrame({
        "true": [names[i] for i in t.ravel()], "predicted": [names[j] for j in p.ravel()],
        "count": cm.ravel().astype(int), "fraction": frac.ravel(),
    })
    return info


def confusion_matrix_figure(info: pd.DataFrame, *, title: str | None = None,
                            normalize: bool = False) -> go.Figure:
    """Heatmap with true classes down and predicted across, each cell labelled.

    ``title`` is shown as plain text (it is usually a model name)."""
    if info.empty:
        return empty_figure("no predictions", title=plain(title or ""))
    names = [plain(n) for n in dict.fromkeys(info["true"])]
    n = len(names)
    counts = info["count"].to_numpy().reshape(n, n)
    frac = info["fraction"].to_numpy().reshape(n, n)
    z = frac if normalize else counts
    text = [["" if counts[i, j] == 0 else f"{frac[i, j]:.2f}" if normalize else f"{counts[i, j]}"
             for j in range(n)] for i in range(n)]
    fig = go.Figure(go.Heatmap(
        z=z, x=names, y=names, text=text, texttemplate="%{text}" if n <= 20 else None,
        colorscale="Blues", zmin=0, zmax=1 if normalize else None,
        customdata=np.dstack([counts, frac]),
        hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata[0]} rows (%{customdata[1]:.1%} of true)<extra></extra>",
        colorbar={"title": "fraction" if normalize else "rows", "thickness": 12},
    ))
    fig.update_layout(**layout(), title=titled(plain(title or "")), height=max(360, min(700, 40 * n + 160)))
    fig.update_xaxes(title="predicted", type="category", side="bottom", constrain="domain")
    fig.update_yaxes(title="true", type="category", autorange="reversed", scaleanchor="x", constrain="domain")
    return fig


def per_class_report_info(predictions: pd.DataFrame, classes: Sequence[Any] | None) -> pd.DataFrame:
    """scikit-learn's classification report as rows: label, kind (class/average), precision, recall, f1, support."""
    n = n_classes(predictions, classes)
    names = class_names(classes, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = skm.classification_report(predictions["y_true"], predictions["y_pred"],
                                           labels=np.arange(n), target_names=names,
                                           output_dict=True, zero_division=0)
    rows = []
    for key, value in report.items():
        if not isinstance(value, dict):  # "accuracy" is a bare float
            continue
        rows.append({"label": key, "kind": "class" if key in names else "average",
                     "precision": float(value["precision"]), "recall": float(value["recall"]),
                     "f1": float(value["f1-score"]), "support": int(value["support"])})
    return pd.DataFrame(rows, columns=["label", "kind", "precision", "recall", "f1", "support"])


