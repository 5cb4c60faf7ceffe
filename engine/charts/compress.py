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
from engine.charts.style import color, empty_figure, layout, log_axis, plain, titled
from engine.errors import printable

VARIANT_COLUMNS = ["label", "role", "method", "backend", "flavour", "format", "artifact_id", "run_id", "size_bytes",
                   "size_ratio", "latency_p50_ms", "speedup", "accuracy_mean", "accuracy_delta", "delta_low",
                   "delta_high", "flip_rate", "ece_delta", "gate_passed", "gate_basis", "rows_seen", "latency_skewed",
                   "heldout_delta", "runs_on", "build_seconds", "lineage", "path"]
NUMERIC_COLUMNS = ["size_bytes", "size_ratio", "latency_p50_ms", "speedup", "accuracy_mean", "accuracy_delta",
                   "delta_low", "delta_high", "flip_rate", "ece_delta", "heldout_delta", "build_seconds"]
ORIGINAL_SYMBOL = "star"


def _label(v: dict[str, Any]) -> str:
    how = v.get("flavour") or (v.get("backend") if v.get("backend") == "torch" else "")
    return f"{v['method']} ({how})" if how else str(v["method"])


def _runs_on(entry: dict[str, Any]) -> str:
    """The runtime and provider a run recorded (``onnxruntime · CPUExecutionProvider``, ``torch · cpu``)."""
    where = entry.get("provider") or entry.get("device")
    return " · ".join(str(x) for x in (entry.get("runtime"), where) if x)


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
                     "ece_delta": 0.0, "gate_passed": True, "rows_seen": o.get("rows_seen"), "lineage": "",
                     "latency_skewed": o.get("latency_skewed"), "runs_on": _runs_on(o)})
    for v in result.get("variants") or []:
        ci = v.get("accuracy_delta_ci") or [None, None]
        d = v.get("details") or {}
        held = v.get("heldout_delta")
        if held is None and v.get("trained_on_fold1") and d.get("heldout_accuracy") is not None \
                and d.get("original_heldout_accuracy") is not None:
            held = 100 * (d["heldout_accuracy"] - d["original_heldout_accuracy"])
        build = [x for x in (v.get("export_seconds"), v.get("convert_seconds")) if x is not None]
        rows.append({**{k: v.get(k) for k in VARIANT_COLUMNS if k in v}, "label": _label(v), "role": "variant",
                     "delta_low": ci[0], "delta_high": ci[1], "heldout_delta": held, "runs_on": _runs_on(v),
                     "build_seconds": sum(build) if build else None})
    frame = pd.DataFrame(rows, columns=VARIANT_COLUMNS)
    for col in NUMERIC_COLUMNS:  # None -> NaN: blank in tables, skipped by charts
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    frame.attrs = {"gate": result.get("gate"), "dataset": result.get("dataset"), "n_folds": result.get("n_folds"),
                   "distillation": result.get("distillation")}
    return frame


def pareto_info(variants: pd.DataFrame, *, x: str = "latency_p50_ms", y: str = "accuracy_mean",
                color: str | None = "size_bytes") -> pd.DataFrame:
    """The models on ``x`` and ``y`` (colour a third objective) with the Pareto front (see
    :func:`engine.charts.pareto.pareto_info`); ``attrs["original"]`` is the original's run id.

    A variant trained on fold 1's training part has a cross-validated accuracy that includes rows it trained
    on: it is placed at the original's accuracy plus its held-out Δ (fold 1's unseen rows) instead, and its
    hover says so; one without a held-out Δ is left off the chart (counted in ``n_dropped``)."""
    variants = variants.copy()
    if y == "accuracy_mean" and "heldout_delta" in variants.columns:
        original = variants.loc[variants["role"] == "original", "accuracy_mean"]
        base = float(original.iloc[0]) if len(original) else float("nan")
        trained = variants["heldout_delta"].notna()
        variants.loc[trained, "accuracy_mean"] = base + variants.loc[trained, "heldout_delta"] / 100
        variants["lineage"] = variants["lineage"].astype(object)
        variants.loc[trained, "lineage"] = ("accuracy: the original's plus its held-out Δ (it trained on rows "
                                            "of the other folds)")
    info = pareto.pareto_info(variants, x=x, y=y, color=color)
    original = variants.loc[variants["role"] == "original", "run_id"]
    info.attrs["original"] = str(original.iloc[0]) if len(original) else None
    return info


def pareto_figure(info: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """:func:`engine.charts.pareto.pareto_figure`, with the original drawn as a large star."""
    fig = pareto.pareto_figure(info, title=title)
    if title is None:  # the page titles it; the generic title would sit on the three-row legend
        fig.update_layout(title=None)
    if not info.empty:  # each model named beside its point (colour is size; the legend says front or not)
        fig.add_trace(go.Scatter(x=info["x"], y=info["y"], mode="text", text=[plain(v) for v in info["label"]],
                                 textposition="top center", textfont={"size": 10, "color": "#334155"},
                                 showlegend=False, hoverinfo="skip"))
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


SWEEP_COLUMNS = ["model", "precision", "runs_on", "batch_size", "p50_ms", "p95_ms", "throughput_per_s",
                 "accuracy_mean", "skewed", "run_id"]


def pruning_alone_lines(result: dict[str, Any] | None) -> list[str]:
    """One sentence per pruned variant on what pruning itself did to latency (``details.pruning_alone``: the
    unpruned onnx2torch rebuild against the pruned model), for the CLI and the page alike."""
    out = []
    for v in (result or {}).get("variants", []):
        alone = (v.get("details") or {}).get("pruning_alone") or {}
        if "rebuild_p50_ms" not in alone:
            continue
        speedup = f"{alone['speedup']:.2f}x" if alone.get("speedup") else "no speedup figure"
        busy = ", measured while the machine was busy" if alone.get("skewed") else ""
        out.append(f"pruning alone ({printable(str(v.get('flavour', '')))}): the unpruned rebuild "
                   f"{alone['rebuild_p50_ms']:.4f} ms, pruned {alone['pruned_p50_ms']:.4f} ms, {speedup} "
                   f"(eager torch, batch 1{busy}); the speedup against the original also holds the rebuild's own")
    return out


def sweep_info(result: dict[str, Any] | None) -> pd.DataFrame:
    """Batch size x precision x provider of a compress result: one row per model and measured batch size,
    with the model's accuracy and the runtime and provider its run recorded (``runs_on``)."""
    rows = []
    for r in (result or {}).get("sweep") or []:
        model = "original" if r.get("method") == "original" else \
            (f"{r['method']} ({r['how']})" if r.get("how") else str(r.get("method")))
        runs_on = _runs_on(r)
        rows.append({"model": model, "precision": r.get("precision"), "runs_on": runs_on,
                     "batch_size": r.get("batch_size"), "p50_ms": r.get("p50_ms"), "p95_ms": r.get("p95_ms"),
                     "throughput_per_s": r.get("throughput_per_s"), "accuracy_mean": r.get("accuracy_mean"),
                     "skewed": bool(r.get("skewed")), "run_id": r.get("run_id")})
    frame = pd.DataFrame(rows, columns=SWEEP_COLUMNS)
    for col in ("batch_size", "p50_ms", "p95_ms", "throughput_per_s", "accuracy_mean"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame


def sweep_figure(info: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Throughput against batch size, one line per model (log axes); hover: p50, precision, runtime,
    provider, accuracy. A point measured on a busy machine is hollow."""
    if info is None or info.empty:
        return empty_figure("no latency was measured", title=title)
    fig = go.Figure()
    for i, (model, part) in enumerate(info.groupby("model", sort=False)):
        part = part.sort_values("batch_size")
        acc = part["accuracy_mean"].iloc[0]
        name = f"{model} · {part['precision'].iloc[0]}" + ("" if pd.isna(acc) else f" · acc {acc:.4f}")
        hover = [f"<b>{plain(model)}</b><br>batch {int(r.batch_size)}: {r.throughput_per_s:,.0f} rows/s, "
                 f"p50 {r.p50_ms:.4f} ms<br>{plain(r.precision or '')} on {plain(r.runs_on)}"
                 + ("<br>⚠ latency measured on a busy machine" if r.skewed else "") for r in part.itertuples()]
        fig.add_trace(go.Scatter(
            x=part["batch_size"], y=part["throughput_per_s"], mode="lines+markers", name=plain(name),
            line={"color": "#0f172a", "width": 2, "dash": "dash"} if model == "original" else
            {"color": color(i), "width": 2},
            marker={"symbol": ["circle-open" if s else "circle" for s in part["skewed"]], "size": 9},
            text=hover, hovertemplate="%{text}<extra></extra>"))
    xs = info["batch_size"].dropna()
    ys = info["throughput_per_s"].dropna()
    fig.update_layout(**layout(), title=titled(title))
    sizes = sorted({int(b) for b in xs})
    fig.update_xaxes(title="batch size", tickvals=sizes, ticktext=[str(b) for b in sizes],
                     **({"type": "log"} if sizes and sizes[0] > 0 and len(sizes) > 1 else {}))
    if len(ys) and ys.min() > 0:
        fig.update_yaxes(title="throughput (rows/s) — higher is better", **log_axis(float(ys.min()), float(ys.max())))
    return fig
