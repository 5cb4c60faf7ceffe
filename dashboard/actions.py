"""Engine calls made on behalf of the signed-in actor: owners recorded, permissions checked.

Everyone reads and compares; only an item's owner or an admin cancels or
deletes it. Each function checks that here (a hidden button is not a
permission check) and passes ``owner=`` / ``actor=`` to the engine, which
checks again.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from engine import benchmark, datasets, jobs, models
from engine.errors import FrontierError
from engine.ids import is_content_id, is_job_id
from engine.owners import Actor
from engine.results import ResultStore
from engine.workspace import Workspace


def owner_of(record: Any) -> str | None:
    """The ``owner`` recorded on an engine record (object or mapping), if any."""
    owner = record.get("owner") if isinstance(record, Mapping) else getattr(record, "owner", None)
    return owner if isinstance(owner, str) and owner else None


# ---------------------------------------------------------------------- jobs
def submit(ws: Workspace, request: Mapping[str, Any], *, actor: Actor, title: str,
           files: Mapping[str, bytes] | None = None, limits: jobs.Limits | None = None) -> str:
    """Start a job owned by ``actor``; ``files`` travel to the worker (never parsed here)."""
    return jobs.submit(ws, dict(request), files=dict(files) if files else None, owner=actor.name, limits=limits,
                       title=title)


def step_limits(step_time_s: float) -> jobs.Limits:
    """Job limits with the form's time limit per model step (the rest from the server's settings)."""
    return jobs.Limits(step_time_s=float(step_time_s))


def cancel(ws: Workspace, job_id: str, *, actor: Actor) -> None:
    """Cancel a job: its owner or an admin only."""
    if not is_job_id(job_id):
        raise FrontierError("that job id is not valid")
    actor.require(owner_of(jobs.status(ws, job_id)), "this job")
    jobs.cancel(ws, job_id, actor=actor)


# ------------------------------------------------------------------ registry
def delete_model(ws: Workspace, artifact_id: str, *, actor: Actor) -> None:
    info = models.get(ws, artifact_id)
    actor.require(owner_of(info), f"model '{info.name}'")
    models.delete(ws, artifact_id, actor=actor)


def dataset_owner(ws: Workspace, dataset_id: str) -> str | None:
    """The owner the registry records for a dataset (None when unknown or not recorded)."""
    table = datasets.list_registered(ws)
    rows = table.loc[table["id"] == dataset_id, "owner"] if "owner" in table.columns else []
    return owner_of({"owner": rows.iloc[0]}) if len(rows) else None


def delete_dataset(ws: Workspace, dataset_id: str, *, actor: Actor) -> None:
    if not is_content_id(dataset_id):
        raise FrontierError("that dataset id is not valid")
    actor.require(dataset_owner(ws, dataset_id), "this dataset")
    datasets.delete(ws, dataset_id, actor=actor)


def delete_run(ws: Workspace, run_id: str, *, actor: Actor) -> None:
    """Delete one stored run (its own folder only); the owner is read from the store, not the page.

    ``ResultStore.delete`` has no owner check yet: this is the only one until it takes ``actor=``.
    """
    store = ResultStore(ws)
    if not is_content_id(run_id) or not store.has(run_id):
        raise FrontierError("that run is no longer in the store")
    actor.require(owner_of(store.summary(run_id)), "this run")
    if "actor" in inspect.signature(store.delete).parameters:
        store.delete(run_id, actor=actor)
    else:
        store.delete(run_id)


def measure_again(ws: Workspace, run_ids: list[str], *, actor: Actor) -> benchmark.Plan:
    """The plan that re-runs stored runs (their latency was skewed): their owners or an admin only,
    since the new runs replace the stored ones."""
    store = ResultStore(ws)
    for run_id in run_ids:
        summary = store.summary(run_id)
        actor.require(summary.get("owner"), f"the run of '{summary.get('model', run_id)}'")
    return benchmark.replan(ws, run_ids)
