"""Tables: the results table (decision columns first, best values marked) and registry lists.

Column labels, directions and number formats come from :mod:`engine.metrics`
(bounded metrics with 4 decimals, unbounded ones like RMSE with 4 significant
digits); sizes are binary megabytes like the CLI's; a missing value is blank.
Cells are plain text in ``st.dataframe``, never markdown.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.units import size_text
from engine import metrics
from engine.charts import ResultsTable

BEST_STYLE = "background-color: #dcfce7; color: #14532d; font-weight: 600"
COLUMN_LABELS: dict[str, str] = {
    "model": "Model", "dataset": "Dataset", "task": "Task", "mode": "Mode", "format": "Format",
    "latency_p50_ms": "p50 ms", "latency_p95_ms": "p95 ms", "latency_p99_ms": "p99 ms",
    "throughput_per_s": "rows/s", "size_bytes": "Size", "n_parameters": "Parameters",
    "peak_rss_mb": "Peak memory (MB)", "backend": "Backend", "provider": "Provider", "threads": "Threads",
    "n_folds": "Folds", "owner": "Owner", "created_at": "Created", "run_id": "Run id", "caution": "Caution",
}
COLUMN_HELP: dict[str, str] = {
    "mode": "cv-refit: a clone is refit on each fold; as-is: the fitted model is scored on each fold's test rows",
    "latency_p50_ms": "median latency of one call at batch size 1 (lower is better)",
    "latency_p95_ms": "95th percentile latency at batch size 1 (lower is better)",
    "latency_p99_ms": "99th percentile latency at batch size 1 (lower is better)",
    "throughput_per_s": "best rows per second over the batch sizes (higher is better)",
    "size_bytes": "model file size, binary MB (lower is better)",
    "caution": "why a run's numbers need care: scored as-is on rows the model was trained on (optimistic "
               "metrics), or latency measured while the machine was busy (measure it again)",
}


def _metric_of(column: str) -> tuple[metrics.Metric | None, bool]:
    """The registry metric behind ``<name>_mean`` / ``<name>_std`` columns, and whether it is the std."""
    for suffix, is_std in (("_mean", False), ("_std", True)):
        if column.endswith(suffix) and column[: -len(suffix)] in metrics.BY_NAME:
            return metrics.get(column[: -len(suffix)]), is_std
    return None, False


def column_label(column: str) -> str:
    metric, is_std = _metric_of(column)
    if metric is not None:
        return f"{metric.label} ±" if is_std else metric.label
    return COLUMN_LABELS.get(column, column.replace("_", " "))


def column_help(column: str) -> str | None:
    metric, is_std = _metric_of(column)
    if metric is not None:
        return "standard deviation over folds" if is_std else f"{metric.help or metric.label}; {metric.better_word}"
    return COLUMN_HELP.get(column)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def formatter(column: str) -> Callable[[Any], str]:
    """How a cell of ``column`` reads; missing values are blank (never 'None' or 'nan')."""
    metric, _ = _metric_of(column)

    def fmt(value: Any) -> str:
        if _missing(value):
            return ""
        if metric is not None:
            return metric.format(float(value))
        if column == "size_bytes":
            return size_text(float(value))
        if column.startswith("latency_"):
            return f"{float(value):.4g}"
        if column in ("throughput_per_s", "n_parameters", "peak_rss_mb"):
            return f"{float(value):,.0f}"
        if column in ("threads", "n_folds"):
            return f"{int(value)}"
        if column == "created_at":
            return str(value)[:19].replace("T", " ")
        return str(value)
    return fmt


def best_styles(info: ResultsTable, columns: Sequence[str]) -> pd.DataFrame:
    """CSS per cell of ``info.frame[columns]``: the best value of each rankable column is marked."""
    cells = np.full((len(info.frame), len(columns)), "", dtype=object)
    for j, column in enumerate(columns):
        cells[list(info.best.get(column, ())), j] = BEST_STYLE
    return pd.DataFrame(cells, index=info.frame.index, columns=list(columns))


def styled(info: ResultsTable, columns: Sequence[str]) -> Any:
    """A pandas Styler over the shown columns: formatted numbers, best values marked."""
    frame = info.frame[list(columns)]
    styler = frame.style.format({c: formatter(c) for c in columns}, na_rep="")
    return styler.apply(lambda _: best_styles(info, columns), axis=None)


def results_table(info: ResultsTable, *, key: str, height: int | str = "auto",
                  chooser: bool = True) -> list[str]:
    """The results table: decision columns first (model pinned), more behind a column chooser.

    Returns the columns shown.
    """
    extra: list[str] = []
    others = [c for c in info.other_columns if c in info.frame.columns]
    if chooser and others:
        with st.popover("More columns", icon=":material/view_column:"):
            extra = st.multiselect("Columns to add", others, format_func=column_label, key=f"{key}:columns",
                                   placeholder="choose columns")
    columns = [c for c in info.decision_columns if c in info.frame.columns] + extra
    config = {c: st.column_config.Column(column_label(c), help=column_help(c)) for c in columns}
    config["model"] = st.column_config.TextColumn("Model", pinned=True)
    st.dataframe(styled(info, columns), hide_index=True, column_config=config, key=key, height=height)
    caption = _sort_caption(info)
    if caption:
        st.caption(caption)
    return columns


def _sort_caption(info: ResultsTable) -> str:
    if not info.primary or len(info.frame) < 2:
        return ""
    names = " then ".join(f"{metrics.get(p).label} ({metrics.get(p).better_word})" for p in info.primary)
    return (f"Sorted by {names}. Green marks the best value in each column: lower latency and size, "
            "higher throughput, and each metric in its own direction.")
