"""Shared widgets: the error guard, the job progress panel and the results view.

Pages stay thin: they lay out inputs, call the engine inside :func:`guard`,
and hand run ids to :func:`results_view`, which reads the store (cached) and
draws the :mod:`engine.charts` pairs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import state
from engine import charts, jobs
from engine.errors import FrontierError
from engine.measure import environment
from engine.workspace import Workspace

log = logging.getLogger("frontier.dashboard")
POLL_S = 0.5
SKLEARN_FORMATS = ("skops", "pickle")

COLUMN_CONFIG: dict[str, Any] = {
    "model": st.column_config.TextColumn("Model"),
    "dataset": "Dataset",
    "task": "Task",
    "mode": st.column_config.TextColumn("Mode", help="cv-refit: a clone is refit on each fold; as-is: the fitted model is scored on each fold's test rows"),
    "format": "Format",
    "latency_p50_ms": st.column_config.NumberColumn("p50 ms", format="%.4f", help="median latency of one call at batch size 1"),
    "latency_p95_ms": st.column_config.NumberColumn("p95 ms", format="%.4f"),
    "latency_p99_ms": st.column_config.NumberColumn("p99 ms", format="%.4f"),
    "throughput_per_s": st.column_config.NumberColumn("rows/s", format="compact", help="best throughput over the batch sizes"),
    "size_bytes": st.column_config.NumberColumn("Size", format="bytes"),
    "n_parameters": st.column_config.NumberColumn("Parameters", format="compact"),
    "backend": "Backend",
    "provider": "Provider",
    "threads": st.column_config.NumberColumn("Threads", format="%d"),
    "created_at": "Created",
    "run_id": "Run id",
}
for _metric, _label in charts.METRIC_LABELS.items():
    COLUMN_CONFIG[f"{_metric}_mean"] = st.column_config.NumberColumn(_label, format="%.4f")
    COLUMN_CONFIG[f"{_metric}_std"] = st.column_config.NumberColumn(f"{_label} ±", format="%.4f",
                                                                    help="standard deviation over folds")


# -------------------------------------------------------------------- errors
@dataclass
class Outcome:
    """Whether the guarded block finished without an error."""

    ok: bool = True


@contextlib.contextmanager
def guard(action: str = "") -> Iterator[Outcome]:
    """Show engine errors as one ``st.error`` line instead of a traceback.

    ``FrontierError`` messages are shown as they are; anything else is logged
    on the server with its traceback and shown as one line.
    """
    outcome = Outcome()
    try:
        yield outcome
    except FrontierError as exc:
        outcome.ok = False
        st.error(exc.message)
    except Exception as exc:
        outcome.ok = False
        log.exception("unexpected error%s", f" while {action}" if action else "")
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        where = f" while {action}" if action else ""
        st.error(f"Unexpected error{where}: {type(exc).__name__}: {first}")


# ---------------------------------------------------------------------- jobs
@st.fragment(run_every=POLL_S)
def job_panel(ws: Workspace, job_id: str, *, key: str) -> None:
    """Progress of an active job, polled; reruns the page once the job has finished."""
    try:
        status = jobs.status(ws, job_id)
    except FrontierError as exc:
        st.error(exc.message)
        return
    if not status.active:
        st.rerun()
    text = status.message or ("waiting for a worker" if status.state == "queued" else status.state)
    st.progress(min(max(float(status.fraction), 0.0), 1.0), text=f"{status.title or 'job'} — {text}")
    if st.button("Cancel", key=f"{key}:cancel:{job_id}", icon=":material/stop_circle:"):
        with guard("cancelling the job"):
            jobs.cancel(ws, job_id)
        st.rerun()


# ------------------------------------------------------------------- results
@dataclass(frozen=True)
class RunView:
    run_id: str
    label: str
    summary: dict[str, Any]

    @property
    def classes(self) -> list[Any] | None:
        return self.summary.get("classes")


def _views(ws: Workspace, run_ids: list[str]) -> list[RunView]:
    root = str(ws.root)
    summaries = [state.summary(root, r) for r in run_ids]
    labels = charts.unique_labels([s["model"] for s in summaries], run_ids)
    return [RunView(r, label, s) for r, label, s in zip(run_ids, labels, summaries, strict=True)]


def _tables(ws: Workspace, views: list[RunView], name: str) -> dict[str, pd.DataFrame]:
    root = str(ws.root)
    return {v.label: state.table(root, v.run_id, name) for v in views}


def results_table_view(table: pd.DataFrame, *, key: str, height: int | str = "auto") -> None:
    st.dataframe(table, hide_index=True, column_config=COLUMN_CONFIG, key=key, height=height)


def results_view(ws: Workspace, run_ids: list[str], *, key: str, cached: set[str] | None = None) -> None:
    """The results table and chart tabs for stored runs ``run_ids``."""
    run_ids = state.existing(ws, list(dict.fromkeys(run_ids)))
    if not run_ids:
        st.info("These runs are no longer in the store.")
        return
    views = _views(ws, run_ids)
    tasks = list(dict.fromkeys(v.summary["task"] for v in views))
    if len(tasks) > 1:
        task = st.radio("Task", tasks, horizontal=True, key=f"{key}:task",
                        help="The selected runs mix classification and regression; charts show one task at a time.")
        views = [v for v in views if v.summary["task"] == task]
    task = views[0].summary["task"]
    if cached and all(v.run_id in cached for v in views):
        st.success("All results were served from the store (an identical run was already there).",
                   icon=":material/inventory_2:")
    elif cached and any(v.run_id in cached for v in views):
        names = ", ".join(v.label for v in views if v.run_id in cached)
        st.caption(f"Served from the store: {names}.")
    table = charts.results_table(pd.DataFrame([v.summary for v in views]))
    table["model"] = [v.label for v in views]
    results_table_view(table, key=f"{key}:table")
    differ = environment.differences([v.summary.get("environment") for v in views])
    if differ:
        st.warning(f"These runs were measured in different environments ({', '.join(differ)}): compare their "
                   "latencies with care — see Environment below.", icon=":material/warning:")
    as_is = [v.label for v in views if v.summary.get("mode") == "as-is"]
    if as_is:
        st.caption(
            f"As-is ({', '.join(as_is)}): metrics score the fitted model on each fold's test rows, "
            "which may include rows it was trained on — compare them with cv-refit runs carefully.")
    if task == "regression":
        names = ["Metrics", "Residuals", "Latency"]
    else:
        names = ["Metrics", "Confusion matrices", "ROC", "PR", "Calibration", "Latency", "Per-class report"]
    tabs = dict(zip(names, st.tabs(names, key=f"{key}:tabs"), strict=True))
    with tabs["Metrics"]:
        _metrics_tab(ws, views, task, key=key)
    if task == "regression":
        with tabs["Residuals"]:
            info = charts.residuals_info(_tables(ws, views, "predictions"))
            _plot(charts.residuals_figure(info), key=f"{key}:residuals")
    else:
        predictions = _tables(ws, views, "predictions")
        with tabs["Confusion matrices"]:
            _confusion_tab(views, predictions, key=key)
        with tabs["ROC"]:
            _curve_tab(views, predictions, kind="roc", key=key)
        with tabs["PR"]:
            _curve_tab(views, predictions, kind="pr", key=key)
        with tabs["Calibration"]:
            _calibration_tab(views, predictions, key=key)
        with tabs["Per-class report"]:
            _per_class_tab(views, predictions, key=key)
    with tabs["Latency"]:
        _latency_tab(ws, views, key=key)
    environment_view(views)


def _plot(fig, *, key: str) -> None:
    st.plotly_chart(fig, key=key, width="stretch", config={"displaylogo": False})


def _metrics_tab(ws: Workspace, views: list[RunView], task: str, *, key: str) -> None:
    folds = _tables(ws, views, "folds")
    candidates = charts.REGRESSION_METRICS if task == "regression" else charts.CLASSIFICATION_METRICS
    present = [m for m in candidates if any(m in f.columns and f[m].notna().all() and len(f) for f in folds.values())]
    if not present:
        st.info("No per-fold metrics were stored for these runs.")
        return
    metric = st.selectbox("Metric", present, format_func=lambda m: charts.METRIC_LABELS.get(m, m),
                          key=f"{key}:metric")
    left, right = st.columns(2)
    with left:
        info = charts.fold_metrics_info(folds, metric)
        _plot(charts.fold_metrics_figure(info, metric=metric), key=f"{key}:folds")
    with right:
        runs = pd.DataFrame([v.summary for v in views])
        tradeoff = charts.tradeoff_info(runs, metric, labels=[v.label for v in views])
        _plot(charts.tradeoff_figure(tradeoff, metric=metric), key=f"{key}:tradeoff")


def _confusion_tab(views: list[RunView], predictions: dict[str, pd.DataFrame], *, key: str) -> None:
    normalize = st.toggle("Normalize by true class", value=True, key=f"{key}:normalize")
    cols = st.columns(2 if len(views) > 1 else 1)
    for i, v in enumerate(views):
        info = charts.confusion_matrix_info(predictions[v.label], v.classes, normalize=normalize)
        with cols[i % len(cols)]:
            _plot(charts.confusion_matrix_figure(info, title=v.label), key=f"{key}:cm:{v.run_id}")


def _per_run(views: list[RunView], predictions: dict[str, pd.DataFrame], fn) -> pd.DataFrame:
    """Call an ``*_info`` function run by run (classes can differ between datasets) and stack."""
    parts = [fn({v.label: predictions[v.label]}, v.classes) for v in views]
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else fn({}, None)


def _no_proba_note(views: list[RunView], predictions: dict[str, pd.DataFrame]) -> None:
    missing = [v.label for v in views if not charts.has_probabilities(predictions[v.label])]
    if missing:
        st.caption(f"No class probabilities from: {', '.join(missing)} (left out).")


def _curve_tab(views: list[RunView], predictions: dict[str, pd.DataFrame], *, kind: str, key: str) -> None:
    info_fn = charts.roc_curve_info if kind == "roc" else charts.pr_curve_info
    info = _per_run(views, predictions, info_fn)
    _no_proba_note(views, predictions)
    if info.empty:
        st.info("None of these models gives class probabilities, so there is no curve to draw.")
        return
    options = charts.available_curves(info)
    curve = options[0]
    if len(options) > 1:
        curve = st.selectbox("Curve", options, key=f"{key}:{kind}:curve",
                             format_func=lambda c: {"macro": "macro average", "micro": "micro average"}.get(c, f"class {c} vs rest"))
    fig = charts.roc_curve_figure(info, curve=curve) if kind == "roc" else charts.pr_curve_figure(info, curve=curve)
    _plot(fig, key=f"{key}:{kind}")
    st.caption("Curves pool every fold's held-out predictions (each row scored once).")


def _calibration_tab(views: list[RunView], predictions: dict[str, pd.DataFrame], *, key: str) -> None:
    parts = [charts.calibration_info({v.label: predictions[v.label]}, classes=v.classes) for v in views]
    parts = [p for p in parts if not p.empty]
    _no_proba_note(views, predictions)
    if not parts:
        st.info("None of these models gives class probabilities, so calibration cannot be shown.")
        return
    info = pd.concat(parts, ignore_index=True)
    _plot(charts.calibration_figure(info), key=f"{key}:calibration")
    st.caption("Binary: probability of the positive class. Multiclass: top-label confidence against how often "
               "the top label is right. Ten uniform bins; empty bins are left out.")


def _per_class_tab(views: list[RunView], predictions: dict[str, pd.DataFrame], *, key: str) -> None:
    by_id = {v.run_id: v for v in views}
    run_id = st.selectbox("Model", list(by_id), format_func=lambda r: by_id[r].label, key=f"{key}:per_class")
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


def _latency_tab(ws: Workspace, views: list[RunView], *, key: str) -> None:
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
    noisy = sorted(set(sweep.loc[sweep["noisy"], "model"])) if "noisy" in sweep else []
    if noisy:
        st.caption(f"Noisy timings (IQR above a quarter of the median) for: {', '.join(noisy)}; "
                   "raise the minimum time per batch size or close other work.")


def environment_view(views: list[RunView]) -> None:
    """Where the numbers came from: CPU, threads, backend and library versions per run."""
    with st.expander("Environment", icon=":material/memory:"):
        rows = []
        for v in views:
            env = v.summary.get("environment") or {}
            libs = env.get("libraries") or {}
            rows.append({
                "model": v.label, "cpu": env.get("cpu"), "cores": env.get("cores"),
                "threads": env.get("threads"), "backend": env.get("backend"), "device": env.get("device"),
                "provider": env.get("provider"), "precision": env.get("precision"),
                "gpu": env.get("gpu"), "python": env.get("python"), "platform": env.get("platform"),
                "engine": env.get("engine_version"),
                **{lib: ver for lib, ver in libs.items()},
            })
        frame = pd.DataFrame(rows).dropna(axis=1, how="all")
        st.dataframe(frame, hide_index=True)


# ----------------------------------------------------------- registry widgets
def _flash(flash_key: str, level: str, message: str) -> None:
    st.session_state.setdefault(flash_key, []).append((level, message))


@st.fragment(run_every=1.0)
def inspect_watch(ws: Workspace, job_ids: tuple[str, ...], *, key: str, flash_key: str) -> None:
    """Poll inspect jobs; when all are finished, report failures once and refresh the page."""
    statuses = []
    for job_id in job_ids:
        with contextlib.suppress(FrontierError):
            statuses.append(jobs.status(ws, job_id))
    active = [s for s in statuses if s.active]
    if active:
        st.caption(f":material/hourglass_top: Reading parameter counts in an isolated worker "
                   f"({len(active)} model(s) left)…")
        return
    for s in statuses:
        if s.state == "failed":
            _flash(flash_key, "warning", f"{s.title or 'inspection'} failed: {s.error}")
    st.session_state[key] = []
    st.rerun()


def delete_control(kind: str, options: dict[str, str], *, key: str, note: str, flash_key: str,
                   delete) -> None:
    """Pick an item, press Delete, confirm: ``delete(id)`` runs only after the confirmation."""
    pending_key, choice_key = f"{key}:pending", f"{key}:choice"

    def ask() -> None:
        st.session_state[pending_key] = st.session_state.get(choice_key)

    def cancel() -> None:
        st.session_state.pop(pending_key, None)

    def confirm() -> None:
        item = st.session_state.pop(pending_key, None)
        if item is None:
            return
        try:
            delete(item)
        except FrontierError as exc:
            _flash(flash_key, "error", exc.message)
            return
        _flash(flash_key, "success", f"Deleted {options.get(item, item)}.")
        st.session_state[choice_key] = None

    c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
    chosen = c1.selectbox(f"Delete a {kind}", list(options), format_func=lambda i: options.get(i, i),
                          index=None, placeholder=f"choose a {kind} to delete", key=choice_key)
    c2.button(f"Delete {kind}…", key=f"{key}:ask", on_click=ask, disabled=chosen is None,
              icon=":material/delete:", width="stretch")
    pending = st.session_state.get(pending_key)
    if pending in options:
        with st.container(border=True):
            st.warning(f"Delete {options[pending]}? This cannot be undone. {note}")
            a, b, _ = st.columns([1, 1, 4])
            a.button("Yes, delete", key=f"{key}:confirm", type="primary", on_click=confirm)
            b.button("Cancel", key=f"{key}:cancel", on_click=cancel)
