"""Charts that only a comparison has: differences from a baseline with their intervals, the
difference of two confusion matrices, a pairwise p-value matrix and a critical-difference diagram."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from engine import metrics
from engine.charts.style import GUIDE_LINE, empty_figure, layout, plain, titled

DIFFERENCE_COLUMNS = ["label", "diff", "low", "high", "excludes_zero", "better"]


def difference_info(table, metric: str) -> pd.DataFrame:
    """Each run's mean difference from the baseline on ``metric`` with its interval:
    label, diff, low, high, excludes_zero (the interval misses 0), better (the run is better than
    the baseline by the metric's direction). The baseline itself and runs on other rows are left out.

    ``table`` is an :class:`engine.compare.table.CompareTable` built with a baseline.
    """
    f = table.frame
    if table.baseline is None or f"{metric}_diff" not in f:
        return pd.DataFrame(columns=DIFFERENCE_COLUMNS)
    rows = f[(f["run_id"] != table.baseline) & f[f"{metric}_diff"].notna()]
    higher = metrics.get(metric).higher_is_better
    diff = rows[f"{metric}_diff"].to_numpy(dtype=float)
    low, high = rows[f"{metric}_diff_low"].to_numpy(dtype=float), rows[f"{metric}_diff_high"].to_numpy(dtype=float)
    info = pd.DataFrame({"label": rows["label"].to_numpy(), "diff": diff, "low": low, "high": high})
    info["excludes_zero"] = (low > 0) | (high < 0)
    info["better"] = diff > 0 if higher else diff < 0
    info.attrs |= {"metric": metric, "baseline": f.loc[f["run_id"] == table.baseline, "label"].iloc[0],
                   "confidence": table.confidence}
    return info.reset_index(drop=True)


def difference_figure(info: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """A forest plot: one row per run, its difference and interval, a line at 0."""
    if info.empty:
        return empty_figure("choose a baseline and at least one other run on the same folds", title=title)
    m = metrics.get(info.attrs["metric"])
    scale = 100.0 if m.bounded else 1.0
    unit = " (points)" if m.bounded else ""
    colors = np.where(~info["excludes_zero"], "#64748b", np.where(info["better"], "#059669", "#dc2626"))
    names = [plain(x) for x in info["label"]]
    fig = go.Figure(go.Scatter(
        x=info["diff"] * scale, y=names, mode="markers", marker={"size": 11, "color": colors.tolist()},
        error_x={"type": "data", "symmetric": False, "array": (info["high"] - info["diff"]) * scale,
                 "arrayminus": (info["diff"] - info["low"]) * scale, "thickness": 2, "width": 6},
        hovertemplate="%{y}<br>difference %{x:.3g}" + unit + "<extra></extra>", showlegend=False))
    fig.add_vline(x=0, line=GUIDE_LINE)
    conf = round(info.attrs.get("confidence", 0.95) * 100)
    fig.update_layout(**layout(), height=max(260, 60 + 36 * len(info)),
                      title=titled(title or f"{m.label}: difference from {plain(info.attrs['baseline'])} "
                                            f"with {conf}% interval (corrected t, unadjusted); "
                                            f"{m.better_word}"))
    fig.update_xaxes(title=f"{m.label} difference{unit}", zeroline=False)
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


def confusion_difference_info(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Cell-wise ``b - a`` of two :func:`confusion_matrix_info` records of the same classes:
    true, predicted, count_diff, fraction_diff."""
    if a.empty or b.empty or list(a["true"]) != list(b["true"]) or list(a["predicted"]) != list(b["predicted"]):
        return pd.DataFrame(columns=["true", "predicted", "count_diff", "fraction_diff"])
    return pd.DataFrame({"true": a["true"], "predicted": a["predicted"],
                         "count_diff": b["count"].to_numpy() - a["count"].to_numpy(),
                         "fraction_diff": b["fraction"].to_numpy() - a["fraction"].to_numpy()})


def confusion_difference_figure(info: pd.DataFrame, *, a: str, b: str, normalize: bool = False) -> go.Figure:
    """Diverging heatmap of ``b - a``: on the diagonal green means b gets more rows right."""
    title = f"{plain(b)} minus {plain(a)}"
    if info.empty:
        return empty_figure("the two runs have different classes", title=title)
    names = [plain(n) for n in dict.fromkeys(info["true"])]
    n = len(names)
    z = (info["fraction_diff"] if normalize else info["count_diff"]).to_numpy(dtype=float).reshape(n, n)
    # good = more on the diagonal, fewer off it: colour by that, so green always means "b better"
    good = np.where(np.eye(n, dtype=bool), z, -z)
    span = float(np.abs(good).max()) or 1.0
    text = [["" if z[i, j] == 0 else (f"{z[i, j]:+.2f}" if normalize else f"{int(z[i, j]):+d}") for j in range(n)]
            for i in range(n)]
    fig = go.Figure(go.Heatmap(
        z=good, x=names, y=names, text=text, texttemplate="%{text}" if n <= 20 else None,
        colorscale=[[0, "#dc2626"], [0.5, "#f8fafc"], [1, "#059669"]], zmin=-span, zmax=span, customdata=z,
        hovertemplate="true %{y}<br>predicted %{x}<br>change %{customdata:+.3g}<extra></extra>",
        colorbar={"title": f"{plain(b)} better", "thickness": 12}))
    fig.update_layout(**layout(), title=titled(title), height=max(360, min(700, 40 * n + 160)))
    fig.update_xaxes(title="predicted", type="category", constrain="domain")
    fig.update_yaxes(title="true", type="category", autorange="reversed", scaleanchor="x", constrain="domain")
    return fig


def pvalue_matrix_figure(matrix: pd.DataFrame, *, title: str | None = None, alpha: float = 0.05) -> go.Figure:
    """Heatmap of pairwise (adjusted) p-values, cells under ``alpha`` marked."""
    if matrix.empty or matrix.isna().all().all():
        return empty_figure("needs two or more runs on the same folds", title=title)
    names = [plain(x) for x in matrix.index]
    z = matrix.to_numpy(dtype=float)
    text = [["" if np.isnan(v) else (f"{v:.2g}" + (" *" if v < alpha else "")) for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=names, y=names, text=text, texttemplate="%{text}" if len(names) <= 15 else None,
                               colorscale="Blues_r", zmin=0, zmax=1, colorbar={"title": "p", "thickness": 12},
                               hovertemplate="%{y} vs %{x}<br>p = %{z:.3g}<extra></extra>"))
    fig.update_layout(**layout(), title=titled(title or f"pairwise p-values (* below {alpha})"),
                      height=max(320, min(800, 34 * len(names) + 180)))
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


def critical_difference_info(mean_ranks: Mapping[str, float], cd: float | None) -> pd.DataFrame:
    """Mean ranks sorted best first: label, rank; ``attrs['cd']`` the critical difference and
    ``attrs['cliques']`` the groups of labels whose ranks differ by less than it."""
    info = pd.DataFrame({"label": list(mean_ranks), "rank": list(mean_ranks.values())}).sort_values("rank")
    info = info.reset_index(drop=True)
    cliques: list[list[str]] = []
    if cd is not None:
        ranks, labels = info["rank"].to_numpy(), info["label"].tolist()
        for i in range(len(ranks)):
            j = int(np.searchsorted(ranks, ranks[i] + cd, side="left"))
            members = labels[i:j]
            if len(members) > 1 and not any(set(members) <= set(c) for c in cliques):
                cliques.append(members)
    info.attrs |= {"cd": cd, "cliques": cliques}
    return info


def critical_difference_figure(info: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Demšar's diagram: models on a rank axis (1 = best), bars joining those not significantly apart."""
    if info.empty:
        return empty_figure("needs the same models on two or more datasets", title=title)
    cd = info.attrs.get("cd")
    n = len(info)
    fig = go.Figure(go.Scatter(x=info["rank"], y=[0] * n, mode="markers+text", text=[plain(x) for x in info["label"]],
                               textposition=["top center" if i % 2 == 0 else "bottom center" for i in range(n)],
                               marker={"size": 10, "color": "#2563eb"}, showlegend=False,
                               hovertemplate="%{text}<br>mean rank %{x:.2f}<extra></extra>"))
    for k, clique in enumerate(info.attrs.get("cliques", [])):
        ranks = info.set_index("label").loc[clique, "rank"]
        y = -0.35 - 0.15 * k
        fig.add_trace(go.Scatter(x=[ranks.min(), ranks.max()], y=[y, y], mode="lines", showlegend=False,
                                 line={"width": 5, "color": "#0f172a"}, hoverinfo="skip"))
    if cd:
        fig.add_trace(go.Scatter(x=[1, 1 + cd], y=[0.6, 0.6], mode="lines+text", text=["", f"CD = {cd:.2f}"],
                                 textposition="middle right", line={"width": 3, "color": "#dc2626"}, showlegend=False,
                                 hoverinfo="skip"))
    fig.update_layout(**layout(), height=260 + 20 * len(info.attrs.get("cliques", [])),
                      title=titled(title or "mean rank over datasets (1 = best); joined runs are not significantly "
                                            "different (Nemenyi)"))
    fig.update_xaxes(title="mean rank", range=[0.5, max(float(info["rank"].max()), 1 + (cd or 0)) + 0.5])
    fig.update_yaxes(visible=False, range=[-1.2, 1.0])
    return fig
