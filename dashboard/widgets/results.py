"""The results of stored runs: the table, notes on how to read it, and the chart tabs.

Pages hand over run ids; everything is read from the store (cached, see
:mod:`dashboard.state`) and drawn with the :mod:`engine.charts` pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.text import md
from dashboard.widgets import result_tabs, tables
from engine import charts
from engine.measure import environment
from engine.workspace import Workspace


@dataclass(frozen=True)
class RunView:
    """One stored run as the charts show it: id, unique label, summary."""

    run_id: str
    label: str
    summary: dict[str, Any]

    @property
    def classes(self) -> list[Any] | None:
        return self.summary.get("classes")


def views(ws: Workspace, run_ids: list[str]) -> list[RunView]:
    root = str(ws.root)
    summaries = [state.summary(root, r) for r in run_ids]
    labels = charts.unique_labels([str(s.get("model", "")) for s in summaries], run_ids)
    return [RunView(r, label, s) for r, label, s in zip(run_ids, labels, summaries, strict=True)]


def names(items: list[str]) -> str:
    """User-chosen names listed in a sentence, escaped."""
    return ", ".join(md(n, limit=80) for n in items)


def results_view(ws: Workspace, run_ids: list[str], *, key: str, cached: set[str] | None = None) -> None:
    """The results table and chart tabs for stored runs ``run_ids``."""
    run_ids = state.existing(ws, list(dict.fromkeys(run_ids)))
    if not run_ids:
        st.info("These runs are no longer in the store.")
        return
    shown = views(ws, run_ids)
    tasks = list(dict.fromkeys(v.summary["task"] for v in shown))
    if len(tasks) > 1:
        task = st.radio("Task", tasks, horizontal=True, key=f"{key}:task",
                        help="The selected runs mix classification and regression; charts show one task at a time.")
        shown = [v for v in shown if v.summary["task"] == task]
    task = shown[0].summary["task"]
    _cached_note(shown, cached)
    info = charts.results_table_info(pd.DataFrame([v.summary | {"model": v.label} for v in shown]))
    tables.results_table(info, key=f"{key}:table")
    _comparability_notes(shown)
    result_tabs.tabs(ws, shown, task, key=key)
    result_tabs.environment_view(shown)


def _cached_note(shown: list[RunView], cached: set[str] | None) -> None:
    if not cached:
        return
    if all(v.run_id in cached for v in shown):
        st.success("All results were served from the store (an identical run was already there).",
                   icon=":material/inventory_2:")
    elif any(v.run_id in cached for v in shown):
        st.caption(f"Served from the store: {names([v.label for v in shown if v.run_id in cached])}.")


def _comparability_notes(shown: list[RunView]) -> None:
    differ = environment.differences([v.summary.get("environment") for v in shown])
    if differ:
        st.warning(f"These runs were measured in different environments ({md(', '.join(differ))}): compare "
                   "their latencies with care — see Environment below.", icon=":material/warning:")
    as_is = [v.label for v in shown if v.summary.get("mode") == "as-is"]
    if as_is:
        st.caption(f"As-is ({names(as_is)}): metrics score the fitted model on each fold's test rows, "
                   "which may include rows it was trained on — compare them with cv-refit runs carefully.")
