"""The compare page's widgets: settings, the verdict, one view at a time, downloads.

Figures come from :mod:`engine.compare.views` (the report calls the same
functions). Only the chosen view is built on a rerun, so the page's cost
follows what is shown, not the number of stored runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.text import md
from dashboard.widgets import compare_link as link
from engine import metrics
from engine.charts.pareto import pareto_figure
from engine.compare import export, views
from engine.compare.build import Comparison, overview

VIEWS = ("Table", "Pareto", "Significance", "Curves", "Confusion", "Per fold", "Latency", "What differs")
LINEAGES = ["uploaded", "bundled sample", "trial", "variant"]
COSTS = [c.name for c in metrics.COSTS]
ALL_METRICS = [m.name for m in metrics.REGISTRY]
URL_CHOICES = {"x": COSTS + ALL_METRICS, "y": ALL_METRICS + COSTS, "color": ALL_METRICS + COSTS,
               "view": list(VIEWS), "metric": ALL_METRICS, "cost": COSTS}
VERDICT_CHARS = 4000
BEST_STYLE = "background-color: #dcfce7; color: #14532d; font-weight: 600"


@dataclass(frozen=True)
class Settings:
    baseline: str | None
    x: str
    y: str
    color: str | None
    batch_size: int | None
    metric: str
    rope: float | None
    margin: float | None
    budgets: dict[str, float]
    cost: str
    view: str
    url_values: dict[str, Any]


def run_labels(runs: pd.DataFrame, run_ids: Sequence[str]) -> dict[str, str]:
    """Picker labels: model · dataset · mode · date · id (plain text; the picker shows no markdown)."""
    rows = runs[runs["run_id"].isin(run_ids)]
    return {r.run_id: f"{r.model} · {r.dataset} · {r.mode} · {str(r.created_at)[:16].replace('T', ' ')} · {r.run_id[:6]}"
            for r in rows.itertuples()}


def _label(name: str | None) -> str:
    return "none" if name is None else metrics.column_label(name if name in metrics.COST_BY_NAME else f"{name}_mean")


def _default(name: str, value: Any, allowed: Sequence[Any]) -> None:
    """Seed a widget's state (from the URL or a default) before it is drawn, dropping stale values."""
    k = link.key(name)
    if k not in st.session_state or st.session_state[k] not in allowed:
        st.session_state[k] = value


def settings_form(chosen: list[str], labels: dict[str, str], task: str) -> Settings:
    task_metrics = list(metrics.names(task))
    primary = metrics.primary(task).name
    _default("baseline", None, [None, *chosen])
    _default("x", "latency_p50_ms", COSTS + task_metrics)
    _default("y", primary, task_metrics + COSTS)
    _default("color", None, [None, *task_metrics, *COSTS])
    _default("metric", primary, task_metrics)
    _default("cost", "latency_p95_ms", COSTS)
    _default("view", "Table", list(VIEWS))
    with st.expander("Settings: baseline, axes, verdict", icon=":material/tune:"):
        c1, c2, c3, c4 = st.columns(4)
        baseline = c1.selectbox("Baseline", [None, *chosen], key=link.key("baseline"),
                                format_func=lambda r: "none" if r is None else labels.get(r, r),
                                help="every other run's difference from it is shown in the table and charts")
        x = c2.selectbox("X axis", COSTS + task_metrics, key=link.key("x"), format_func=_label,
                         help="Pareto front: a cost (or any metric)")
        y = c3.selectbox("Y axis", task_metrics + COSTS, key=link.key("y"), format_func=_label)
        color = c4.selectbox("Colour", [None, *task_metrics, *COSTS], key=link.key("color"), format_func=_label,
                             help="an optional third objective: it counts when finding the front")
        batch = c1.number_input("Latency at batch size", min_value=1, step=1, value=None, key=link.key("batch"),
                                placeholder="as measured (1)",
                                help="take latency and throughput at this batch size (blank: batch 1, best "
                                     "throughput)")
        metric = c2.selectbox("Decide on", task_metrics, key=link.key("metric"), format_func=_label,
                              help="the metric the verdict, the Bayesian test and the charts use")
        margin = c3.number_input("Equivalence margin", min_value=0.0, value=None, step=0.001, format="%.4f",
                                 key=link.key("margin"), placeholder="0.005",
                                 help="runs within this of the best count as good as the best (metric units: "
                                      "0.005 = half an accuracy point)")
        rope = c4.number_input("Equivalence region (ROPE)", min_value=0.0, value=None, step=0.001, format="%.4f",
                               key=link.key("rope"), placeholder="0.005",
                               help="Bayesian test: differences smaller than this are practically equivalent")
        max_p95 = c1.number_input("Budget: p95 latency at most (ms)", min_value=0.0, value=None,
                                  key=link.key("max_p95"), placeholder="no budget")
        max_size = c2.number_input("Budget: size at most (MB)", min_value=0.0, value=None,
                                   key=link.key("max_size_mb"), placeholder="no budget")
        cost = c3.selectbox("Then prefer the lowest", COSTS, key=link.key("cost"), format_func=_label,
                            help="among runs as good as the best, the verdict picks the cheapest by this")
    budgets = {}
    if max_p95:
        budgets["latency_p95_ms"] = float(max_p95)
    if max_size:
        budgets["size_bytes"] = float(max_size) * 2**20
    url = {"baseline": baseline, "x": x, "y": y, "color": color, "batch": batch, "metric": metric,
           "margin": margin, "rope": rope, "max_p95": max_p95, "max_size_mb": max_size, "cost": cost}
    return Settings(baseline, x, y, color, int(batch) if batch else None, metric, rope, margin, budgets, cost,
                    "Table", url)


def choose_view(s: Settings) -> Settings:
    """The view picker (drawn under the verdict); its choice joins the link."""
    shown = st.segmented_control("View", list(VIEWS), key=link.key("view"), required=True) or "Table"
    return dataclasses.replace(s, view=shown, url_values=s.url_values | {"view": shown})


def verdict(c: Comparison) -> None:
    with st.container(border=True):
        st.markdown(f":material/verified: **Verdict.** {md(c.verdict.text, limit=VERDICT_CHARS)}")
        if c.verdict.excluded:
            st.caption("Left out of the verdict: " + "; ".join(
                f"{md(c.selection.labels[r])} ({md(why)})" for r, why in c.verdict.excluded.items()))
    for w in c.warnings:
        st.warning(md(w), icon=":material/warning:")


def _plot(fig: Any, *, key: str) -> None:
    st.plotly_chart(fig, key=key, width="stretch", config={"displaylogo": False})


def body(c: Comparison, s: Settings, *, key: str, matching: pd.DataFrame | None = None) -> None:
    if s.view == "Pareto":
        _pareto(c, s, key, matching)
        return
    {"Table": _table, "Pareto": _pareto, "Significance": _significance, "Curves": _curves,
     "Confusion": _confusion, "Per fold": _per_fold, "Latency": _latency,
     "What differs": _differs}[s.view](c, s, key)


def table_frame(c: Comparison) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The sortable numeric table the page shows and downloads, with column settings."""
    t = c.table
    f = t.frame
    out = pd.DataFrame({"Model": f["label"], "Data": f["group"]})
    config: dict[str, Any] = {}
    for name in t.metrics:
        m = metrics.get(name)
        fmt = "%.4f" if m.bounded else "%.4g"
        for col, title in ((name, m.label), (f"{name}_std", f"{m.label} ±"), (f"{name}_ci_low", f"{m.label} CI low"),
                           (f"{name}_ci_high", f"{m.label} CI high"), (f"{name}_diff", f"Δ {m.label}")):
            if col in f:
                out[title] = f[col]
                config[title] = st.column_config.NumberColumn(format=fmt)
    for cost in t.costs:
        title = metrics.column_label(cost)
        out[title] = f[cost]
        config[title] = st.column_config.NumberColumn(format="%.4g")
        if f"{cost}_ratio" in f:
            out[f"{metrics.cost(cost).label} / baseline"] = f[f"{cost}_ratio"]
    out["Caution"] = f["caution"]
    out["Run id"] = f["run_id"]
    return out, config


def _table(c: Comparison, s: Settings, key: str) -> None:
    frame, config = table_frame(c)
    styles = pd.DataFrame("", index=frame.index, columns=frame.columns)
    for name, rows in c.table.best.items():
        title = metrics.get(name).label if name in metrics.BY_NAME else metrics.column_label(name)
        if title in styles:
            styles.loc[list(rows), title] = BEST_STYLE
    st.dataframe(frame.style.apply(lambda _: styles, axis=None), column_config=config, hide_index=True,
                 key=f"{key}:table", width="stretch", height=min(600, 40 + 35 * len(frame)))
    conf = round(c.table.confidence * 100)
    st.caption(f"Green: best in its column among runs on the same rows. CI: {conf}% percentile bootstrap of the "
               "fold mean. Δ: difference from the baseline (its interval is in Significance). Click a header to sort.")
    for note in c.table.notes:
        st.caption(md(note))


def _pareto(c: Comparison, s: Settings, key: str, matching: pd.DataFrame | None = None) -> None:
    scope = "selected"
    if matching is not None and len(matching) > len(c.selection.run_ids):
        scope = st.segmented_control("Plot", ["selected", "matching"], default="selected", key=f"{key}:scope",
                                     format_func={"selected": "the selected runs",
                                                  "matching": f"all {len(matching):,} runs matching Find runs"}.get)
    if scope == "matching" and matching is not None:
        info = overview(matching, c.axes, task=c.selection.task if c.selection.task != "mixed" else None)
        if info.attrs.get("group_size", 0) < info.attrs.get("n_runs", 0):
            st.caption(f"{info.attrs['group_size']:,} of {info.attrs['n_runs']:,} matching runs share rows and folds "
                       "(the largest such set) and are plotted; narrow Find runs by dataset to choose another.")
        fig = pareto_figure(info)
    else:
        info, fig = c.pareto, views.pareto_chart(c)
    _plot(fig, key=f"{key}:pareto")
    front = info[info["on_front"]] if not info.empty else info
    st.caption(f"{len(front)} of {len(info)} runs on the front: not beaten on every objective by another run.")


def _significance(c: Comparison, s: Settings, key: str) -> None:
    if c.table.baseline:
        _plot(views.difference_chart(c, s.metric), key=f"{key}:diff")
    test = st.segmented_control("Test", ["corrected_t", "mcnemar"], default="corrected_t", key=f"{key}:test",
                                format_func={"corrected_t": "corrected t-test (folds)",
                                             "mcnemar": "McNemar (predictions)"}.get) or "corrected_t"
    _plot(views.pvalue_chart(c, s.metric if test == "corrected_t" else "accuracy", test), key=f"{key}:pmatrix")
    st.dataframe(views.pairwise_display(c, s.metric), hide_index=True, key=f"{key}:pairs", width="stretch")
    st.caption("corrected t-test: Nadeau and Bengio's corrected resampled t-test on per-fold scores; McNemar: on "
               "out-of-fold predictions; Bayesian: correlated t-test with the equivalence region. Holm adjusts over "
               "all pairs of one test and metric.")
    res, fig = views.friedman_view(c, s.metric)
    if res is not None:
        st.subheader("Across datasets")
        st.caption(md(res.verdict))
        _plot(fig, key=f"{key}:cd")


def _curves(c: Comparison, s: Settings, key: str) -> None:
    if c.selection.task != "regression":
        curve = st.segmented_control("Average", ["macro", "micro"], default="macro", key=f"{key}:curve") or "macro"
    else:
        curve = "macro"
    figs, _ = views.curve_charts(c, curve=curve)
    _focus_caption(c)
    cols = st.columns(2)
    for i, fig in enumerate(figs):
        with cols[i % 2]:
            _plot(fig, key=f"{key}:curve{i}")


def _confusion(c: Comparison, s: Settings, key: str) -> None:
    if c.selection.task == "regression":
        st.info("Confusion matrices are for classifiers.")
        return
    normalize = st.toggle("Normalise by true class", key=f"{key}:norm")
    figs = views.confusion_charts(c, normalize=normalize)
    _focus_caption(c)
    cols = st.columns(2)
    for i, fig in enumerate(figs):
        with cols[i % 2]:
            _plot(fig, key=f"{key}:cm{i}")
    if len(views.focus_runs(c)) > views.MAX_CONFUSION:
        st.caption(f"The first {views.MAX_CONFUSION} runs are shown.")
    pair = views.default_pair(c)
    if pair:
        ids = views.focus_runs(c)
        a1, a2 = st.columns(2)
        a = a1.selectbox("Difference: from", ids, index=ids.index(pair[0]), format_func=c.selection.labels.get,
                         key=f"{key}:cm_a")
        b = a2.selectbox("to", ids, index=ids.index(pair[1]), format_func=c.selection.labels.get, key=f"{key}:cm_b")
        if c.selection.group_of(a) != c.selection.group_of(b):
            st.info("These two runs were scored on different rows: their confusion matrices cannot be subtracted.")
        elif a != b:
            _plot(views.confusion_difference_chart(c, a, b, normalize=normalize), key=f"{key}:cmdiff")


def _per_fold(c: Comparison, s: Settings, key: str) -> None:
    _plot(views.fold_chart(c, s.metric), key=f"{key}:folds")
    _focus_caption(c)


def _focus_caption(c: Comparison) -> None:
    note = views.focus_note(c)
    if note:
        st.caption(md(note))


def _latency(c: Comparison, s: Settings, key: str) -> None:
    figs, _ = views.latency_charts(c, batch_size=s.batch_size or 1)
    cols = st.columns(2)
    for i, fig in enumerate(figs):
        with cols[i % 2]:
            _plot(fig, key=f"{key}:lat{i}")


def _differs(c: Comparison, s: Settings, key: str) -> None:
    if c.params.empty:
        st.caption("The selected runs share every recorded parameter, setting and environment field.")
        return
    st.dataframe(c.params, key=f"{key}:params", width="stretch")
    st.caption("Only fields whose values differ between the selected runs: model hyperparameters (param.), "
               "benchmark settings (config.) and measurement environment (env.).")


def downloads(c: Comparison, *, stamp: str) -> None:
    frame, _ = table_frame(c)
    d1, d2, d3 = st.columns(3)
    d1.download_button("Table as CSV", export.to_csv(frame), file_name=f"frontier-compare-{stamp}.csv",
                       mime="text/csv", key=link.key("dl_csv"), icon=":material/download:")
    d2.download_button("Table as Parquet", export.to_parquet(frame), file_name=f"frontier-compare-{stamp}.parquet",
                       mime="application/octet-stream", key=link.key("dl_parquet"), icon=":material/download:")

    def report() -> str:
        from engine.report import render
        from engine.report.content import comparison_report

        return render(comparison_report(c))
    d3.download_button("HTML report", report, file_name=f"frontier-report-{stamp}.html", mime="text/html",
                       key=link.key("dl_report"), icon=":material/description:",
                       help="a self-contained file with the verdict, table, charts, tests and provenance; opens "
                            "offline")
