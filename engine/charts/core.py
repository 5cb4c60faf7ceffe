"""Charts: compute a tidy record from stored results, then draw it with Plotly.

Every chart comes as a pair: ``<chart>_info(...)`` turns result-store tables
into a tidy :class:`pandas.DataFrame` (all the numbers, no drawing), and
``<chart>_figure(info, ...)`` turns that record into a ``plotly`` figure. The
dashboard pages and the HTML report call the same pairs with the same
parameters; tests assert on the records, not on pixels.

Inputs are the store's tables (see :mod:`engine.results`): ``predictions`` has
``row, fold, y_true, y_pred`` (class indices into the run's sorted classes)
and ``proba_0 .. proba_{K-1}`` for classifiers that give probabilities;
``latency`` has one row per batch size; ``latency_samples`` has
``batch_size, call, seconds``. Curves are computed on the pooled out-of-fold
predictions (each row scored once, by the fold that held it out). All metric
math is scikit-learn's.

Functions that compare models take a mapping ``{label: table}``; the label is
what the legend shows, so make it unique per run.
"""

from __future__ import annotations

import re
import textwrap
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.preprocessing import label_binarize

__all__ = [
    "METRIC_LABELS",
    "available_curves",
    "batch_sweep_figure",
    "batch_sweep_info",
    "calibration_figure",
    "calibration_info",
    "confusion_matrix_figure",
    "confusion_matrix_info",
    "fold_metrics_figure",
    "fold_metrics_info",
    "has_probabilities",
    "latency_distribution_figure",
    "latency_distribution_info",
    "per_class_report_info",
    "pr_curve_figure",
    "pr_curve_info",
    "residuals_figure",
    "residuals_info",
    "results_table",
    "roc_curve_figure",
    "roc_curve_info",
    "tradeoff_figure",
    "tradeoff_info",
    "unique_labels",
]

CLASSIFICATION_METRICS = (
    "accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "precision_macro",
    "recall_macro", "roc_auc", "log_loss",
)
REGRESSION_METRICS = ("rmse", "mae", "r2")
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})
METRIC_LABELS = {
    "accuracy": "Accuracy", "balanced_accuracy": "Balanced accuracy", "f1_macro": "F1 (macro)",
    "f1_weighted": "F1 (weighted)", "precision_macro": "Precision (macro)",
    "recall_macro": "Recall (macro)", "roc_auc": "ROC-AUC (ovr)", "log_loss": "Log loss",
    "rmse": "RMSE", "mae": "MAE", "r2": "R²",
}
RESULT_INFO_COLUMNS = ("model", "dataset", "mode", "format")
PRIMARY_METRICS = ("accuracy", "f1_macro", "roc_auc", "rmse", "mae", "r2")
RESULT_SPEED_COLUMNS = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "throughput_per_s", "size_bytes",
                        "n_parameters")
RESULT_TAIL_COLUMNS = ("task", "backend", "provider", "threads", "n_folds", "created_at", "run_id")
PALETTE = (
    "#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d",
    "#475569", "#ea580c",
)
LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
    "font": {"size": 13},
}
LEGEND_INSIDE = {"bgcolor": "rgba(255,255,255,0.85)", "bordercolor": "#e2e8f0", "borderwidth": 1,
                 "orientation": "v", "yanchor": "bottom", "y": 0.03}
LEGEND_ABOVE_MARGIN = {"l": 60, "r": 20, "t": 90, "b": 50}
_PROBA_RE = re.compile(r"proba_(\d+)")


# ------------------------------------------------------------------ helpers
def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _proba(predictions: pd.DataFrame) -> np.ndarray | None:
    """The ``proba_k`` columns as an (N, K) array in class order, or None."""
    cols = sorted((c for c in predictions.columns if _PROBA_RE.fullmatch(str(c))),
                  key=lambda c: int(_PROBA_RE.fullmatch(str(c)).group(1)))  # type: ignore[union-attr]
    if not cols:
        return None
    return predictions[cols].to_numpy(dtype=float)


def has_probabilities(predictions: pd.DataFrame) -> bool:
    """Whether a predictions table carries class probabilities."""
    return _proba(predictions) is not None


def _class_names(classes: Sequence[Any] | None, n: int) -> list[str]:
    if classes is None or len(classes) != n:
        return [str(k) for k in range(n)]
    return [str(c) for c in classes]


def _n_classes(predictions: pd.DataFrame, classes: Sequence[Any] | None) -> int:
    if classes is not None:
        return len(classes)
    proba = _proba(predictions)
    if proba is not None:
        return proba.shape[1]
    return int(max(predictions["y_true"].max(), predictions["y_pred"].max())) + 1


def _empty_figure(message: str, *, title: str | None = None) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                       font={"size": 14, "color": "#64748b"})
    fig.update_layout(**LAYOUT, title=title, xaxis={"visible": False}, yaxis={"visible": False},
                      height=300)
    return fig


# ------------------------------------------------------------ results table
def results_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One display row per run: identity, metric means and stds, latency, size, run id.

    Metric means and standard deviations stay separate numeric columns
    (``accuracy_mean``, ``accuracy_std`` ...) so the table sorts correctly.
    The headline metrics come first, then speed and size, then the other
    metrics; metrics no run has are left out.
    """
    if runs is None or runs.empty:
        return pd.DataFrame(columns=[*RESULT_INFO_COLUMNS, "run_id"])

    def metric_columns(names: Iterable[str]) -> list[str]:
        cols: list[str] = []
        for m in names:
            mean, std = f"{m}_mean", f"{m}_std"
            if mean in runs.columns and runs[mean].notna().any():
                cols += [mean, std] if std in runs.columns else [mean]
        return cols

    primary = metric_columns(PRIMARY_METRICS)
    secondary = metric_columns(m for m in (*CLASSIFICATION_METRICS, *REGRESSION_METRICS) if m not in PRIMARY_METRICS)
    speed = [c for c in RESULT_SPEED_COLUMNS if c in runs.columns]
    cols = [c for c in RESULT_INFO_COLUMNS if c in runs.columns] + primary + speed + secondary
    cols += [c for c in RESULT_TAIL_COLUMNS if c in runs.columns]
    table = runs[cols].copy()
    for c in primary + speed + secondary:
        table[c] = pd.to_numeric(table[c], errors="coerce")
    return table.reset_index(drop=True)


def tradeoff_info(runs: pd.DataFrame, metric: str, *, labels: Sequence[str] | None = None) -> pd.DataFrame:
    """Each run's ``metric`` (mean, std) against its speed: model, mean, std, latency_p50_ms, throughput_per_s, size_bytes.

    Runs without the metric or without a latency measurement are left out.
    """
    cols = ["model", "mean", "std", "latency_p50_ms", "throughput_per_s", "size_bytes"]
    if runs is None or runs.empty or f"{metric}_mean" not in runs.columns or "latency_p50_ms" not in runs.columns:
        return pd.DataFrame(columns=cols)
    def num(col: str) -> np.ndarray:
        if col not in runs.columns:
            return np.full(len(runs), np.nan)
        return pd.to_numeric(runs[col], errors="coerce").to_numpy(dtype=float)

    info = pd.DataFrame({
        "model": list(labels) if labels is not None else runs["model"].tolist(),
        "mean": num(f"{metric}_mean"), "std": num(f"{metric}_std"), "latency_p50_ms": num("latency_p50_ms"),
        "throughput_per_s": num("throughput_per_s"), "size_bytes": num("size_bytes"),
    })
    info = info.dropna(subset=["mean", "latency_p50_ms"]).reset_index(drop=True)
    info.attrs["metric"] = metric
    return info


def tradeoff_figure(info: pd.DataFrame, *, metric: str | None = None, title: str | None = None) -> go.Figure:
    """Metric (mean ± std over folds) against p50 latency at batch size 1, log x; one trace per model."""
    metric = metric or info.attrs.get("metric", "")
    label = METRIC_LABELS.get(metric, metric)
    if info.empty:
        return _empty_figure(f"no runs with both {label} and a latency measurement", title=title)
    fig = go.Figure()
    for i, row in enumerate(info.itertuples()):
        fig.add_trace(go.Scatter(
            x=[row.latency_p50_ms], y=[row.mean], mode="markers", name=row.model, showlegend=True,
            marker={"color": _color(i), "size": 13},
            error_y={"type": "data", "array": [0 if np.isnan(row.std) else row.std], "visible": True},
            hovertemplate=(f"{row.model}<br>{label} %{{y:.4f}} ± {row.std:.4f}<br>p50 %{{x:.4f}} ms"
                           "<extra></extra>"),
        ))
    better = "lower is better" if metric in LOWER_IS_BETTER else "higher is better"
    logs = np.log10(info["latency_p50_ms"].clip(lower=1e-9).to_numpy())
    pad = max(0.25, 0.1 * float(logs.max() - logs.min()))
    lo_y = float((info["mean"] - info["std"].fillna(0)).min())
    hi_y = float((info["mean"] + info["std"].fillna(0)).max())
    pad_y = max(hi_y - lo_y, abs(hi_y) * 0.01, 1e-6) * 0.15
    legend_below = LAYOUT["legend"] | {"yanchor": "top", "y": -0.22}
    fig.update_layout(**(LAYOUT | {"margin": {"l": 60, "r": 20, "t": 50, "b": 80 + 22 * len(info)},
                                   "legend": legend_below}),
                      title=title or f"{label} vs latency ({better}; left is faster)", height=420 + 22 * len(info),
                      xaxis={"title": "p50 latency at batch size 1 (ms, log)", "type": "log",
                             "range": [float(logs.min()) - pad, float(logs.max()) + pad]},
                      yaxis={"title": label, "range": [lo_y - pad_y, hi_y + pad_y]})
    return fig


# ----------------------------------------------------------- fold metrics
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
    if not parts:
        return pd.DataFrame(columns=["model", "fold", "value", "mean", "std"])
    return pd.concat(parts, ignore_index=True)


def fold_metrics_figure(info: pd.DataFrame, *, metric: str, title: str | None = None) -> go.Figure:
    """Each fold's score as a point, with the mean ± std beside it; one legend entry per model."""
    label = METRIC_LABELS.get(metric, metric)
    if info.empty:
        return _empty_figure(f"no fold scores for {label}", title=title)
    fig = go.Figure()
    models = list(dict.fromkeys(info["model"]))
    for i, model in enumerate(models):
        g = info[info["model"] == model]
        mean, std = float(g["mean"].iloc[0]), float(g["std"].iloc[0])
        spread = np.linspace(-0.08, 0.08, len(g)) if len(g) > 1 else np.zeros(1)
        fig.add_trace(go.Scatter(
            x=i - 0.12 + spread, y=g["value"], mode="markers", name=model, legendgroup=model,
            marker={"color": _color(i), "size": 9, "opacity": 0.75, "symbol": "circle-open", "line": {"width": 2}},
            customdata=g["fold"].to_numpy(),
            hovertemplate=f"{model}<br>fold %{{customdata}}: %{{y:.4f}}<extra></extra>",
        ))
        fig.add_trace(go.Scatter(
            x=[i + 0.12], y=[mean], mode="markers", name=f"{model} mean", legendgroup=model,
            showlegend=False, marker={"color": _color(i), "size": 13, "symbol": "diamond"},
            error_y={"type": "data", "array": [std], "visible": True, "thickness": 2, "width": 8},
            hovertemplate=f"{model}<br>mean %{{y:.4f}} ± {std:.4f}<extra></extra>",
        ))
    better = "lower is better" if metric in LOWER_IS_BETTER else "higher is better"
    fig.update_layout(**(LAYOUT | {"margin": LEGEND_ABOVE_MARGIN}),
                      title=title or f"{label} per fold: folds (o) and mean ± std (◆); {better}",
                      yaxis_title=label, showlegend=False, height=420,
                      xaxis={"tickvals": list(range(len(models))), "tickangle": 0,
                             "ticktext": ["<br>".join(textwrap.wrap(m, 14)) for m in models],
                             "range": [-0.6, len(models) - 0.4], "showgrid": False})
    return fig


# -------------------------------------------------------- confusion matrix
def confusion_matrix_info(predictions: pd.DataFrame, classes: Sequence[Any] | None, *,
                          normalize: bool = False) -> pd.DataFrame:
    """Tidy confusion matrix: true, predicted, count, fraction (of the true class's rows).

    ``normalize`` only decides which column the figure colours by; both are
    always present. Rows are in class order (true-major).
    """
    n = _n_classes(predictions, classes)
    names = _class_names(classes, n)
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
    info.attrs["normalize"] = normalize
    return info


def confusion_matrix_figure(info: pd.DataFrame, *, title: str | None = None,
                            normalize: bool | None = None) -> go.Figure:
    """Heatmap with true classes down and predicted across, each cell labelled."""
    normalize = info.attrs.get("normalize", False) if normalize is None else normalize
    if info.empty:
        return _empty_figure("no predictions", title=title)
    names = list(dict.fromkeys(info["true"]))
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
    fig.update_layout(**LAYOUT, title=title, height=max(360, min(700, 40 * n + 160)))
    fig.update_xaxes(title="predicted", type="category", side="bottom", constrain="domain")
    fig.update_yaxes(title="true", type="category", autorange="reversed", scaleanchor="x", constrain="domain")
    return fig


# ------------------------------------------------------------ ROC and PR
def _curve_setup(predictions: pd.DataFrame, classes: Sequence[Any] | None):
    proba = _proba(predictions)
    if proba is None:
        return None
    n = proba.shape[1]
    names = _class_names(classes, n)
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
    if not parts:
        return pd.DataFrame(columns=["model", "curve", *columns])
    return pd.concat(parts, ignore_index=True)


def roc_curve_info(predictions: Mapping[str, pd.DataFrame], classes: Sequence[Any] | None) -> pd.DataFrame:
    """Tidy ROC curves: model, curve, fpr, tpr, auc.

    Binary: one curve, named after the positive class (the second). Multiclass:
    one-vs-rest per class, ``micro`` (all class decisions pooled) and ``macro``
    (per-class TPR averaged on the union of FPR points; its ``auc`` is
    scikit-learn's macro one-vs-rest ROC-AUC). Models without probabilities are
    left out.
    """
    def per_class(y, p):
        fpr, tpr, _ = skm.roc_curve(y, p)
        return fpr, tpr, float(skm.roc_auc_score(y, p))

    def micro(Y, P):
        fpr, tpr, _ = skm.roc_curve(Y.ravel(), P.ravel())
        return fpr, tpr, float(skm.roc_auc_score(Y, P, average="micro"))

    def macro(per, Y, P):
        grid = np.unique(np.concatenate([fpr for fpr, _, _ in per]))
        mean_tpr = np.mean([np.interp(grid, fpr, tpr) for fpr, tpr, _ in per], axis=0)
        return grid, mean_tpr, float(skm.roc_auc_score(Y, P, average="macro"))

    return _one_vs_rest_curves(predictions, classes, columns=["fpr", "tpr", "auc"],
                               per_class=per_class, micro=micro, macro=macro)


def pr_curve_info(predictions: Mapping[str, pd.DataFrame], classes: Sequence[Any] | None) -> pd.DataFrame:
    """Tidy precision-recall curves: model, curve, recall, precision, average_precision, prevalence.

    Same curves as :func:`roc_curve_info`: the positive class for binary;
    per class, ``micro`` and ``macro`` (precision averaged over classes on a
    common recall grid; its ``average_precision`` is scikit-learn's macro AP).
    ``prevalence`` is the share of positive rows, the no-skill baseline.
    """
    def per_class(y, p):
        precision, recall, _ = skm.precision_recall_curve(y, p, drop_intermediate=True)
        return recall, precision, float(skm.average_precision_score(y, p)), float(y.mean())

    def micro(Y, P):
        precision, recall, _ = skm.precision_recall_curve(Y.ravel(), P.ravel(), drop_intermediate=True)
        return recall, precision, float(skm.average_precision_score(Y, P, average="micro")), float(Y.mean())

    def macro(per, Y, P):
        grid = np.linspace(0.0, 1.0, 201)
        # precision_recall_curve returns recall decreasing; np.interp needs it increasing
        mean_p = np.mean([np.interp(grid, r[::-1], p[::-1]) for r, p, _, _ in per], axis=0)
        return (grid[::-1], mean_p[::-1], float(skm.average_precision_score(Y, P, average="macro")),
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


def roc_curve_figure(info: pd.DataFrame, *, curve: str = "macro", title: str | None = None) -> go.Figure:
    """ROC curves of one kind (``macro``, ``micro`` or a class), one trace per model, with the chance line."""
    if info.empty:
        return _empty_figure("no model has class probabilities, so there is no ROC curve", title=title)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance",
                             line={"dash": "dash", "color": "#94a3b8", "width": 1}, hoverinfo="skip"))
    for i, (model, g) in enumerate(info.groupby("model", sort=False)):
        sel = _pick_curve(g, curve)
        if sel.empty:
            continue
        area = float(sel["auc"].iloc[0])
        fig.add_trace(go.Scatter(
            x=sel["fpr"], y=sel["tpr"], mode="lines", name=f"{model} (AUC {area:.3f})",
            line={"color": _color(i), "width": 2, "shape": "hv" if len(sel) < 400 else "linear"},
            hovertemplate="FPR %{x:.3f}<br>TPR %{y:.3f}<extra>" + model + "</extra>",
        ))
    which = _curve_title(info, curve)
    fig.update_layout(**(LAYOUT | {"legend": LEGEND_INSIDE | {"xanchor": "right", "x": 0.98}}),
                      title=title or f"ROC — {which}", height=480,
                      xaxis={"title": "false positive rate", "range": [-0.01, 1.01], "constrain": "domain"},
                      yaxis={"title": "true positive rate", "range": [-0.01, 1.03], "scaleanchor": "x",
                             "constrain": "domain"})
    return fig


def pr_curve_figure(info: pd.DataFrame, *, curve: str = "macro", title: str | None = None) -> go.Figure:
    """Precision-recall curves of one kind, one trace per model, with the no-skill prevalence line."""
    if info.empty:
        return _empty_figure("no model has class probabilities, so there is no PR curve", title=title)
    fig = go.Figure()
    prevalence = None
    for i, (model, g) in enumerate(info.groupby("model", sort=False)):
        sel = _pick_curve(g, curve)
        if sel.empty:
            continue
        prevalence = float(sel["prevalence"].iloc[0])
        ap = float(sel["average_precision"].iloc[0])
        fig.add_trace(go.Scatter(
            x=sel["recall"], y=sel["precision"], mode="lines", name=f"{model} (AP {ap:.3f})",
            line={"color": _color(i), "width": 2, "shape": "hv" if len(sel) < 400 else "linear"},
            hovertemplate="recall %{x:.3f}<br>precision %{y:.3f}<extra>" + model + "</extra>",
        ))
    if prevalence is not None:
        fig.add_hline(y=prevalence, line={"dash": "dash", "color": "#94a3b8", "width": 1},
                      annotation_text="no skill", annotation_position="bottom right")
    fig.update_layout(**(LAYOUT | {"legend": LEGEND_INSIDE | {"xanchor": "left", "x": 0.02}}),
                      title=title or f"Precision-recall — {_curve_title(info, curve)}", height=480,
                      xaxis={"title": "recall", "range": [-0.01, 1.01]},
                      yaxis={"title": "precision", "range": [-0.01, 1.04]})
    return fig


def _curve_title(info: pd.DataFrame, curve: str) -> str:
    names = set(info["curve"])
    if curve in ("macro", "micro") and curve not in names:
        single = sorted(names)
        return f"class {single[0]} (positive)" if len(single) == 1 else "positive class"
    if curve == "macro":
        return "macro average (one-vs-rest)"
    if curve == "micro":
        return "micro average"
    return f"class {curve} vs rest"


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
        proba = _proba(frame)
        if proba is None:
            continue
        y = frame["y_true"].to_numpy().astype(int)
        if proba.shape[1] == 2:
            names = _class_names(classes, 2)
            outcome, score = (y == 1).astype(int), proba[:, 1]
            kind = f"P(class {names[1]})"
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
    if not parts:
        return pd.DataFrame(columns=["model", "kind", "mean_predicted", "fraction_positive", "count", "brier"])
    return pd.concat(parts, ignore_index=True)


def calibration_figure(info: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Reliability diagram, one trace per model, with the perfectly calibrated diagonal."""
    if info.empty:
        return _empty_figure("no model has class probabilities, so calibration cannot be shown", title=title)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                             line={"dash": "dash", "color": "#94a3b8", "width": 1}, hoverinfo="skip"))
    for i, (model, g) in enumerate(info.groupby("model", sort=False)):
        brier = float(g["brier"].iloc[0])
        fig.add_trace(go.Scatter(
            x=g["mean_predicted"], y=g["fraction_positive"], mode="lines+markers",
            name=f"{model} (Brier {brier:.3f})", line={"color": _color(i), "width": 2},
            customdata=g["count"], marker={"size": 8},
            hovertemplate="predicted %{x:.3f}<br>observed %{y:.3f}<br>%{customdata} rows<extra>" + model + "</extra>",
        ))
    kinds = list(dict.fromkeys(info["kind"]))
    xlabel = kinds[0] if len(kinds) == 1 else "predicted probability"
    ylabel = "fraction correct" if kinds == ["top-label confidence"] else "observed frequency"
    fig.update_layout(**(LAYOUT | {"margin": LEGEND_ABOVE_MARGIN, "legend": LAYOUT["legend"] | {"y": 1.04}}),
                      title=title or "Calibration (reliability diagram)", height=480,
                      xaxis={"title": f"mean {xlabel}", "range": [-0.01, 1.01]},
                      yaxis={"title": ylabel, "range": [-0.01, 1.04]})
    return fig


# ------------------------------------------------------------------ latency
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
    if not parts:
        return pd.DataFrame(columns=["model", "batch_size", "call", "ms"])
    return pd.concat(parts, ignore_index=True)


def latency_distribution_figure(info: pd.DataFrame, *, kind: str = "box", log_y: bool | None = None,
                                title: str | None = None) -> go.Figure:
    """Per-call latency in ms as a box (or ``kind="violin"``) per model."""
    if info.empty:
        return _empty_figure("no latency samples at this batch size", title=title)
    batch = int(info["batch_size"].iloc[0])
    fig = go.Figure()
    for i, (model, g) in enumerate(info.groupby("model", sort=False)):
        common = {"y": g["ms"], "name": model, "marker": {"color": _color(i)}, "line": {"color": _color(i)},
                  "hovertemplate": "%{y:.4f} ms<extra>" + model + "</extra>"}
        if kind == "violin":
            fig.add_trace(go.Violin(**common, box={"visible": True}, meanline={"visible": True},
                                    points=False, spanmode="hard"))
        else:
            fig.add_trace(go.Box(**common, boxpoints="outliers", boxmean=True))
    if log_y is None:
        medians = info.groupby("model")["ms"].median()
        log_y = bool(medians.min() > 0 and medians.max() / medians.min() > 20)
    fig.update_layout(**LAYOUT, title=title or f"Latency per call at batch size {batch}", height=420,
                      showlegend=False, yaxis={"title": "ms per call", "type": "log" if log_y else "linear"})
    return fig


def batch_sweep_info(latency: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Latency statistics by batch size: model, batch_size, p50_ms, p95_ms, p99_ms, ms_per_row, throughput_per_s."""
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
            "noisy": f["noisy"].to_numpy(dtype=bool) if "noisy" in f else False,
        }))
    if not parts:
        return pd.DataFrame(columns=["model", "batch_size", "p50_ms", "p95_ms", "p99_ms", "ms_per_row",
                                     "throughput_per_s", "noisy"])
    return pd.concat(parts, ignore_index=True)


def batch_sweep_figure(info: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Throughput (rows/s) and p50 latency (ms) against batch size, log axes; one colour per model."""
    if info.empty:
        return _empty_figure("no latency measurements", title=title)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=("Throughput (rows/s, higher is better)",
                                        "p50 latency per call (ms, lower is better)"))
    for i, (model, g) in enumerate(info.groupby("model", sort=False)):
        style = {"color": _color(i), "width": 2}
        fig.add_trace(go.Scatter(
            x=g["batch_size"], y=g["throughput_per_s"], mode="lines+markers", name=model,
            legendgroup=model, line=style,
            hovertemplate="batch %{x}<br>%{y:,.0f} rows/s<extra>" + model + "</extra>"), row=1, col=1)
        fig.add_trace(go.Scatter(
            x=g["batch_size"], y=g["p50_ms"], mode="lines+markers", name=model, legendgroup=model,
            showlegend=False, line=style,
            error_y={"type": "data", "symmetric": False, "array": (g["p95_ms"] - g["p50_ms"]).clip(lower=0),
                     "arrayminus": np.zeros(len(g)), "visible": True, "thickness": 1},
            hovertemplate="batch %{x}<br>p50 %{y:.4f} ms<extra>" + model + "</extra>"), row=1, col=2)
    sizes = sorted(set(info["batch_size"].astype(int)))
    fig.update_xaxes(type="log", title="batch size", tickvals=sizes, ticktext=[str(s) for s in sizes])
    fig.update_yaxes(type="log", title="rows per second", row=1, col=1)
    fig.update_yaxes(type="log", title="ms per call (bar: p95)", row=1, col=2)
    layout = dict(LAYOUT)
    layout["margin"] = {"l": 60, "r": 20, "t": 90, "b": 50}
    layout["legend"] = {"orientation": "h", "yanchor": "bottom", "y": 1.12, "xanchor": "left", "x": 0}
    fig.update_layout(**layout, title=title, height=440)
    return fig


# --------------------------------------------------------------- regression
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
    if not parts:
        return pd.DataFrame(columns=["model", "row", "fold", "actual", "predicted", "residual"])
    return pd.concat(parts, ignore_index=True)


def residuals_figure(info: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Predicted vs actual (with the identity line) and residual vs predicted (with zero)."""
    if info.empty:
        return _empty_figure("no regression predictions", title=title)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=("Predicted vs actual", "Residual (actual − predicted) vs predicted"))
    for i, (model, g) in enumerate(info.groupby("model", sort=False)):
        marker = {"color": _color(i), "size": 6, "opacity": 0.55}
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
                             line={"dash": "dash", "color": "#94a3b8", "width": 1}, hoverinfo="skip"),
                  row=1, col=1)
    fig.add_hline(y=0, line={"dash": "dash", "color": "#94a3b8", "width": 1}, row=1, col=2)
    fig.update_xaxes(title="actual", row=1, col=1)
    fig.update_yaxes(title="predicted", row=1, col=1)
    fig.update_xaxes(title="predicted", row=1, col=2)
    fig.update_yaxes(title="residual", row=1, col=2)
    layout = dict(LAYOUT)
    layout["margin"] = {"l": 60, "r": 20, "t": 90, "b": 50}
    layout["legend"] = {"orientation": "h", "yanchor": "bottom", "y": 1.12, "xanchor": "left", "x": 0}
    fig.update_layout(**layout, title=title, height=460)
    return fig


# ---------------------------------------------------------- per-class report
def per_class_report_info(predictions: pd.DataFrame, classes: Sequence[Any] | None) -> pd.DataFrame:
    """scikit-learn's classification report as rows: label, kind (class/average), precision, recall, f1, support."""
    n = _n_classes(predictions, classes)
    names = _class_names(classes, n)
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


def unique_labels(names: Iterable[str], run_ids: Iterable[str]) -> list[str]:
    """Legend labels for runs: the model name, with the run id appended where names repeat."""
    names, run_ids = list(names), list(run_ids)
    seen = pd.Series(names).duplicated(keep=False).tolist()
    return [f"{n} ({r[:6]})" if dup else n for n, r, dup in zip(names, run_ids, seen, strict=True)]

