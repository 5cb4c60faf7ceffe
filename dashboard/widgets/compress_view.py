"""A finished compress job: the variants table, the Pareto chart, downloads and the link to Compare."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import nav
from dashboard.text import md
from engine import models
from engine.charts import compress as charts
from engine.workspace import Workspace

KEY = "compress:view:"
DOWNLOAD_CAP = 200 * 1024**2  # larger variants are not offered in the browser (the path is shown instead)


def table_frame(variants: pd.DataFrame) -> pd.DataFrame:
    """The table as shown: one row per model, numbers as numbers (the column settings format them)."""

    def interval(row: Any) -> str:
        if pd.isna(row.delta_low) or pd.isna(row.delta_high):
            return ""
        return f"{row.delta_low:+.2f} … {row.delta_high:+.2f}"

    notes = []
    for row in variants.itertuples():
        n = []
        if row.latency_skewed:
            n.append("latency measured on a busy machine")
        if row.role == "variant" and not pd.isna(row.heldout_delta):
            n.append("trained on fold 1's training rows")
        notes.append("; ".join(n))
    return pd.DataFrame({
        "Model": variants["label"],
        "Smaller": variants["size_ratio"],
        "Speedup": variants["speedup"],
        "p50 (ms)": variants["latency_p50_ms"],
        "Accuracy": variants["accuracy_mean"],
        "Δ points": variants["accuracy_delta"],
        "95% interval": [interval(r) for r in variants.itertuples()],
        "Held-out Δ": ["" if pd.isna(v) else f"{v:+.2f}" for v in variants["heldout_delta"]],
        "Flips": variants["flip_rate"],
        "ECE Δ": variants["ece_delta"],
        "Gate": ["—" if r.role == "original" else ("pass" if r.gate_passed else "fail")
                 + (" (held-out)" if r.gate_basis == "held-out" else "") for r in variants.itertuples()],
        "Size (bytes)": variants["size_bytes"],
        "Format": variants["format"],
        "Runs on": variants["runs_on"],
        "Build (s)": variants["build_seconds"],
        "Notes": notes,
    })


COLUMNS = {
    "Smaller": st.column_config.NumberColumn(format="%.2fx", help="original bytes / variant bytes"),
    "Speedup": st.column_config.NumberColumn(format="%.2fx", help="original p50 / variant p50, batch 1"),
    "p50 (ms)": st.column_config.NumberColumn(format="%.4f"),
    "Accuracy": st.column_config.NumberColumn(format="%.4f", help="mean over the folds"),
    "Δ points": st.column_config.NumberColumn(format="%+.2f", help="variant minus original accuracy, in points"),
    "95% interval": st.column_config.TextColumn(help="t-interval of the paired per-fold differences (folds "
                                                     "share training rows: read it as the fold spread)"),
    "Held-out Δ": st.column_config.TextColumn(
        help="for variants trained on fold 1's training part: accuracy Δ on fold 1's test part, "
                             "rows neither the variant nor its training saw"),
    "Flips": st.column_config.NumberColumn(format="percent", help="share of rows whose predicted class changed"),
    "ECE Δ": st.column_config.NumberColumn(format="%+.4f", help="change in expected calibration error"),
    "Size (bytes)": st.column_config.NumberColumn(format="localized"),
    "Runs on": st.column_config.TextColumn(help="the runtime and execution provider the variant's run recorded"),
    "Build (s)": st.column_config.NumberColumn(format="%.2f", help="export and conversion (or training) seconds, "
                                                                  "kept apart from latency"),
}


def show(ws: Workspace, result: dict[str, Any], *, key: str) -> None:
    """Everything a finished compress job made."""
    variants = charts.variants_info(result)
    summary = charts.gate_summary(variants)
    gate = result.get("gate")
    line = (f"{summary['n_variants']} variant(s) of {md(str(result.get('original', {}).get('name', '')))} on "
            f"{md(str(result.get('dataset', '')))} ({result.get('n_folds')} folds); "
            f"{summary['n_passing']} within the {gate:g}-point gate")
    if summary["fastest_passing"]:
        line += f"; the fastest of those: **{md(summary['fastest_passing'])}**"
    if (variants["gate_basis"] == "held-out").any():
        line += " (variants trained on fold 1's rows are gated on its held-out rows)"
    st.markdown(line + ".")
    if variants["latency_skewed"].fillna(False).astype(bool).any():
        st.warning("Some latencies were measured while the machine was busy (see Notes): their speedups are not "
                   "clean measurements.", icon=":material/warning:")
    st.dataframe(table_frame(variants), hide_index=True, column_config=COLUMNS, key=key + "table")
    if (variants["role"] == "original").any() and variants["rows_seen"].fillna(False).astype(bool).any():
        st.caption("⚠ Some models were scored on rows they were trained on (the original's training rows, or "
                   "fold 1's for fine-tuned and distilled variants): their accuracy is optimistic.")
    d = variants.attrs.get("distillation")
    if d:
        test = (f" {d['heldout_only_student']} row(s) only the student got right and {d['heldout_only_twin']} "
                f"only the twin (McNemar exact p = {d['heldout_mcnemar_p']:.3g})." if "heldout_mcnemar_p" in d else "")
        st.info(f"Distillation: the student scored {d['student_heldout_accuracy']:.2%} on fold 1's "
                f"{d['heldout_rows']} held-out rows, its twin trained without the teacher "
                f"{d['twin_heldout_accuracy']:.2%} ({d['heldout_difference_points']:+.2f} points; the teacher "
                f"{d['teacher_heldout_accuracy']:.2%}).{test}", icon=":material/school:")
    for line in charts.pruning_alone_lines(result):
        st.caption(md(line[0].upper() + line[1:]) + ".")
    info = charts.pareto_info(variants)
    st.markdown("**Accuracy against latency** (p50 at batch 1; colour: size on disk)")
    st.plotly_chart(charts.pareto_figure(info), key=key + "pareto")
    front = charts.front_labels(info)
    if front:
        st.caption("On the front: " + md(", ".join(front)) + ". The star is the original.")
    sweep = charts.sweep_info(result)
    if not sweep.empty:
        with st.expander("Batch size × precision sweep", icon=":material/stacked_line_chart:"):
            st.plotly_chart(charts.sweep_figure(sweep), key=key + "sweep")
            st.dataframe(sweep.drop(columns=["run_id"]), hide_index=True, key=key + "sweep_table",
                         column_config={"p50_ms": st.column_config.NumberColumn("p50 (ms)", format="%.4f"),
                                        "p95_ms": st.column_config.NumberColumn("p95 (ms)", format="%.4f"),
                                        "throughput_per_s": st.column_config.NumberColumn("rows/s", format="%.0f"),
                                        "accuracy_mean": st.column_config.NumberColumn("accuracy", format="%.4f")})
    _acceleration(result.get("acceleration"), key=key)
    for s in result.get("skipped", []):
        st.caption(f"Skipped {md(_which(s))}: {md(s['reason'])}")
    for e in result.get("errors", []):
        st.warning(f"{md(_which(e))} failed: {md(e['error'])}", icon=":material/error:")
    _downloads(ws, variants, key=key)
    runs = [r for r in variants["run_id"].tolist() if r]
    if len(runs) > 1:
        st.page_link(nav.compare_page(), label=f"Compare the {len(runs)} runs", icon=":material/compare_arrows:",
                     query_params={"runs": ",".join(runs[:50]), "baseline": runs[0]})


def _acceleration(acc: dict[str, Any] | None, *, key: str) -> None:
    """The runtime settings timed by ``accelerate``: build seconds apart from latency, the fastest clean one."""
    if not acc:
        return
    with st.expander("Runtime settings (accelerate)", icon=":material/bolt:", expanded=True):
        rows = acc.get("settings") or []
        if rows:
            frame = pd.DataFrame([{"Setting": r["setting"], "p50 (ms)": r["p50_ms"], "Speedup": r.get("speedup"),
                                   "Build (s)": r["build_seconds"], "Max |Δp|": r.get("max_abs_diff"),
                                   "Busy machine": bool(r["skewed"])} for r in rows])
            st.dataframe(frame, hide_index=True, key=key + "accelerate",
                         column_config={"p50 (ms)": st.column_config.NumberColumn(format="%.4f"),
                                        "Speedup": st.column_config.NumberColumn(format="%.2fx"),
                                        "Build (s)": st.column_config.NumberColumn(format="%.3f"),
                                        "Max |Δp|": st.column_config.NumberColumn(format="%.1e")})
        if rows and all(r["skewed"] for r in rows):
            st.warning("Every setting was timed while the machine was busy: these latencies are not clean "
                       "measurements; run it again on a quiet machine before choosing.", icon=":material/warning:")
        if acc.get("best"):
            st.caption(f"Fastest at batch 1 with the same answers and clean timing: **{md(acc['best'])}** "
                       "(speedup against the original's p50 at batch 1).")
        for why in acc.get("skipped", []):
            st.caption(md(why))
        for e in acc.get("errors", []):
            st.warning(f"{md(e['setting'])}: {md(e['error'])}", icon=":material/error:")


def _which(entry: dict[str, Any]) -> str:
    return f"{entry['method']} ({entry.get('flavour') or entry.get('backend')})"


def _downloads(ws: Workspace, variants: pd.DataFrame, *, key: str) -> None:
    rows = variants[variants["role"] == "variant"]
    if rows.empty:
        return
    st.markdown("**Download a variant**")
    cols = st.columns(min(len(rows), 4))
    for i, row in enumerate(rows.itertuples()):
        col = cols[i % len(cols)]
        try:
            info = models.get(ws, str(row.artifact_id))
        except Exception:  # deleted since: nothing to offer
            col.caption(f"{md(row.label)}: no longer registered")
            continue
        if not info.size_bytes or info.size_bytes > DOWNLOAD_CAP:
            col.caption(f"{md(row.label)}: too large to download here ({info.size_bytes or 0:,} bytes)")
            continue
        path = info.path(ws)
        col.download_button(row.label, data=path.read_bytes, file_name=f"{info.id}{path.suffix}", icon=":material/download:",
                            key=f"{key}download:{info.id}", on_click="ignore")
