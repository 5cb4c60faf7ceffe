"""Cached access to the workspace and the result store.

The workspace is a shared, never-mutated object (``st.cache_resource``);
stored results are immutable per run id, so their tables are cached with
``st.cache_data`` keyed by the workspace root and the run id. Session state
only ever holds ids and selections.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from engine import datasets, jobs, models, samples, settings
from engine.errors import FrontierError
from engine.results import ResultStore
from engine.workspace import Workspace

log = logging.getLogger("frontier.dashboard")


def workspace() -> Workspace:
    """The workspace named by ``$FRONTIER_WORKSPACE`` (or ``./workspace``), samples registered."""
    return _open_workspace(str(settings.workspace_root()))


@st.cache_resource(show_spinner="Opening the workspace and registering the bundled samples…")
def _open_workspace(root: str) -> Workspace:
    ws = Workspace.open(root)
    if samples.ensure_registered(ws):
        # TorchScript and pickled models are only described inside the isolated worker.
        for info in models.list_registered(ws):
            if info.code_bearing and info.n_parameters is None:
                try:
                    jobs.submit(ws, {"kind": "describe", "artifact_id": info.id}, title=f"describe {info.name}")
                except (FrontierError, OSError) as exc:  # best effort: counts fill in at benchmark time
                    log.warning("could not inspect %s: %s", info.name, exc)
    return ws


# ------------------------------------------------------------------ results
def table(root: str, run_id: str, name: str) -> pd.DataFrame:
    """One stored table of a run."""
    return _table(root, run_id, name, _version(root, run_id))


def summary(root: str, run_id: str) -> dict[str, Any]:
    """A run's summary record."""
    return _summary(root, run_id, _version(root, run_id))


def _version(root: str, run_id: str) -> int:
    """Changes only when a run is recomputed in place (``--no-cache``), so cached reads stay true."""
    return ResultStore(Workspace(Path(root))).version(run_id)


@st.cache_data(max_entries=512, show_spinner=False)
def _table(root: str, run_id: str, name: str, version: int) -> pd.DataFrame:
    return ResultStore(Workspace(Path(root))).table(run_id, name)


@st.cache_data(max_entries=256, show_spinner=False)
def _summary(root: str, run_id: str, version: int) -> dict[str, Any]:
    return ResultStore(Workspace(Path(root))).summary(run_id)


def runs(ws: Workspace) -> pd.DataFrame:
    """Every stored run's summary, newest first; re-read (through the run index) only when a run was
    added, replaced or deleted: the cache key is one ``stat``, whatever the number of runs."""
    return _runs(str(ws.root), ResultStore(ws).listing_version())


@st.cache_data(max_entries=8, show_spinner=False)
def _runs(root: str, version: int) -> pd.DataFrame:
    del version  # part of the cache key only
    return ResultStore(Workspace(Path(root))).runs()


def comparison(ws: Workspace, run_ids: tuple[str, ...], options: tuple[tuple[str, Any], ...]):
    """The comparison of ``run_ids`` (engine.compare.compare with ``options``); recomputed only when
    a run is added, replaced or deleted or the options change."""
    return _comparison(str(ws.root), run_ids, options, ResultStore(ws).listing_version())


@st.cache_data(max_entries=16, show_spinner="Comparing the runs…")
def _comparison(root: str, run_ids: tuple[str, ...], options: tuple[tuple[str, Any], ...], version: int):
    import functools

    from engine.compare import compare

    ws = Workspace(Path(root))
    return compare(ws, list(run_ids), index=_runs(root, version), reader=functools.partial(table, root),
                   **dict(options))


def existing(ws: Workspace, run_ids: list[str]) -> list[str]:
    """The ids among ``run_ids`` that are (still) in the store."""
    store = ResultStore(ws)
    return [r for r in run_ids if store.has(r)]


# ----------------------------------------------------------------- datasets
@st.cache_resource(max_entries=16, show_spinner=False)
def dataset(root: str, dataset_id: str) -> datasets.Dataset:
    """A registered dataset (content-addressed, so never changes under its id; not mutated)."""
    return datasets.load(Workspace(Path(root)), dataset_id)


# --------------------------------------------------------------------- jobs
def job_request(ws: Workspace, job_id: str) -> dict[str, Any]:
    """The request a job was submitted with ({} if unreadable)."""
    try:
        return jobs.request(ws, job_id)
    except (FrontierError, OSError, ValueError):
        return {}


# ------------------------------------------------------------------ tuning studies
def tune_storage_url(ws: Workspace) -> str:
    """Where the page's studies live: ``$FRONTIER_STORAGE`` (set by whoever runs the server), else the
    workspace's SQLite file. Never a URL typed in the page: on a shared server that would let anyone
    make the server read or write any file or database it can reach."""
    from engine.tune.storage import resolve

    return resolve(None, ws)


@st.cache_resource(max_entries=4, show_spinner=False)
def tune_storage(url: str) -> Any:
    """One Optuna storage per URL for the whole server. It only reads: the heartbeat settings (the
    workers' defaults) let it tell a running trial from one whose worker stopped."""
    from engine.tune.storage import open_storage

    return open_storage(url)


@st.cache_data(ttl=3, max_entries=4, show_spinner=False)
def studies(url: str) -> pd.DataFrame:
    """The studies in ``url``'s storage (re-read at most every 3 s)."""
    from engine.tune.history import list_studies

    return list_studies(tune_storage(url))


@st.cache_resource(max_entries=64, show_spinner=False)
def trial_log(url: str, study: str, started: str) -> Any:
    """A study's trials, read incrementally (``TrialLog.refresh`` reads only what changed); ``started``
    keeps a study deleted and made again under the same name from reusing the old reader."""
    from engine.tune.history import TrialLog

    del started  # cache key only
    return TrialLog.load(tune_storage(url), study)


# ------------------------------------------------------------------ devices
@st.cache_resource(show_spinner="Looking for GPUs and ONNX Runtime providers…")
def devices() -> Any:
    """The devices and backends of this server (probed once per server process)."""
    from engine.compress.devices import available

    return available()
