"""One call that builds a whole comparison: what the CLI prints, the page shows and the report holds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from engine import metrics
from engine.charts.tables import CAUTIONS
from engine.compare.differences import environment_warnings, param_diff
from engine.compare.pairwise import TESTS, pairwise
from engine.compare.selection import Selection, select
from engine.compare.table import CompareTable, compare_table_info
from engine.compare.verdict import DEFAULT_COST, Verdict, verdict
from engine.errors import FrontierError, option
from engine.workspace import Workspace

DEFAULT_X = "latency_p50_ms"


@dataclass(frozen=True)
class Axes:
    """The Pareto chart's axes: summary columns (``accuracy_mean``, ``latency_p95_ms``...)."""

    x: str = DEFAULT_X
    y: str | None = None  # default: the task's primary metric
    color: str | None = None


@dataclass
class Comparison:
    """Everything one comparison shows, computed once."""

    selection: Selection
    table: CompareTable
    pareto: pd.DataFrame
    pairwise: pd.DataFrame
    verdict: Verdict
    params: pd.DataFrame
    axes: Axes
    warnings: list[str] = field(default_factory=list)


def axis_column(name: str, task: str, flag: str = "x") -> str:
    """A user's axis name as a summary column: ``accuracy`` -> ``accuracy_mean``; costs as is.
    ``flag`` names the option it came from (for the error)."""
    if name in metrics.COST_BY_NAME:
        return name
    metric = name.removesuffix("_mean")
    if metric in metrics.BY_NAME:
        if metrics.get(metric).task != task and task != "mixed":
            raise FrontierError(f"{option(flag)}: '{metric}' is a {metrics.get(metric).task} metric; "
                                f"these runs are {task}")
        return f"{metric}_mean"
    known = [*metrics.names(task if task != "mixed" else "classification"), *metrics.COST_BY_NAME]
    raise FrontierError(f"{option(flag)}: unknown column '{name[:40]}'; choose one of: {', '.join(known)}")


def pareto_runs(sel: Selection, axes: Axes, group: str) -> pd.DataFrame:
    """The frame :func:`engine.charts.pareto.pareto_info` reads, for the runs of one group."""
    runs = sel.runs[sel.runs["group"] == group].copy()
    runs["params"] = [_short_params(p) for p in runs.get("params", pd.Series([None] * len(runs)))]
    if "lineage" not in runs:
        runs["lineage"] = "uploaded"
    runs["lineage"] = runs["lineage"].fillna("uploaded").astype(str)
    return runs


def _short_params(params: Any, most: int = 6) -> str:
    if not isinstance(params, Mapping):
        return ""
    items = [f"{k}={v}" for k, v in params.items() if k != "estimator"][:most]
    head = str(params.get("estimator", ""))
    return (head + (": " if head and items else "") + ", ".join(items))[:300]


def compare(ws: Workspace, run_ids: Sequence[str], *, baseline: str | None = None, axes: Axes | None = None,
            batch_size: int | None = None, metric: str | None = None, rope: float | None = None,
            margin: float | None = None, budgets: Mapping[str, float] | None = None,
            cost: str = DEFAULT_COST, tests: Sequence[str] = TESTS, pairwise_metrics: Sequence[str] | None = None,
            index: pd.DataFrame | None = None, reader=None, all_metrics_pairwise: bool = True) -> Comparison:
    """Build the comparison of ``run_ids`` (validated; a bad id raises one FrontierError).

    ``all_metrics_pairwise=False`` runs the corrected t-test on the decision metric only (what the
    page and the report show; the CLI's JSON has every registry metric)."""
    from engine.charts.pareto import pareto_info

    sel = select(ws, run_ids, batch_size=batch_size, index=index, reader=reader)
    task = sel.task
    if baseline is not None:
        from engine.compare.selection import parse_run_ids

        baseline = parse_run_ids([baseline])[0]
        if baseline not in sel.labels:
            raise FrontierError(f"{option('baseline', baseline)} is not one of the compared runs; "
                                f"add it to {option('run')}")
    axes = axes or Axes()
    y = axis_column(axes.y or metrics.primary(task if task != "mixed" else "classification").name, task, "y")
    axes = Axes(axis_column(axes.x, task, "x"), y, axis_column(axes.color, task, "color") if axes.color else None)
    if metric is not None:
        metric = axis_column(metric, task, "metric").removesuffix("_mean")
        if metric not in metrics.BY_NAME:
            raise FrontierError(f"{option('metric', metric)} is a cost, not a metric")
    for name in budgets or {}:
        if name not in metrics.COST_BY_NAME:
            raise FrontierError(f"{option('budget')}: unknown cost '{name[:40]}'; choose one of: "
                                f"{', '.join(metrics.COST_BY_NAME)}")
    if cost not in metrics.COST_BY_NAME:
        raise FrontierError(f"{option('cost')}: unknown cost '{cost[:40]}'; choose one of: "
                            f"{', '.join(metrics.COST_BY_NAME)}")
    table = compare_table_info(sel, baseline=baseline)
    group = sel.group_of(baseline) if baseline else next(iter(sel.groups))
    pareto = pareto_info(pareto_runs(sel, axes, group), x=axes.x, y=axes.y, color=axes.color)
    if not all_metrics_pairwise and pairwise_metrics is None:
        pairwise_metrics = [metric or metrics.primary(task if task != "mixed" else "classification").name]
    pw = pairwise(sel, metric_names=pairwise_metrics, bayes_metric=metric, rope=rope, tests=tests)
    v = verdict(sel, metric=metric, margin=margin, budgets=budgets, cost=cost, baseline=baseline)
    warnings = [*sel.warnings, *table.notes, *environment_warnings(sel)]
    if len(sel.groups) > 1:
        warnings.append(f"the Pareto front and the verdict use the runs on {sel.group_names[group]} only")
    if task == "mixed":
        warnings.append("the selection mixes classification and regression runs: each is ranked on its own metrics")
    for key, words in CAUTIONS.items():
        flagged = [sel.labels[r] for r, v_ in zip(sel.run_ids, sel.runs.get(key, pd.Series(dtype=object)), strict=False)
                   if v_ is True or v_ is np.True_]
        if flagged:
            warnings.append(f"{words}: {', '.join(flagged)}")
    return Comparison(sel, table, pareto, pw, v, param_diff(sel), axes, warnings)


def to_json(c: Comparison) -> dict[str, Any]:
    """The ``compare --json`` document (contract in docs/DESIGN.md)."""
    runs = [_clean(r) for r in c.selection.runs.drop(columns=["group"]).to_dict("records")]
    front = c.pareto[c.pareto["on_front"]].sort_values("front_rank") if not c.pareto.empty else c.pareto
    pairs = c.pairwise.drop(columns=["detail"], errors="ignore")
    return {
        "runs": runs,
        "pareto": {"x": c.axes.x, "y": c.axes.y, "color": c.axes.color,
                   "run_ids": front["run_id"].tolist() if not front.empty else []},
        "pairwise": [_clean(r) for r in pairs.to_dict("records")],
        "verdict": {"run_id": c.verdict.pick, "text": c.verdict.text, "metric": c.verdict.metric,
                    "margin": c.verdict.margin, "cost": c.verdict.cost, "beaten": list(c.verdict.beaten),
                    "tied": list(c.verdict.tied), "excluded": dict(c.verdict.excluded)},
        "warnings": c.warnings,
    }


def _clean(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if hasattr(v, "item") and not isinstance(v, list | dict):
            v = v.item()
        if v is pd.NA or v is pd.NaT or (isinstance(v, float) and not np.isfinite(v)):
            v = None
        out[k] = v
    return out


def overview(runs: pd.DataFrame, axes: Axes, *, task: str | None = None) -> pd.DataFrame:
    """The Pareto record of many runs straight from the run index (no per-run reads): the runs of
    the largest comparison group among ``runs`` (one task), labelled like a selection."""
    from engine.charts.pareto import pareto_info
    from engine.charts.tables import unique_labels
    from engine.compare.selection import group_key

    if runs.empty:
        return pareto_info(runs.assign(run_id=[], label=[]), x=axes.x, y=axes.y or "accuracy_mean")
    if task is None:
        task = str(runs["task"].mode().iloc[0]) if "task" in runs else "classification"
    runs = runs[runs["task"] == task] if "task" in runs else runs
    keys = pd.Series([group_key(r) for r in runs[[c for c in ("folds_id", "dataset_id", "n_folds", "seed")
                                                  if c in runs]].to_dict("records")], index=runs.index)
    group = keys.value_counts().index[0]
    part = runs[keys == group].copy()
    part["label"] = unique_labels(part["model"].astype(str).tolist(), part["run_id"].tolist())
    if "lineage" not in part:
        part["lineage"] = "uploaded"
    part["lineage"] = part["lineage"].fillna("uploaded").astype(str)
    part["params"] = ""
    y = axis_column(axes.y or metrics.primary(task).name, task, "y")
    x = axis_column(axes.x, task, "x")
    color = axis_column(axes.color, task, "color") if axes.color else None
    info = pareto_info(part, x=x, y=y, color=color)
    info.attrs["group_size"], info.attrs["n_runs"] = len(part), len(runs)
    return info
