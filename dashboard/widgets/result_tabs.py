"""The chart tabs of a results view, one function per tab, and the environment table."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.text import md
from engine import charts, metrics
from engine.workspace import Workspace

if TYPE_CHECKING:
    from dashboard.widgets.results import RunView

CLASSIFICATION_TABS = ["Metrics", "Confusion matrices", "ROC", "PR", "Calibration", "Latency", "Per-class report"]
REGRESSION_TABS = ["Metrics", "Residuals", "Latency"]


def _tables(ws: Workspace, views: list[RunView], name: str) -> dict[str, pd.DataFrame]:
    root = str(ws.root)
    return {v.label: state.table(root, v.run_id, name) for v in views}


def _plot(fig: Any, *, key: str) -> None:
    st.plotly_chart(fig, key=key, width="stretch", config={"displaylogo": False})


def _names(items: list[str]) -> str:
    return ", ".join(md(n, limit=80) for n in items)


def tabs(ws: Workspace, views: list[RunView], task: str, *, key: str) -> None:
    names = REGRESSION_TABS if task == "regression" else CLASSIFICATION_TABS
    panes = dict(zip(names, st.tabs(names, key=f"{key}:tabs"), strict=True))
    with panes["Metrics"]:
        metrics_tab(ws, views, task, key=key)
    if task == "regression":
        with panes["Residuals"]:
            _plot(charts.residuals_figure(charts.residuals_info(_tables(ws, views, "predictions"))),
                  key=f"{key}:residuals")
    else:
        predictions = _tables(ws, views, "predictions")
        with panes["Confusion matrices"]:
            confusion_tab(views, predictions, key=key)
        with panes["ROC"]:
            curve_tab(views, predictions, kind="roc", key=key)
        with panes["PR"]:
            curve_tab(views, predictions, kind="pr", key=key)
        with panes["Calibration"]:
            calibration_tab(views, predictions, key=key)
        with panes["Per-class report"]:
            per_class_tab(views, predictions, key=key)
    with panes["Latency"]:
        latency_tab(ws, views, key=key)


def metrics_tab(ws: Workspace, views: list[RunView], task: str, *, key: str) -> None:
    folds = _tables(ws, views, "folds")
    present = [m.name for m in metrics.for_task(task)
               if any(m.name in f.columns and len(f) and f[m.name].notna().all() for f in folds.values())]
    if not present:
        st.info("No per-fold metrics were stored for these runs.")
        return
    metric = st.selectbox("Metric", present, format_func=lambda m: f"{metrics.get(m).label} ({metrics.get(m).better_word})",
                          key=f"{key}:metric")
    left, right = st.columns(2)
    with left:
        _plot(charts.fold_metrics_figure(charts.fold_metrics_info(folds, metric), metric=metric), key=f"{key}:folds")
    with right:
        runs = pd.DataFrame([v.summary for v in views])
        tradeoff = charts.tradeoff_info(runs, metric, labels=[v.label for v in views])
        _plot(charts.tradeoff_figure(tradeoff, metric=metric), key=f"{key}:tradeoff")


def confusion_tab(views: list[RunView], predictions: dict[str, pd.DataFrame], *, key: str) -> None:
    normalize = st.toggle("Normalize by true class", value=True, key=f"{key}:normalize")
    cols = st.columns(2 if len(views) > 1 else 1)
    for i, v in enumerate(views):
        info = charts.confusion_matrix_info(predictions[v.label], v.classes)
        with cols[i % len(cols)]:
            _plot(charts.confusion_matrix_figure(info, title=v.label, normalize=normalize), key=f"{key}:cm:{v.run_id}")


def _per_run(views: list[RunView], predictions: dict[str, pd.DataFrame], fn: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    """Call an ``*_info`` function run by run (classes can differ between datasets) and stack."""
    parts = [fn({v.label: predictions[v.label]}, v.classes) for v in views]
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else fn({}, None)


def _no_proba_note(views: list[RunView], predictions: dict[str, pd.DataFrame]) -> None:
    missing = [v.label for v in views if not charts.has_probabilities(predictions[v.label])]
    if missing:
        st.caption(f"No class probabilities from: {_names(missing)} (left out).")


def curve_tab(views: list[RunView], predictions: dict[str, pd.DataFrame], *, kind: str, key: str) -> None:
    info = _per_run(views, predictions, charts.roc_curve_info if kind == "roc" else charts.pr_curve_info)
    _no_proba_note(views, predictions)
    if info.empty:
        st.info("None of these models gives class probabilities, so there is no curve to draw.")
        return
    options = charts.available_curves(info)
    curve = options[0]
    if len(options) > 1:
        words = {"macro": "macro average", "micro": "micro average"}
        curve = st.selectbox("Curve", options, key=f"{key}:{kind}:curve",
                             format_func=lambda c: words.get(c) or f"class {c} vs rest")
    fig = charts.roc_curve_figure(info, curve=curve) if kind == "roc" else charts.pr_curve_figure(info, curve=curve)
    _plot(fig, key=f"{key}:{kind}")
    st.caption("Curves pool every fold's held-out predictions (each row scored once).")


def calibration_tab(views: list[RunView], predictions: dict[str, pd.DataFrame], *, key: str) -> None:
    parts = [charts.calibration_info({v.label: predictions[v.label]}, classes=v.classes) for v in views]
    parts = [p for p in parts if not p.empty]
    _no_proba_note(views, predictions)
    if not parts:
        st.info("None of these models gives class probabilities, so calibration cannot be shown.")
        return
    _plot(charts.calibration_figure(pd.concat(parts, ignore_index=True)), key=f"{key}:calibration")
    st.caption("Binary: probability of the positive class. Multiclass: top-label confidence against how often "
               "the top label is right. Ten uniform bins; empty bins are left out.")


def per_class_tab(views: list[RunView], predictions: dict[str, pd.DataFrame], *, key: str) -> None:
    by_id = {v.run_id: v for v in views}
    run_id = st.selectbox("Model", list(by_id), format_func=lambda r: by_id[r].label,
                          key=f"{key}:per_class")
    v = by_id[run_id]
    info = charts.per_class_report_info(predictions[v.label], v.classes)
    st.dataframe(info, hide_index=True, key=f"{key}:per_class_table", height=min(36 + 35 * len(info), 800),
                 column_config={
        "label": "Class", "kind": None,
        "precision": st.column_config.ProgressColumn("Precision", format="%.3f", min_value=0, max_value=1),
        "recall": st.column_config.ProgressColumn("Recall", format="%.3f", min_value=0, max_value=1),
        "f1": st.column_config.ProgressColumn("F1", format="%.3f", min_value=0, max_value=1),
        "support": st.column_config.NumberColumn("Rows", format="%d"),
    })


def latency_tab(ws: Workspace, views: list[RunView], *, key: str) -> None:
    latency = _tables(ws, views, "latency")
    if all(t.empty for t in latency.values()):
        st.info("Latency was not measured for these runs.")
        return
    samples = _tables(ws, views, "latency_samples")
    sizes = sorted({int(b) for t in latency.values() if not t.empty for b in t["batch_size"]})
    c1, c2 = st.columns([1, 3])
    batch = c1.selectbox("Batch size", sizes, index=sizes.index(1) if 1 in sizes else 0, key=f"{key}:lat_batch")
    violin = c2.toggle("Violin", key=f"{key}:lat_violin")
    info = charts.latency_distribution_info(samples, batch_size=batch)
    _plot(charts.latency_distribution_figure(info, kind="violin" if violin else "box"), key=f"{key}:lat_dist")
    sweep = charts.batch_sweep_info(latency)
    _plot(charts.batch_sweep_figure(sweep), key=f"{key}:lat_sweep")
    skewed = [v for v in views if v.summary.get("latency_skewed") is True]
    for v in skewed:
        reason = v.summary.get("latency_skew_reason") or "the timed blocks disagree"
        st.warning(md(f"Latency of {v.label} was measured while the machine was busy ({reason}); treat it as "
                      "skewed and measure it again."), icon=":material/speed:")


LOAD_FIELDS = ("load_1m_before", "load_1m_after", "other_jobs_active", "other_jobs_queued", "latency_cpu_per_wall",
               "latency_descheduled", "peak_rss_mb")


def environment_view(views: list[RunView]) -> None:
    """Where the numbers came from: CPU, threads and wait policies, backend, library versions, and the
    machine's load while latency was measured, per run (every field the engine recorded)."""
    with st.expander("Environment", icon=":material/memory:"):
        rows = []
        for v in views:
            env = dict(v.summary.get("environment") or {})
            libraries = env.pop("libraries", None) or {}
            rows.append({"model": v.label, **env, **libraries, **{f: v.summary.get(f) for f in LOAD_FIELDS}})
        st.dataframe(pd.DataFrame(rows).dropna(axis=1, how="all").astype(str).replace({"None": "", "nan": ""}),
                     hide_index=True)
