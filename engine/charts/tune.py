"""Charts of tuning studies: best-so-far of several studies (with a band over repeats), hypervolume
over trials, one study's trial history, and Optuna's own per-study plots on a bounded sample.

Each chart is an ``*_info`` (a record the page, the tests and a report can read) and a
``*_figure`` (Plotly). Studies can hold 10,000 trials: the history keeps every trial that improved
the best and a uniform sample of the rest (WebGL above :data:`WEBGL_ABOVE` points), and Optuna's
plots are drawn from an in-memory copy holding at most :data:`OPTUNA_SAMPLE` trials.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from engine.charts.style import (
    GUIDE_LINE,
    LEGEND_ABOVE_MARGIN,
    color,
    empty_figure,
    layout,
    plain,
    titled,
)
from engine.tune import history

WEBGL_ABOVE = 1000
HISTORY_POINTS = 4000
OPTUNA_SAMPLE = 2000
OPTUNA_PLOTS = {
    "history": "Optimization history",
    "importances": "Parameter importances",
    "parallel": "Parallel coordinates",
    "slice": "Slice",
    "contour": "Contour",
    "pareto": "Pareto front",
    "timeline": "Timeline",
}
AXES = {"order": "trials finished", "elapsed_s": "wall time (s)"}


def objective_label(name: str) -> str:
    from engine import metrics

    return metrics.column_label(name) if metrics.column_higher_is_better(name) is not None else name


# ------------------------------------------------------------------ best so far
@dataclass(frozen=True)
class StudySeries:
    """One study as the comparison sees it."""

    study: str
    group: str
    trials: pd.DataFrame  # history.TrialLog.refresh()


@dataclass(frozen=True)
class BestSoFarInfo:
    """Best-so-far curves of several studies on one objective.

    ``curves``: study, group, order, elapsed_s, best. ``bands``: one per group of two or more
    repeats (median and min-max over them). ``summary``: per study, trials, final best, trials and
    seconds to reach ``target``. ``groups``: per group, repeats, median/min/max/std of the final best,
    median time-to-target and how many repeats reached it."""

    label: str
    maximize: bool
    by: str
    curves: pd.DataFrame
    bands: list[history.Band]
    summary: pd.DataFrame
    groups: pd.DataFrame
    target: float | None = None
    notes: list[str] = field(default_factory=list)


def best_so_far_info(series: Sequence[StudySeries], *, label: str, maximize: bool, by: str = "order",
                     target: float | None = None, objective: int = 0) -> BestSoFarInfo:
    if by not in AXES:
        raise ValueError(f"by must be one of {', '.join(AXES)}")
    curves, rows = [], []
    per_group: dict[str, list[pd.DataFrame]] = {}
    for s in series:
        c = history.best_so_far(s.trials, maximize=maximize, objective=objective)
        curves.append(c.assign(study=s.study, group=s.group))
        per_group.setdefault(s.group, []).append(c)
        ttt = history.time_to_target(c, target, maximize=maximize) if target is not None else (math.nan, math.nan)
        n = history.counts(s.trials)
        rows.append({"study": s.study, "group": s.group, "trials": len(s.trials), **n,
                     "final_best": float(c["best"].iloc[-1]) if len(c) else math.nan,
                     "best_trial": int(c["number"].iloc[-1]) if len(c) and c["number"].iloc[-1] >= 0 else None,
                     "trials_to_target": ttt[0], "seconds_to_target": ttt[1]})
    cols = ["study", "group", "order", "elapsed_s", "best", "number"]
    frame = pd.concat(curves, ignore_index=True)[cols] if curves else pd.DataFrame(columns=cols)
    summary = pd.DataFrame(rows, columns=["study", "group", "trials", "complete", "pruned", "failed", "infeasible",
                                          "final_best", "best_trial", "trials_to_target", "seconds_to_target"])
    bands = [history.band(cs, group=g, by=by) for g, cs in per_group.items() if len(cs) >= 2]
    groups = []
    for g, part in summary.groupby("group", sort=False):
        finals = part["final_best"].to_numpy(dtype=float)
        finite = finals[np.isfinite(finals)]
        reached = part["trials_to_target"].notna()
        groups.append({"group": g, "repeats": len(part),
                       "median_best": float(np.median(finite)) if len(finite) else math.nan,
                       "min_best": float(finite.min()) if len(finite) else math.nan,
                       "max_best": float(finite.max()) if len(finite) else math.nan,
                       "std_best": float(finite.std(ddof=1)) if len(finite) > 1 else math.nan,
                       "reached_target": int(reached.sum()) if target is not None else None,
                       "median_trials_to_target": _median_reached(part["trials_to_target"]),
                       "median_seconds_to_target": _median_reached(part["seconds_to_target"])})
    notes = []
    if by == "elapsed_s":
        notes.append("wall time depends on the machine and on other work running beside each study; "
                     "compare times only between studies run on the same machine, one at a time")
    return BestSoFarInfo(label=label, maximize=maximize, by=by, curves=frame, bands=bands, summary=summary,
                         groups=pd.DataFrame(groups), target=target, notes=notes)


def _median_reached(values: pd.Series) -> float:
    """The median over every repeat, a repeat that never reached the target counting as never (+inf);
    NaN when the median itself is never (half or more never got there)."""
    v = values.to_numpy(dtype=float)
    if not len(v):
        return math.nan
    med = float(np.median(np.where(np.isnan(v), np.inf, v)))
    return med if math.isfinite(med) else math.nan


def best_so_far_figure(info: BestSoFarInfo, *, title: str | None = None) -> go.Figure:
    """A step line per study (thin when it belongs to a band); per group of repeats a shaded min-max
    band and its median; the target as a dashed line."""
    if info.curves.empty or info.curves["best"].notna().sum() == 0:
        return empty_figure("no completed feasible trial", title=title)
    fig = go.Figure()
    banded = {b.group for b in info.bands}
    groups = list(dict.fromkeys(info.curves["group"]))
    for gi, g in enumerate(groups):
        col = color(gi)
        part = info.curves[info.curves["group"] == g]
        for s in dict.fromkeys(part["study"]):
            c = part[part["study"] == s]
            fig.add_trace(go.Scatter(
                x=c[info.by], y=c["best"], mode="lines" if c["best"].notna().sum() > 1 else "lines+markers",
                line={"shape": "hv", "color": col,
                                                               "width": 1 if g in banded else 2},
                opacity=0.45 if g in banded else 1.0, name=plain(s), legendgroup=plain(g),
                showlegend=g not in banded,
                hovertemplate=f"{plain(s)}<br>%{{x:.4g}} {AXES[info.by]}<br>best %{{y:.4g}}<extra></extra>"))
    for gi, g in enumerate(groups):
        b = next((b for b in info.bands if b.group == g), None)
        if b is None:
            continue
        col = color(gi)
        fig.add_trace(go.Scatter(x=b.x, y=b.high, mode="lines", line={"width": 0, "shape": "hv"}, showlegend=False,
                                 hoverinfo="skip", legendgroup=plain(g)))
        fig.add_trace(go.Scatter(x=b.x, y=b.low, mode="lines", line={"width": 0, "shape": "hv"}, fill="tonexty",
                                 fillcolor=_alpha(col, 0.18), name=f"{plain(g)}: min–max of {b.n} repeats",
                                 legendgroup=plain(g), hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=b.x, y=b.median, mode="lines", line={"shape": "hv", "color": col, "width": 3},
                                 name=f"{plain(g)}: median", legendgroup=plain(g),
                                 hovertemplate=f"{plain(g)} median<br>%{{x:.4g}}<br>%{{y:.4g}}<extra></extra>"))
    if info.target is not None and math.isfinite(info.target):
        fig.add_hline(y=info.target, line=GUIDE_LINE, annotation_text=f"target {info.target:g}",
                      annotation_position="bottom right")
    better = "higher is better" if info.maximize else "lower is better"
    fig.update_layout(**layout(margin=LEGEND_ABOVE_MARGIN), title=titled(title),
                      xaxis={"title": AXES[info.by]}, yaxis={"title": f"best {plain(info.label)} so far — {better}"},
                      height=420)
    return fig


def _alpha(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


# ------------------------------------------------------------------ hypervolume
@dataclass(frozen=True)
class HypervolumeInfo:
    """Hypervolume over trials of multi-objective studies against one reference point."""

    labels: list[str]
    maximize: list[bool]
    reference: list[float]  # in the objectives' own units
    curves: pd.DataFrame  # study, group, order, elapsed_s, hypervolume
    final: pd.DataFrame  # study, group, hypervolume


def hypervolume_info(series: Sequence[StudySeries], *, labels: Sequence[str], maximize: Sequence[bool],
                     ) -> HypervolumeInfo:
    ref = history.reference_point([s.trials for s in series], maximize)
    parts, final = [], []
    for s in series:
        h = history.hypervolume_history(s.trials, maximize, ref)
        parts.append(h.assign(study=s.study, group=s.group))
        final.append({"study": s.study, "group": s.group,
                      "hypervolume": float(h["hypervolume"].iloc[-1]) if len(h) else 0.0})
    curves = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["order", "elapsed_s", "hypervolume", "study", "group"])
    sign = np.where(np.asarray(maximize), -1.0, 1.0)
    return HypervolumeInfo(list(labels), list(maximize), [float(v) for v in ref * sign], curves, pd.DataFrame(final))


def hypervolume_figure(info: HypervolumeInfo, *, by: str = "order", title: str | None = None) -> go.Figure:
    if info.curves.empty:
        return empty_figure("no completed feasible trial", title=title)
    fig = go.Figure()
    groups = list(dict.fromkeys(info.curves["group"]))
    for s in dict.fromkeys(info.curves["study"]):
        c = info.curves[info.curves["study"] == s]
        g = c["group"].iloc[0]
        fig.add_trace(go.Scatter(x=c[by], y=c["hypervolume"], mode="lines", name=plain(s),
                                 line={"shape": "hv", "color": color(groups.index(g))}, legendgroup=plain(g),
                                 hovertemplate=f"{plain(s)}<br>%{{x:.4g}}<br>hypervolume %{{y:.4g}}<extra></extra>"))
    ref = ", ".join(f"{plain(lab)} {v:.4g}" for lab, v in zip(info.labels, info.reference, strict=True))
    fig.update_layout(**layout(margin=LEGEND_ABOVE_MARGIN), title=titled(title), height=400,
                      xaxis={"title": AXES[by]}, yaxis={"title": "hypervolume — higher is better"})
    fig.add_annotation(text=f"reference point: {ref}", xref="paper", yref="paper", x=1, y=0, xanchor="right",
                       yanchor="bottom", showarrow=False, font={"size": 11, "color": "#64748b"})
    return fig


# ------------------------------------------------------------------ one study's history
@dataclass(frozen=True)
class HistoryInfo:
    """One study's trials on one objective: shown points (down-sampled) and the best-so-far line."""

    label: str
    maximize: bool
    points: pd.DataFrame  # number, order, value, kind ("feasible", "infeasible")
    best: pd.DataFrame  # order, best
    n_total: int
    n_shown: int
    n_pruned: int
    n_failed: int


def history_info(trials: pd.DataFrame, *, label: str, maximize: bool, objective: int = 0,
                 max_points: int = HISTORY_POINTS, seed: int = 0) -> HistoryInfo:
    col = f"value_{objective}"
    done = trials[trials["state"] == "COMPLETE"]
    values = done[col].to_numpy(dtype=float) if col in done.columns else np.array([])
    pts = pd.DataFrame({"number": done["number"].to_numpy(), "order": done["order"].to_numpy(), "value": values,
                        "kind": np.where(done["feasible"].to_numpy(dtype=bool), "feasible", "infeasible")})
    pts = pts[np.isfinite(pts["value"])]
    curve = history.best_so_far(trials, maximize=maximize, objective=objective)
    if len(pts) > max_points:
        improving = set(curve.loc[curve["number"].diff().fillna(1) != 0, "number"].tolist())
        keep = np.array(pts["number"].isin(improving), dtype=bool)
        rest = np.flatnonzero(~keep)
        rng = np.random.default_rng(seed)
        room = max(max_points - int(keep.sum()), 0)
        keep[rng.choice(rest, size=min(room, len(rest)), replace=False)] = True
        pts = pts[keep]
    n = history.counts(trials)
    return HistoryInfo(label, maximize, pts.reset_index(drop=True), curve[["order", "best"]], len(trials),
                       len(pts), n["pruned"], n["failed"])


def history_figure(info: HistoryInfo, *, title: str | None = None) -> go.Figure:
    if info.points.empty:
        return empty_figure("no completed trial", title=title)
    scatter = go.Scattergl if len(info.points) > WEBGL_ABOVE else go.Scatter
    fig = go.Figure()
    for kind, style in (("feasible", {"color": color(0), "size": 6}),
                        ("infeasible", {"color": "#94a3b8", "size": 7, "symbol": "x"})):
        p = info.points[info.points["kind"] == kind]
        if p.empty:
            continue
        name = "trial" if kind == "feasible" else "infeasible trial (breaks a constraint)"
        fig.add_trace(scatter(x=p["order"], y=p["value"], mode="markers", marker=style, name=name,
                              customdata=p["number"],
                              hovertemplate="trial %{customdata}<br>%{y:.4g}<extra></extra>"))
    fig.add_trace(go.Scatter(x=info.best["order"], y=info.best["best"], mode="lines", name="best so far",
                             line={"shape": "hv", "color": color(1), "width": 2}))
    sampled = f" — {info.n_shown:,} of the completed trials shown (every improvement kept)" \
        if info.n_shown < info.n_total - info.n_pruned - info.n_failed else ""
    better = "higher is better" if info.maximize else "lower is better"
    fig.update_layout(**layout(margin=LEGEND_ABOVE_MARGIN), title=titled(title), height=400,
                      xaxis={"title": f"trials finished{sampled}"},
                      yaxis={"title": f"{plain(info.label)} — {better}"})
    return fig


# ------------------------------------------------------------------ Optuna's plots
def sample_study(study: Any, *, limit: int = OPTUNA_SAMPLE, seed: int = 0) -> tuple[Any, int]:
    """An in-memory copy of ``study`` holding at most ``limit`` finished trials (its best trials
    always among them) and how many trials the original holds; the study itself when it is small."""
    import optuna
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
    if len(trials) <= limit:
        return study, len(trials)
    best = {t.number for t in study.best_trials}
    rest = [t for t in trials if t.number not in best]
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(rest), size=max(limit - len(best), 0), replace=False)
    chosen = sorted([t for t in trials if t.number in best] + [rest[i] for i in picked], key=lambda t: t.number)
    copy = optuna.create_study(directions=study.directions)
    copy.add_trials(chosen)
    return copy, len(trials)


def optuna_figure(study: Any, kind: str, *, labels: Sequence[str], constrained: bool = False) -> go.Figure:
    """One of Optuna's ``optuna.visualization`` plots (``kind`` in :data:`OPTUNA_PLOTS`) of a study
    (pass :func:`sample_study`'s copy for a large one). Multi-objective plots of a single value show
    the first objective; the Pareto front marks infeasible trials when the study is constrained."""
    import warnings

    import optuna.visualization as vis

    from engine.tune.samplers import constraints_func

    if kind not in OPTUNA_PLOTS:
        raise ValueError(f"kind must be one of {', '.join(OPTUNA_PLOTS)}")
    multi = len(study.directions) > 1
    one = {"target": (lambda t: t.values[0]), "target_name": plain(labels[0])} if multi else {
        "target_name": plain(labels[0])}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ExperimentalWarning for timeline and constraints
        if kind == "history":
            fig = vis.plot_optimization_history(study, **one)
        elif kind == "importances":
            fig = vis.plot_param_importances(study, **one)
        elif kind == "parallel":
            fig = vis.plot_parallel_coordinate(study, **one)
        elif kind == "slice":
            fig = vis.plot_slice(study, **one)
        elif kind == "contour":
            fig = vis.plot_contour(study, **one)
        elif kind == "timeline":
            fig = vis.plot_timeline(study)
        else:
            if not multi:
                return empty_figure("a Pareto front needs two or more objectives; this study has one")
            fig = vis.plot_pareto_front(study, target_names=[plain(x) for x in labels],
                                        constraints_func=constraints_func if constrained else None)
    fig.update_layout(template="plotly_white", title=titled(OPTUNA_PLOTS[kind]))
    return fig
