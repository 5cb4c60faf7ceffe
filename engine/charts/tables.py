"""The results table: one row per run, decision columns first, best values marked.

A run summary has 60-odd fields. :func:`results_table_info` picks what a
decision needs first — model, the primary metric ± std, p50/p95 latency,
throughput, size — then everything else, sorts runs by the primary metric in
its direction, and records which rows hold the best value of each column.
Metric names, labels and directions come from :mod:`engine.metrics`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine import metrics

IDENTITY_COLUMNS = ("model", "dataset", "mode", "format")
SPEED_COLUMNS = ("latency_p50_ms", "latency_p95_ms", "throughput_per_s", "size_bytes")
OTHER_SPEED_COLUMNS = ("latency_p99_ms", "n_parameters", "peak_rss_mb")
TAIL_COLUMNS = ("task", "backend", "provider", "threads", "n_folds", "owner", "created_at", "run_id")
CAUTION = "caution"  # why a run's numbers need care, shown next to the model wherever runs are ranked
CAUTIONS = {
    "rows_seen": "scored on rows it was trained on",
    "latency_skewed": "latency measured on a busy machine",
}
# cost directions come from the registry, like metric directions
LOWER_IS_BETTER_COSTS = frozenset(c.name for c in metrics.COSTS if not c.higher_is_better)
HIGHER_IS_BETTER_COSTS = frozenset(c.name for c in metrics.COSTS if c.higher_is_better)


@dataclass(frozen=True)
class ResultsTable:
    """A results table ready to show.

    ``frame`` holds one row per run (best first), numeric columns as numbers;
    ``decision_columns`` are shown first, ``other_columns`` behind a chooser;
    ``best`` maps a column to the row positions holding its best value;
    ``higher_is_better`` gives the direction of every rankable column.
    """

    frame: pd.DataFrame
    primary: tuple[str, ...]
    decision_columns: tuple[str, ...]
    other_columns: tuple[str, ...]
    best: Mapping[str, tuple[int, ...]]
    higher_is_better: Mapping[str, bool]


def _present(runs: pd.DataFrame, column: str) -> bool:
    return column in runs.columns and runs[column].notna().any()


def _metric_columns(runs: pd.DataFrame, names: Iterable[str]) -> list[str]:
    cols: list[str] = []
    for name in names:
        mean, std = f"{name}_mean", f"{name}_std"
        if _present(runs, mean):
            cols += [mean, std] if std in runs.columns else [mean]
    return cols


def results_table_info(runs: pd.DataFrame | None) -> ResultsTable:
    """Shape stored run summaries into a :class:`ResultsTable`."""
    if runs is None or runs.empty:
        empty = pd.DataFrame(columns=["model", "run_id"])
        return ResultsTable(empty, (), ("model",), (), {}, {})
    tasks = [t for t in ("classification", "regression")
             if "task" in runs.columns and (runs["task"] == t).any()] or ["classification"]
    primary = tuple(metrics.primary(t).name for t in tasks if _present(runs, f"{metrics.primary(t).name}_mean"))
    runs = runs.assign(**{CAUTION: cautions(runs)})
    flagged = runs[CAUTION].astype(bool).any()
    decision = ["model", *([CAUTION] if flagged else []), *_metric_columns(runs, primary),
                *(c for c in SPEED_COLUMNS if _present(runs, c))]
    all_metrics = [m.name for t in tasks for m in metrics.for_task(t) if m.name not in primary]
    others = [c for c in IDENTITY_COLUMNS[1:] if c in runs.columns]
    others += _metric_columns(runs, all_metrics)
    others += [c for c in (*OTHER_SPEED_COLUMNS, *TAIL_COLUMNS) if c in runs.columns and c not in decision]
    table = runs[[c for c in decision + others if c in runs.columns]].copy()
    numeric = [c for c in table.columns if c.endswith(("_mean", "_std")) or c in LOWER_IS_BETTER_COSTS
               or c in HIGHER_IS_BETTER_COSTS]
    for c in numeric:
        table[c] = pd.to_numeric(table[c], errors="coerce")
    table = _sort(table, primary)
    directions = {f"{m.name}_mean": m.higher_is_better for m in metrics.REGISTRY if f"{m.name}_mean" in table}
    directions |= {c: False for c in LOWER_IS_BETTER_COSTS if c in table}
    directions |= {c: True for c in HIGHER_IS_BETTER_COSTS if c in table}
    best = {c: _best_rows(table, c, higher) for c, higher in directions.items()}
    return ResultsTable(table, primary, tuple(decision), tuple(others), {c: r for c, r in best.items() if r},
                        directions)


def cautions(runs: pd.DataFrame) -> list[str]:
    """Per run, why its numbers need care ("" when none): rows it was trained on, a busy machine."""
    return [_caution(run) for run in runs.to_dict("records")]


def _caution(run: dict) -> str:
    notes = [CAUTIONS["rows_seen"]] if _is_true(run.get("rows_seen")) else []
    if _is_true(run.get("latency_skewed")):
        reason = run.get("latency_skew_reason")
        notes.append(CAUTIONS["latency_skewed"] + (f" ({reason})" if isinstance(reason, str) and reason else ""))
    return "; ".join(notes)


def _is_true(value: object) -> bool:
    """True only for a real true flag (not NaN, None or a missing column)."""
    return isinstance(value, bool | np.bool_) and bool(value)


def _sort(table: pd.DataFrame, primary: tuple[str, ...]) -> pd.DataFrame:
    """Best first by each task's primary metric (its direction), runs without it last."""
    if not primary:
        return table.reset_index(drop=True)
    keys = []
    for name in primary:
        values = table[f"{name}_mean"].to_numpy(dtype=float)
        keys.append(np.where(np.isnan(values), np.inf, -values if metrics.get(name).higher_is_better else values))
    order = np.lexsort(keys[::-1])
    if "task" in table.columns and len(primary) > 1:  # mixed tasks: group by task, then rank
        task_rank = table["task"].map({"classification": 0, "regression": 1}).fillna(2).to_numpy()
        order = np.lexsort([*keys[::-1], task_rank])
    return table.iloc[order].reset_index(drop=True)


def _best_rows(table: pd.DataFrame, column: str, higher: bool) -> tuple[int, ...]:
    values = table[column].to_numpy(dtype=float)
    if np.isnan(values).all() or (~np.isnan(values)).sum() < 2:
        return ()
    target = np.nanmax(values) if higher else np.nanmin(values)
    return tuple(int(i) for i in np.flatnonzero(values == target))


def results_table(runs: pd.DataFrame | None) -> pd.DataFrame:
    """The table's frame alone: decision columns, then the rest (see :func:`results_table_info`)."""
    return results_table_info(runs).frame


def unique_labels(names: Iterable[str], run_ids: Iterable[str]) -> list[str]:
    """Legend labels for runs: the model name, with the run id appended where names repeat.

    Crafted names (two runs sharing an id prefix, a model named like another run's
    decorated label) still get distinct labels: a label already taken gets the full id,
    then a counter.
    """
    names, run_ids = list(names), list(run_ids)
    seen = pd.Series(names).duplicated(keep=False).tolist()
    out: list[str] = []
    taken: set[str] = set()
    for n, r, dup in zip(names, run_ids, seen, strict=True):
        label = f"{n} ({r[:6]})" if dup else n
        if label in taken:
            label = f"{n} ({r})"
        k = 2
        while label in taken:
            label, k = f"{n} ({r}) #{k}", k + 1
        taken.add(label)
        out.append(label)
    return out
