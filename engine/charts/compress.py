"""Charts of a compress result: the variants as a table record, and their Pareto front with the original.

``variants_info`` turns a ``compress`` job's result into one row per model (the
original first) with what the page's table, the chart and a report show;
``pareto_info``/``pareto_figure`` place them on accuracy against latency (and
size as colour) through :mod:`engine.charts.pareto`, with the original marked
by a star.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from engine.charts import pareto
from engine.charts.style import plain

VARIANT_COLUMNS = ["label", "role", "method", "backend", "flavour", "format", "artifact_id", "run_id", "size_bytes",
                   "size_ratio", "latency_p50_ms", "speedup", "accuracy_mean", "accuracy_delta", "delta_low",
                   "delta_high", "flip_rate", "ece_delta", "gate_passed", "rows_seen", "latency_skewed",
                   "heldout_delta", "lineage", "path"]
NUMERIC_COLUMNS = ["size_bytes", "size_ratio", "latency_p50_ms", "speedup", "accuracy_mean", "accuracy_delta",
                   "delta_low", "delta_high", "flip_rate", "ece_delta", "heldout_delta"]
ORIGINAL_SYMBOL = "star"


def _label(v: dict[str, Any]) -> str:
    how = v.get("flavour") or (v.get("backend") if v.get("backend") == "torch" else "")
    return f"{v['method']} ({how})" if how else str(v["method"])


def variants_info(result: dict[str, Any] | None) -> pd.DataFrame:
    """One row per model of a compress result: the original (role ``original``) then each variant.

    ``heldout_delta``: for a variant trained on fold 1's training part (fine-tuned or distilled), its
    accuracy minus the original's on fold 1's test part, in points (rows neither saw in training);
    ``delta_low``/``delta_high``: the accuracy delta's 95 % fold interval. ``attrs``: gate, dataset,
    n_folds, distillation (the student against its twin, or None)."""
    result = result or {}
    o = result.get("original") or {}
    rows = []
    if o:
        rows.append({"label": f"original: {o.get('name', '')}", "role": "original", "method": "original",
                     "backend": "", "flavour": "", "format": o.get("format"), "artifact_id": o.get("artifact_id"),
                     "run_id": o.get("run_id"), "size_bytes": o.get("size_bytes"), "size_ratio": 1.0,
                     "latency_p50_ms": o.get("latency_p50_ms"), "speedup": 1.0,
                     "accuracy_mean": o.get("accuracy_mean"), "accuracy_delta": 0.0, "flip_rate": 0.0,
                     "ece_delta": 0.0, "gate_passed": True, "rows_seen": o.get("rows_seen"), "lineage": ""})
    for v in result.get("variants") or []:
        ci = v.get("accuracy_delta_ci") or [None, None]
        d = v.get("details") or {}
        held = None
        if v.get("trained_on_fold1") and d.get("heldout_accuracy") is not None \
                and d.get("original_heldout_accuracy") is not None:
            held = 100 * (d["heldout_accuracy"] - d["original_heldout_accuracy"])
        rows.append({**{k: v.get(k) for k in VARIANT_COLUMNS if k in v}, "label": _label(v), "role": "variant",
                     "delta_low": ci[0], "delta_high": ci[1], "heldout_delta": held})
    frame = pd.DataFrame(rows, columns=VARIANT_COLUMNS)
    for col in NUMERIC_COLUMNS:  # None -> NaN: blank in tables, skipped by charts
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    frame.attrs = {"gate": result.get("gate"), "dataset": result.get("dataset"), "n_folds": result.get("n_folds"),
                   "distillation": result.get("distillation")}
    return frame


def pareto_info(variants: pd.DataFrame, *, x: str = "latency_p50_ms", y: str = "accuracy_mean",
                color: str | None = "size_bytes") -> pd.DataFrame:
    """The models on ``x`` and ``y`` (colour a third objective) with the Pareto front (see
    :func:`engine.charts.pareto.pareto_info`); ``attrs["original"]`` is the original's run id."""
    info = pareto.pareto_info(variants, x=x, y=y, color=color)
    original = variants.loc[variants["role"] == "original", "run_id"]
    info.attrs["original"] = str(original.iloc[0]) if len(original) else None
    return info


def pareto_figure(info: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """:func:`engine.charts.pareto.pareto_figure`, with the original drawn as a large star."""
    fig = pareto.pareto_figure(info, title=title)
    original = info.attrs.get("original")
    at = info[info["run_id"] == original] if original is not None and not info.empty else info.iloc[0:0]
    if len(at):
        row = at.iloc[0]
        fig.add_trace(go.Scatter(x=[row["x"]], y=[row["y"]], mode="markers", name="the original",
                                 marker={"symbol": ORIGINAL_SYMBOL, "size": 20, "color": "#f59e0b",
                                         "line": {"width": 1.5, "color": "#0f172a"}},
                                 text=[f"<b>{plain(row['label'])}</b><br>the model the variants came from"],
                                 hovertemplate="%{text}<extra></extra>"))
    return fig


def front_labels(info: pd.DataFrame) -> list[str]:
    """The labels on the front, in front order (for a caption or a report)."""
    on = info[info["on_front"]].sort_values("front_rank")
    return [str(v) for v in on["label"].to_numpy(dtype=object)] if len(on) else []


def gate_summary(variants: pd.DataFrame) -> dict[str, Any]:
    """How many variants pass the gate, and the fastest that does (by p50)."""
    v = variants[variants["role"] == "variant"]
    passing = v[v["gate_passed"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
    fastest = None
    if len(passing) and passing["latency_p50_ms"].notna().any():
        i = int(np.nanargmin(pd.to_numeric(passing["latency_p50_ms"], errors="coerce").to_numpy(dtype=float)))
        fastest = passing.iloc[i]["label"]
    return {"n_variants": len(v), "n_passing": len(passing), "fastest_passing": fastest}
