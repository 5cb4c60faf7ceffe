"""ROC, precision-recall and calibration curves on pooled out-of-fold predictions.

Curves are computed on each run's pooled out-of-fold predictions (each row
scored once, by the fold that held it out); all metric math is scikit-learn's.
Functions take a mapping ``{label: predictions}``; the label is what the
legend shows, so make it unique per run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.preprocessing import label_binarize

from engine.charts.frames import stack
from engine.charts.predictions import class_names, probabilities
from engine.charts.style import (
    GUIDE_LINE,
    LEGEND_ABOVE_MARGIN,
    LEGEND_INSIDE,
    color,
    empty_figure,
    layout,
    plain,
    titled,
)


def _curve_setup(predictions: pd.DataFrame, classes: Sequence[Any] | None):
    proba = probabilities(predictions)
    if proba is None:
        return None
    n = proba.shape[1]
    names = class_names(classes, n)
    y = predictions["y_true"].to_numpy().astype(int)
    Y = label_binarize(y, classes=np.arange(n))
    if n == 2:
        Y = np.column_stack([1 - Y[:, 0], Y[:, 0]])
    return proba, names, y, Y


def _usable(Y: np.ndarray) -> list[int]:
    """Classes with both positive and negative rows (curves are undefined otherwise)."""
    pos = Y.sum(axis=0)
    return [k for k in range(Y.shape[1]) if 0 < pos[k] < len(Y)]


def _one_vs_rest_curves(predictions: Mapping[str, pd.DataFrame], classes: Sequence[Any] | None, *,
                        columns: list[str], per_class, micro, macro) -> pd.DataFrame:
    """The skeleton ROC and PR records share: per model, one curve per usable class (the
    positive class only when binary), then ``micro`` and ``macro`` for multiclass.

    ``per_class(y, p)`` and ``micro(Y, P)`` return the record's value columns for one
    curve; ``macro(curves, Y, P)`` builds the macro curve from the per-class ones.
    """
    parts = []
    for label, frame in predictions.items():
        setup = _curve_setup(frame, classes)
        if setup is None:
            continue
        proba, names, _y, Y = setup
        usable = _usable(Y)
        ks = [k for k in ([1] if proba.shape[1] == 2 else usable) if k in usable]
        curves = {names[k]: per_class(Y[:, k], proba[:, k]) for k in ks}
        if proba.shape[1] > 2 and usable:
            per = [curves[names[k]] for k in usable]
            curves["micro"] = micro(Y[:, usable], proba[:, usable])
            curves["macro"] = macro(per, Y[:, usable], proba[:, usable])
        for curve, values in curves.items():
            parts.append(pd.DataFrame({"model": label, "curve": curve, **dict(zip(columns, values, strict=True))}))
    return stack(parts, ["model", "curve", *columns])


def roc_curve_info(predictions: Mapping[str, pd.DataFrame], classes: Sequence[Any] | None) -> pd.DataFrame:
    """Tidy ROC curves: model, curve, fpr, tpr, auc.

    Binary: one curve, named after the positive class (the second). Multiclass:
    one-vs-rest per class, ``micro`` (all class decisions pooled) and ``macro``
    (per-class TPR averaged on the union of FPR points; its ``auc`` is
    scikit-learn's macro one-vs-rest ROC-AUC). Models without probabilities are
    left out.
    """
    def per_class(y, p):  # roc_auc_score would sort the rows again for the same trapezoids
        fpr, tpr, _ = skm.roc_curve(y, p)
        return fpr, tpr, float(skm.auc(fpr, tpr))

    def micro(Y, P):  # roc_auc_score(average="micro") is the area under this pooled curve
        fpr, tpr, _ = skm.roc_curve(Y.ravel(), P.ravel())
        return fpr, tpr, float(skm.auc(fpr, tpr))

    def macro(per, Y, P):  # roc_auc_score(average="macro") is the mean of the per-class areas
        grid = np.unique(np.concatenate([fpr for fpr, _, _ in per]))
        mean_tpr = np.mean([np.interp(grid, fpr, tpr) for fpr, tpr, _ in per], axis=0)
        return grid, mean_tpr, float(np.mean([area for _, _, area in per]))

    return _one_vs_rest_curves(predictions, classes, columns=["fpr", "tpr", "auc"],
                               per_class=per_class, micro=micro, macro=macro)


def _ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """Average precision from ``precision_recall_curve``'s output: the sum ``average_precision_score`` takes."""
    return float(-np.sum(np.diff(recall) * precision[:-1]))


def pr_curve_info(predictions: Mapping[str, pd.DataFrame], classes: Sequence[Any] | None) -> pd.DataFrame:
    """Tidy precision-recall curves: model, curve, recall, precision, average_precision, prevalence.

    Same curves as :func:`roc_curve_info`: the positive class for binary;
    per class, ``micro`` and ``macro`` (precision averaged over classes on a
    common recall grid; its ``average_precision`` is scikit-learn's macro AP).
    ``prevalence`` is the share of positive rows, the no-skill baseline.
    """
    def per_class(y, p):  # AP from the curve: average_precision_score's own sum, without sorting again
        precision, recall, _ = skm.precision_recall_curve(y, p, drop_intermediate=True)
        return recall, precision, _ap(recall, precision), float(y.mean())

    def micro(Y, P):  # average_precision_score(average="micro") is this pooled curve's AP
        precision, recall, _ = skm.precision_recall_curve(Y.ravel(), P.ravel(), drop_intermediate=True)
        return recall, precision, _ap(recall, precision), float(Y.mean())

    def macro(per, Y, P):  # average_precision_score(average="macro") is the mean of the per-class APs
        grid = np.linspace(0.0, 1.0, 201)
        # precision_recall_curve returns recall decreasing; np.interp needs it increasing
        mean_p = np.mean([np.interp(grid, r[::-1], p[::-1]) for r, p, _, _ in per], axis=0)
        return (grid[::-1], mean_p[::-1], float(np.mean([ap for _, _, ap, _ in per])),
                float(np.mean(Y.mean(axis=0))))

    return _one_vs_rest_curves(predictions, classes, columns=["recall", "precision", "average_precision",
                                                              "prevalence"],
                               per_class=per_class, micro=micro, macro=macro)


def available_curves(info: pd.DataFrame) -> list[str]:
    """Curve names in an ROC/PR record, averages first: what a curve picker offers."""
    if info.empty:
        return []
    names = list(dict.fromkeys(info["curve"]))
    return [c for c in ("macro", "micro") if c in names] + [c for c in names if c not in ("macro", "micro")]


def _pick_curve(g: pd.DataFrame, curve: str) -> pd.DataFrame:
    """The requested curve of one model; a binary model's single curve stands in for averages."""
    sel = g[g["curve"] == curve]
    if sel.empty and g["curve"].nunique() == 1 and curve in ("macro", "micro"):
        sel = g
    return sel


def _with_diagonal(name: str) -> go.Figure:
    """A figure holding the dashed y = x reference line (chance, perfect calibration)."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name=name, line=GUIDE_LINE, hoverinfo="skip"))
    return fig


def _add_curves(fig: go.Figure, info: pd.DataFrame, curve: str, *, x: str, y: str, score: str,
                score_label: str, x_label: str, y_label: str) -> pd.DataFrame | None:
    """One line per model for ``curve``, its score in the legend; the last model's rows (or None)."""
    last = None
    for i, (model, g) in enumerate(info.groupby("model", sort=False)):
        name = plain(model)
        sel = _pick_curve(g, curve)
        if sel.empty:
            continue
        fig.add_trace(go.Scatter(
            x=sel[x], y=sel[y], mode="lines", name=f"{name} ({score_label} {float(sel[score].iloc[0]):.3f})",
            line={"color": color(i), "width": 2, "shape": "hv" if len(sel) < 400 else "linear"},
            hovertemplate=f"{x_label} %{{x:.3f}}<br>{y_label} %{{y:.3f}}<extra>{name}</extra>",
        ))
        last = sel
    return last


def roc_curve_figure(info: pd.DataFrame, *, curve: str = "macro", title: str | None = None) -> go.Figure:
    """ROC curves of one kind (``macro``, ``micro`` or a class), one trace per model, with the chance line."""
    if info.empty:
        return empty_figure("no model has class probabilities, so there is no ROC curve", title=title)
    fig = _with_diagonal("chance")
    _add_curves(fig, info, curve, x="fpr", y="tpr", score="auc", score_label="AUC", x_label="FPR", y_label="TPR")
    which = _curve_title(info, curve)
    fig.update_layout(**layout(legend=LEGEND_INSIDE | {"xanchor": "right", "x": 0.98}),
                      title=titled(title or f"ROC — {which}"), height=480,
                      xaxis={"title": "false positive rate", "range": [-0.01, 1.01], "constrain": "domain"},
                      yaxis={"title": "true positive rate", "range": [-0.01, 1.03], "scaleanchor": "x",
                             "constrain": "domain"})
    return fig


def pr_curve_figure(info: pd.DataFrame, *, curve: str = "macro", title: str | None = None) -> go.Figure:
    """Precision-recall curves of one kind, one trace per model, with the no-skill prevalence line."""
    if info.empty:
        return empty_figure("no model has class probabilities, so there is no PR curve", title=title)
    fig = go.Figure()
    last = _add_curves(fig, info, curve, x="recall", y="precision", score="average_precision", score_label="AP",
                       x_label="recall", y_label="precision")
    if last is not None:
        fig.add_hline(y=float(last["prevalence"].iloc[0]), line=GUIDE_LINE,
                      annotation_text="no skill", annotation_position="bottom right")
    fig.update_layout(**layout(legend=LEGEND_INSIDE | {"xanchor": "left", "x": 0.02}),
                      title=titled(title or f"Precision-recall — {_curve_title(info, curve)}"), height=480,
                      xaxis={"title": "recall", "range": [-0.01, 1.01]},
                      yaxis={"title": "precision", "range": [-0.01, 1.04]})
    return fig


def _curve_title(info: pd.DataFrame, curve: str) -> str:
    names = set(info["curve"])
    if curve in ("macro", "micro") and curve not in names:
        single = sorted(names)
        return f"class {plain(single[0])} (positive)" if len(single) == 1 else "positive class"
    if curve == "macro":
        return "macro average (one-vs-rest)"
    if curve == "micro":
        return "micro average"
    return f"class {plain(curve)} vs rest"


# ------------------------------------------------------------- calibration
def calibration_info(predictions: Mapping[str, pd.DataFrame], *, n_bins: int = 10,
                     classes: Sequence[Any] | None = None) -> pd.DataFrame:
    """Reliability curves: model, kind, mean_predicted, fraction_positive, count, brier.

    Binary: the positive class's probability against how often it is the
    truth. Multiclass: top-label confidence (the highest probability) against
    how often that top label is right. Uniform bins on [0, 1]; empty bins are
    left out. ``brier`` is scikit-learn's Brier score of the same pairs.
    """
    parts = []
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    for label, frame in predictions.items():
        proba = probabilities(frame)
        if proba is None:
            continue
        y = frame["y_true"].to_numpy().astype(int)
        if proba.shape[1] == 2:
            names = class_names(classes, 2)
            outcome, score = (y == 1).astype(int), proba[:, 1]
            kind = f"P(class {plain(names[1])})"
        else:
            top = proba.argmax(axis=1)
            outcome, score = (top == y).astype(int), proba.max(axis=1)
            kind = "top-label confidence"
        score = np.clip(score, 0.0, 1.0)
        if len(np.unique(outcome)) < 2:
            frac, mean_pred = (np.array([float(outcome.mean())]), np.array([float(score.mean())]))
            counts = np.array([len(score)])
        else:
            frac, mean_pred = calibration_curve(outcome, score, n_bins=n_bins, strategy="uniform")
            # the same uniform bins calibration_curve uses, to report how many rows each holds
            ids = np.searchsorted(edges[1:-1], score)
            counts = np.bincount(ids, minlength=n_bins)
            counts = counts[counts > 0]
        parts.append(pd.DataFrame({
            "model": label, "kind": kind, "mean_predicted": mean_pred, "fraction_positive": frac,
            "count": counts.astype(int), "brier": float(skm.brier_score_loss(outcome, score)),
        }))
    return stack(parts, ["model", "kind", "mean_predicted", "fraction_positive", "count", "brier"])


def calibration_figure(info: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Reliability diagram, one trace per model, with the perfectly calibrated diagonal."""
    if info.empty:
        return empty_figure("no model has class probabilities, so calibration cannot be shown", title=title)
    fig = _with_diagonal("perfectly calibrated")
    for i, (model, g) in enumerate(info.groupby("model", sort=False)):
        model = plain(model)
        brier = float(g["brier"].iloc[0])
        fig.add_trace(go.Scatter(
            x=g["mean_predicted"], y=g["fraction_positive"], mode="lines+markers",
            name=f"{model} (Brier {brier:.3f})", line={"color": color(i), "width": 2},
            customdata=g["count"], marker={"size": 8},
            hovertemplate="predicted %{x:.3f}<br>observed %{y:.3f}<br>%{customdata} rows<extra>" + model + "</extra>",
        ))
    kinds = list(dict.fromkeys(info["kind"]))
    xlabel = kinds[0] if len(kinds) == 1 else "predicted probability"
    ylabel = "fraction correct" if kinds == ["top-label confidence"] else "observed frequency"
    fig.update_layout(**layout(margin=LEGEND_ABOVE_MARGIN, legend={"y": 1.04}),
                      title=titled(title or "Calibration (reliability diagram)"), height=480,
                      xaxis={"title": f"mean {xlabel}", "range": [-0.01, 1.01]},
                      yaxis={"title": ylabel, "range": [-0.01, 1.04]})
    return fig


