"""The Benchmark page's inputs: dataset, models, folds, latency settings and the step time limit.

:func:`form` draws the widgets and returns what was asked for when the form is
submitted; :func:`settings_line` describes a submitted job's own settings (for
someone viewing a teammate's job).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.text import md
from dashboard.widgets.errors import guard
from engine import settings
from engine.datasets import Dataset
from engine.measure.latency import DEFAULT_BATCH_SIZES
from engine.models import ArtifactInfo

CORES = os.cpu_count() or 1


@dataclass(frozen=True)
class Request:
    """What the form asks for."""

    dataset: Dataset
    model_ids: list[str]
    target: str | None
    drop: list[str]
    n_folds: int
    seed: int
    as_is: bool
    min_time_s: float
    min_count: int
    batch_sizes: list[int]
    threads: int
    step_time_s: float

    @property
    def skipped_batch_sizes(self) -> list[int]:
        """Batch sizes larger than the dataset: the latency sweep leaves them out."""
        return [b for b in self.batch_sizes if b > self.dataset.n_rows]


def _default_dataset(registered: pd.DataFrame) -> str:
    digits = [r.id for r in registered.itertuples() if r.name == "digits" and r.source == "builtin"]
    return digits[0] if digits else str(registered["id"].iloc[0])


def form(ws_root: str, infos: Mapping[str, ArtifactInfo], registered: pd.DataFrame) -> Request | None:
    """The inputs; the request when "Run benchmark" was pressed, else None."""
    labels = {r.id: f"{r.name} ({r.kind}, {r.n_rows:,} rows)" for r in registered.itertuples()}
    ids = list(labels)
    dataset_id = st.selectbox("Dataset", ids, index=ids.index(_default_dataset(registered)),
                              format_func=labels.get, key="benchmark:dataset")
    with guard("loading the dataset") as loaded:
        dataset = state.dataset(ws_root, dataset_id)
    if not loaded.ok:
        return None
    step_cap = settings.max_step_time_s()
    with st.form("benchmark:form", border=True):
        model_ids = st.multiselect("Models", list(infos), format_func=lambda i: f"{infos[i].name} · {infos[i].format}",
                                   key="benchmark:models", placeholder="choose one or more registered models")
        c1, c2, c3, c4, c5 = st.columns([2, 3, 1, 1, 1.9])
        if dataset.kind == "tabular":
            columns = dataset.columns
            target = c1.selectbox("Target column", columns, index=columns.index(dataset.default_target),
                                  key=f"benchmark:target:{dataset.id}")
            drop = c2.multiselect("Drop columns", columns, key=f"benchmark:drop:{dataset.id}",
                                  placeholder="none", help="left out of the features")
        else:
            target, drop = None, []
            c1.text_input("Target", value="y (image labels)", disabled=True, key=f"benchmark:target:{dataset.id}")
            c2.caption("Image dataset: models get the (N, C, H, W) array.")
        n_folds = c3.number_input("Folds", min_value=2, max_value=10, value=5, step=1, key="benchmark:folds")
        seed = c4.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key="benchmark:seed")
        step_time = c5.number_input(
            "Time limit per model step (s)", min_value=1.0, max_value=float(step_cap),
            value=float(min(settings.step_time_s(), step_cap)), step=60.0, format="%.0f", key="benchmark:step_time",
            help=f"Longest one step may take: loading a model, one fold's fit, a latency sweep (at most {step_cap:g} s here).")
        as_is = st.checkbox(
            "Evaluate scikit-learn models as-is", key="benchmark:as_is",
            help="By default a clone of a scikit-learn model is refit on each fold's training rows. As-is scores "
                 "the uploaded fitted model on each fold's test rows instead, which may include rows it was trained on.")
        with st.expander("Latency settings", icon=":material/timer:"):
            l1, l2, l3, l4 = st.columns([1, 1, 2, 1])
            min_time = l1.number_input("Minimum time per batch size (s)", min_value=0.01, max_value=30.0, value=0.3,
                                       step=0.05, format="%.2f", key="benchmark:lat_time")
            min_count = l2.number_input("Minimum timed calls", min_value=1, max_value=100_000, value=30, step=5,
                                        key="benchmark:lat_count")
            batch_sizes = l3.multiselect("Batch sizes", list(DEFAULT_BATCH_SIZES), default=list(DEFAULT_BATCH_SIZES),
                                         key="benchmark:lat_batches",
                                         help="leave empty to skip the latency measurement; sizes larger than "
                                              "the dataset are skipped")
            threads = l4.number_input("Threads", min_value=1, max_value=CORES,
                                      value=min(settings.default_threads(), CORES), step=1, key="benchmark:threads",
                                      help="threads for fits and inference; one by default on small machines, "
                                           "where more threads slow each other down when the machine is shared")
        submitted = st.form_submit_button("Run benchmark", type="primary", icon=":material/play_arrow:")
    if not submitted:
        return None
    return Request(dataset, list(model_ids), target, list(drop), int(n_folds), int(seed), bool(as_is),
                   float(min_time), int(min_count), sorted(int(b) for b in batch_sizes), int(threads),
                   float(step_time))


def settings_line(request: Mapping[str, Any]) -> str:
    """A job's own settings in one escaped line (dataset, models, folds, seed, latency)."""
    config = request.get("config") or {}
    parts = [f"dataset {request.get('dataset_name') or request.get('dataset_id', '?')}"]
    names = [r.get("name", "?") for r in request.get("runs", []) if isinstance(r, Mapping)]
    if names:
        parts.append("models " + ", ".join(names))
    if config.get("target"):
        parts.append(f"target column '{config['target']}'")
    if config.get("drop"):
        parts.append("dropping " + ", ".join(f"'{c}'" for c in config["drop"]))
    parts.append(f"{config.get('cv', '?')} folds, seed {config.get('seed', '?')}")
    if config.get("as_is"):
        parts.append("as-is")
    latency = config.get("latency")
    if isinstance(latency, Mapping):
        sizes = ", ".join(str(b) for b in latency.get("batch_sizes", []))
        parts.append(f"batch sizes {sizes}; at least {latency.get('min_time_s')} s and "
                     f"{latency.get('min_count')} calls each")
    else:
        parts.append("no latency measurement")
    if config.get("threads"):
        parts.append(f"{config['threads']} thread(s)")
    return md("Settings: " + " · ".join(parts), limit=600)
