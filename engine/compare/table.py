"""The comparison table: every metric as mean ± std with a confidence interval, costs, and
each run's difference from a baseline.

Intervals: a metric's interval is a percentile bootstrap of its mean over
folds; a difference from the baseline is the interval of the corrected
resampled t-test (the same test the pairwise table reports), so an interval
that excludes 0 and a significant p-value agree. Best values are marked per
comparison group only: runs scored on other rows are never ranked together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine import metrics
from engine.charts.tables import cautions
from engine.compare import significance
from engine.compare.selection import Selection

COST_COLUMNS = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "throughput_per_s", "size_bytes",
                "n_parameters")


@dataclass(frozen=True)
class CompareTable:
    """The table as numbers.

    ``frame`` columns: run_id, label, group (dataset names of the run's
    comparison group), caution, then per metric ``<m>``, ``<m>_std``,
    ``<m>_ci_low``, ``<m>_ci_high`` and, with a baseline, ``<m>_diff``,
    ``<m>_diff_low``, ``<m>_diff_high``; then the costs and, with a baseline,
    ``<cost>_ratio`` (run / baseline). ``best`` maps a column to the row
    positions holding the best value within their group.
    """

    frame: pd.DataFrame
    metrics: tuple[str, ...]
    costs: tuple[str, ...]
    baseline: str | None
    best: Mapping[str, tuple[int, ...]]
    higher_is_better: Mapping[str, bool]
    confidence: float
    notes: tuple[str, ...]


def compare_table_info(sel: Selection, *, baseline: str | None = None, metric_names: Sequence[str] | None = None,
                       confidence: float = 0.95) -> CompareTable:
    """The comparison table of ``sel`` (runs in selection order)."""
    task = sel.task if sel.task != "mixed" else "classification"
    names = tuple(metric_names or [m.name for m in metrics.for_task(task)])
    runs = sel.runs
    frame = pd.DataFrame({"run_id": runs["run_id"], "label": runs["label"],
                          "group": runs["group"].map(sel.group_names), "caution": cautions(runs)})
    notes: list[str] = []
    if len(sel.groups) > 1:
        notes.append(f"the runs were scored on {len(sel.groups)} different sets of rows or folds "
                     f"({'; '.join(sel.group_names[g] for g in sel.groups)}): best values and differences "
                     "are computed within each set only")
    kept = []
    for name in names:
        col = f"{name}_mean"
        if col not in runs or runs[col].isna().all():
            continue
        kept.append(name)
        frame[name] = _numbers(runs, col)
        frame[f"{name}_std"] = _numbers(runs, f"{name}_std")
        lows, highs = [], []
        for rid in sel.run_ids:
            scores = sel.fold_scores(rid, name)
            ci = significance.bootstrap_ci(scores, confidence=confidence) if scores is not None else None
            lows.append(np.nan if ci is None else ci[0])
            highs.append(np.nan if ci is None else ci[1])
        frame[f"{name}_ci_low"], frame[f"{name}_ci_high"] = lows, highs
    costs = tuple(c for c in COST_COLUMNS if c in runs and runs[c].notna().any())
    for c in costs:
        frame[c] = _numbers(runs, c)
    if baseline is not None:
        if baseline not in sel.labels:
            baseline = None
            notes.append("the baseline is not among the selected runs")
        else:
            _differences(sel, frame, baseline, kept, costs, confidence, notes)
    directions = {n: metrics.get(n).higher_is_better for n in kept} | {
        c: metrics.cost(c).higher_is_better for c in costs}
    best = {col: _best_in_groups(frame, col, higher) for col, higher in directions.items()}
    return CompareTable(frame, tuple(kept), costs, baseline, best, directions, confidence, tuple(notes))


def _numbers(runs: pd.DataFrame, column: str) -> np.ndarray:
    """A summary column as floats (NaN where missing, all NaN when the column is absent)."""
    if column not in runs:
        return np.full(len(runs), np.nan)
    return pd.to_numeric(runs[column], errors="coerce").to_numpy(dtype=float)


def _differences(sel: Selection, frame: pd.DataFrame, baseline: str, names: Sequence[str],
                 costs: Sequence[str], confidence: float, notes: list[str]) -> None:
    base_group = sel.group_of(baseline)
    others = [r for r in sel.run_ids if sel.group_of(r) != base_group]
    if others:
        notes.append(f"differences from the baseline are shown only for runs on its rows and folds; "
                     f"{len(others)} run(s) were scored on other rows")
    base_pos = sel.run_ids.index(baseline)
    for name in names:
        base = sel.fold_scores(baseline, name)
        diffs, lows, highs = [], [], []
        for rid in sel.run_ids:
            scores = sel.fold_scores(rid, name)
            same = sel.group_of(rid) == base_group
            if not same or scores is None or base is None or len(scores) != len(base):
                diffs.append(np.nan), lows.append(np.nan), highs.append(np.nan)
                continue
            diffs.append(float(np.mean(scores - base)))
            ci = significance.diff_ci(scores, base, test_fraction=sel.test_fraction(rid), confidence=confidence)
            lows.append(np.nan if ci is None else ci[0])
            highs.append(np.nan if ci is None else ci[1])
        frame[f"{name}_diff"], frame[f"{name}_diff_low"], frame[f"{name}_diff_high"] = diffs, lows, highs
    for c in costs:
        base_value = frame[c].iloc[base_pos]
        frame[f"{c}_ratio"] = frame[c] / base_value if base_value and base_value == base_value else np.nan


def _best_in_groups(frame: pd.DataFrame, column: str, higher: bool) -> tuple[int, ...]:
    """Row positions holding the best value of ``column`` within their group (groups of 2+ runs)."""
    out: list[int] = []
    values = frame[column].to_numpy(dtype=float)
    for _, positions in frame.groupby("group", sort=False).indices.items():
        v = values[positions]
        if (~np.isnan(v)).sum() < 2:
            continue
        target = np.nanmax(v) if higher else np.nanmin(v)
        out.extend(int(p) for p in positions[v == target])
    return tuple(sorted(out))
