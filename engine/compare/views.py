"""The figures and display tables of a comparison, built once for the page and the report.

Each function takes a :class:`~engine.compare.build.Comparison` and returns
Plotly figures (from the chart ``*_info``/``*_figure`` pairs) or a display
table; the compare page and the HTML report call the same functions with the
same arguments, so they show the same thing. ``max_points`` thins long
curves and latency samples (the report sets it to stay small and says so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from engine import charts, metrics
from engine.charts import comparison as cmp_charts
from engine.charts.pareto import pareto_figure
from engine.compare import pairwise as pw
from engine.compare import significance
from engine.compare.build import Comparison

MAX_CONFUSION = 6  # confusion matrices side by side


@dataclass(frozen=True)
class DisplayTable:
    """A table as shown: text cells, best cells per column, and the numeric frame for downloads."""

    frame: pd.DataFrame
    best: Mapping[str, tuple[int, ...]]
    numbers: pd.DataFrame


def _fmt(metric: metrics.Metric, value: Any) -> str:
    return metric.format(None if value is None or value != value else float(value))


def display_table(c: Comparison) -> DisplayTable:
    """The comparison table with text cells: mean ± std [CI] per metric, differences, costs."""
    t = c.table
    f = t.frame
    out = pd.DataFrame({"Model": f["label"], "Data": f["group"]})
    best: dict[str, tuple[int, ...]] = {}
    conf = round(t.confidence * 100)
    for name in t.metrics:
        m = metrics.get(name)
        col = m.label
        out[col] = [f"{_fmt(m, r[name])} ± {_fmt(m, r[f'{name}_std'])}" for r in f.to_dict("records")]
        out[f"{m.label} {conf}% CI"] = [
            "n/a" if r[f"{name}_ci_low"] != r[f"{name}_ci_low"] else
            f"[{_fmt(m, r[f'{name}_ci_low'])}, {_fmt(m, r[f'{name}_ci_high'])}]" for r in f.to_dict("records")]
        best[col] = t.best.get(name, ())
        if t.baseline is not None and f"{name}_diff" in f:
            out[f"Δ {m.label}"] = [
                "n/a" if r[f"{name}_diff"] != r[f"{name}_diff"] else
                f"{r[f'{name}_diff']:+.4g}" + ("" if r[f"{name}_diff_low"] != r[f"{name}_diff_low"] else
                                              f" [{r[f'{name}_diff_low']:+.3g}, {r[f'{name}_diff_high']:+.3g}]")
                for r in f.to_dict("records")]
    for cost in t.costs:
        c_ = metrics.cost(cost)
        col = metrics.column_label(cost)
        out[col] = [_cost_text(cost, v) for v in f[cost]]
        best[col] = t.best.get(cost, ())
        if t.baseline is not None and f"{cost}_ratio" in f:
            out[f"{c_.label} vs baseline"] = ["n/a" if v != v else f"{v:.2f}x" for v in f[f"{cost}_ratio"]]
    out["Caution"] = f["caution"]
    out["Run id"] = f["run_id"]
    return DisplayTable(out, best, f)


def _cost_text(cost: str, v: Any) -> str:
    if v is None or v != v:
        return "n/a"
    if cost == "size_bytes":
        return f"{v / 2**20:.2f} MB" if v >= 2**20 else f"{v / 2**10:.1f} KB"
    if cost == "n_parameters":
        return f"{int(v):,}"
    if cost == "throughput_per_s":
        return f"{v:,.0f}"
    return f"{v:.4g}"


def pareto_chart(c: Comparison, *, title: str | None = None) -> go.Figure:
    return pareto_figure(c.pareto, title=title)


def difference_chart(c: Comparison, metric: str | None = None) -> go.Figure:
    metric = metric or c.verdict.metric
    return cmp_charts.difference_figure(cmp_charts.difference_info(c.table, metric))


def pairwise_display(c: Comparison, metric: str | None = None, *, involving: Sequence[str] = ()) -> pd.DataFrame:
    """The pairwise rows of one metric (the corrected t-test and the Bayesian test) plus McNemar;
    with ``involving``, only pairs that include one of those runs."""
    metric = metric or c.verdict.metric
    p = c.pairwise
    if p.empty:
        return pd.DataFrame(columns=["A", "B", "test", "metric", "statistic", "p", "p (Holm)", "verdict"])
    rows = p[(p["metric"] == metric) | (p["test"] == "mcnemar")]
    if involving:
        rows = rows[rows["a"].isin(involving) | rows["b"].isin(involving)]
    return pd.DataFrame({
        "A": rows["a_label"], "B": rows["b_label"], "test": rows["test"], "metric": rows["metric"],
        "statistic": [_num(v) for v in rows["statistic"]], "p": [_num(v) for v in rows["p_value"]],
        "p (Holm)": [_num(v) for v in rows["p_adjusted"]], "verdict": rows["verdict"],
    }).reset_index(drop=True)


def _num(v: Any) -> str:
    return "—" if v is None or v != v else f"{float(v):.3g}"


def pvalue_chart(c: Comparison, metric: str | None = None, test: str = "corrected_t") -> go.Figure:
    metric = metric or c.verdict.metric
    mat = pw.matrix(c.pairwise, c.selection, metric=metric, test=test)
    words = {"corrected_t": "corrected t-test", "mcnemar": "McNemar"}.get(test, test)
    return cmp_charts.pvalue_matrix_figure(mat, title=f"{words} on {metrics.get(metric).label}: Holm-adjusted p")


def friedman_view(c: Comparison, metric: str | None = None) -> tuple[significance.FriedmanResult | None, go.Figure | None]:
    """Friedman's test over datasets for models present in every group of the selection (by model
    name); None when the selection has fewer than two groups or three shared models."""
    metric = metric or c.verdict.metric
    sel = c.selection
    if len(sel.groups) < 2 or f"{metric}_mean" not in sel.runs:
        return None, None
    scores = sel.runs.pivot_table(index="group", columns="model", values=f"{metric}_mean", aggfunc="mean")
    scores = scores.dropna(axis=1)
    if scores.shape[1] < 3:
        return None, None
    scores.index = [sel.group_names[g] for g in scores.index]
    res = significance.friedman(scores, higher_is_better=metrics.get(metric).higher_is_better)
    info = cmp_charts.critical_difference_info(res.mean_ranks, res.cd)
    return res, cmp_charts.critical_difference_figure(info)


def thin(info: pd.DataFrame, by: Sequence[str], max_points: int | None) -> tuple[pd.DataFrame, bool]:
    """At most ``max_points`` evenly spaced rows (first and last kept) per ``by`` group."""
    if max_points is None or info.empty:
        return info, False
    parts, thinned = [], False
    for _, g in info.groupby(list(by), sort=False):
        if len(g) > max_points:
            idx = np.unique(np.linspace(0, len(g) - 1, max_points).round().astype(int))
            g, thinned = g.iloc[idx], True
        parts.append(g)
    out = pd.concat(parts, ignore_index=True)
    out.attrs = info.attrs
    return out, thinned


def focus_runs(c: Comparison) -> list[str]:
    """The runs whose rows the per-row charts (curves, confusion matrices, folds) show together:
    the baseline's comparison group, else the largest."""
    sel = c.selection
    return list(sel.groups[sel.group_of(c.table.baseline)] if c.table.baseline else next(iter(sel.groups.values())))


def focus_note(c: Comparison) -> str | None:
    """Says which runs the per-row charts leave out, when the selection spans several sets of rows."""
    sel = c.selection
    if len(sel.groups) < 2:
        return None
    g = sel.group_of(focus_runs(c)[0])
    return (f"Curves, confusion matrices and per-fold scores show the runs on {sel.group_names[g]} only "
            "(runs on other rows are not drawn together); choose a baseline on other data to see those.")


def curve_charts(c: Comparison, *, curve: str = "macro", max_points: int | None = None,
                 run_ids: Sequence[str] | None = None) -> tuple[list[go.Figure], bool]:
    """ROC, precision-recall and calibration overlaid (classification) or residuals (regression);
    and whether any curve was thinned. One comparison group (:func:`focus_runs`) by default."""
    sel = c.selection
    run_ids = list(run_ids or focus_runs(c))
    preds = sel.tables("predictions", run_ids)
    if sel.task == "regression":
        info, thinned = thin(charts.residuals_info(preds), ["model"], max_points)
        return [charts.residuals_figure(info)], thinned
    classes = _classes(c, run_ids[0])
    roc, t1 = thin(charts.roc_curve_info(preds, classes), ["model", "curve"], max_points)
    pr, t2 = thin(charts.pr_curve_info(preds, classes), ["model", "curve"], max_points)
    chosen = curve if curve in charts.available_curves(roc) else (charts.available_curves(roc) or [curve])[0]
    figs = [charts.roc_curve_figure(roc, curve=chosen), charts.pr_curve_figure(pr, curve=chosen),
            charts.calibration_figure(charts.calibration_info(preds, classes=classes))]
    return figs, t1 or t2


def _classes(c: Comparison, run_id: str) -> list | None:
    """The class labels of one run (runs of one comparison group share them)."""
    cl = c.selection.run(run_id).get("classes")
    return cl if isinstance(cl, list) else None


def confusion_charts(c: Comparison, *, normalize: bool = False, limit: int = MAX_CONFUSION) -> list[go.Figure]:
    """One confusion matrix per run (the first ``limit``)."""
    sel = c.selection
    if sel.task == "regression":
        return []
    figs = []
    for rid in focus_runs(c)[:limit]:
        info = charts.confusion_matrix_info(sel.table(rid, "predictions"), _classes(c, rid))
        figs.append(charts.confusion_matrix_figure(info, title=sel.labels[rid], normalize=normalize))
    return figs


def confusion_difference_chart(c: Comparison, a: str, b: str, *, normalize: bool = False) -> go.Figure:
    sel = c.selection
    ia = charts.confusion_matrix_info(sel.table(a, "predictions"), _classes(c, a))
    ib = charts.confusion_matrix_info(sel.table(b, "predictions"), _classes(c, b))
    return cmp_charts.confusion_difference_figure(cmp_charts.confusion_difference_info(ia, ib),
                                                  a=sel.labels[a], b=sel.labels[b], normalize=normalize)


def default_pair(c: Comparison) -> tuple[str, str] | None:
    """The two runs a difference chart shows by default: the baseline (or first) and the pick."""
    sel = c.selection
    group = sel.groups[sel.group_of(c.table.baseline)] if c.table.baseline else next(iter(sel.groups.values()))
    if len(group) < 2:
        return None
    a = c.table.baseline or group[0]
    b = c.verdict.pick if c.verdict.pick and c.verdict.pick != a else next(r for r in group if r != a)
    return a, b


def fold_chart(c: Comparison, metric: str | None = None) -> go.Figure:
    metric = metric or c.verdict.metric
    return charts.fold_metrics_figure(charts.fold_metrics_info(c.selection.tables("folds", focus_runs(c)), metric),
                                      metric=metric)


def latency_charts(c: Comparison, *, batch_size: int = 1, max_points: int | None = None) -> tuple[list[go.Figure], bool]:
    sel = c.selection
    dist, thinned = thin(charts.latency_distribution_info(sel.tables("latency_samples"), batch_size=batch_size),
                         ["model"], max_points)
    return [charts.latency_distribution_figure(dist), charts.batch_sweep_figure(charts.batch_sweep_info(
        sel.tables("latency")))], thinned


def provenance(c: Comparison) -> dict[str, Any]:
    """Where every number came from: data, folds, models, environments, versions."""
    sel = c.selection
    runs = sel.runs
    data = {}
    for g, ids in sel.groups.items():
        r = sel.run(ids[0])
        scheme = "StratifiedKFold" if r.get("task") == "classification" else "KFold"
        data[sel.group_names[g]] = {
            "dataset ids": ", ".join(dict.fromkeys(str(sel.run(i).get("dataset_id")) for i in ids)),
            "rows": r.get("n_rows"), "features": r.get("n_features"), "target": r.get("target"),
            "folds": f"{scheme}(n_splits={r.get('n_folds')}, shuffle=True, random_state={r.get('seed')})",
            "folds id": g}
    models = {}
    for r in runs.to_dict("records"):
        models[r["label"]] = {"run id": r["run_id"], "artifact id": r.get("artifact_id"), "format": r.get("format"),
                              "mode": r.get("mode"), "lineage": r.get("lineage") or "uploaded",
                              "owner": r.get("owner"), "measured": r.get("created_at"),
                              "threads": r.get("threads"), "backend": r.get("backend"), "device": r.get("device")}
    envs: dict[str, Any] = {}
    for r in runs.to_dict("records"):
        env = r.get("environment") if isinstance(r.get("environment"), Mapping) else {}
        key = f"{env.get('cpu')} ({env.get('cores')} cores)" + (f", GPU {env['gpu']}" if env.get("gpu") else "")
        entry = envs.setdefault(key, {"python": env.get("python"), "platform": env.get("platform"),
                                      "engine": env.get("engine_version"), "libraries": env.get("libraries") or {},
                                      "runs": []})
        entry["runs"].append(r["label"])
    for e in envs.values():
        e["runs"] = ", ".join(e["runs"])
    return {"data": data, "models": models, "environments": envs}
