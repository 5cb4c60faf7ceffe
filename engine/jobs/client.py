"""What callers use: submit, run, status, cancel, wait, list_jobs, request, reconcile.

Thin functions over the default executor and the status store. Requests are
plain dicts (``{"kind": ..., **payload}``), validated into a
:class:`~engine.jobs.spec.JobSpec` before anything is written.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any

from engine.errors import FrontierError
from engine.ids import is_job_id
from engine.jobs import spec as jobspec
from engine.jobs import status_store as store
from engine.jobs.executor import Executor, LocalExecutor
from engine.jobs.progress import ProgressFn
from engine.jobs.spare import Spare
from engine.jobs.spec import JobSpec, Limits
from engine.jobs.status_store import JobStatus
from engine.owners import Actor, local_actor
from engine.workspace import Workspace


def default_executor() -> Executor:
    """The executor jobs run on: local processes (a distributed one plugs in here)."""
    return LocalExecutor()


def _spec(request: Mapping[str, Any], owner: str | None, limits: Limits | None, title: str) -> JobSpec:
    return JobSpec.from_request(request, owner=owner if owner is not None else local_actor().name,
                                limits=limits, title=title)


def submit(ws: Workspace, request: Mapping[str, Any], *, files: Mapping[str, bytes] | None = None,
           owner: str | None = None, limits: Limits | None = None, title: str = "") -> str:
    """Start a job under a detached supervisor and return its id (the dashboard's path).

    ``files`` are written to the job's ``inputs/`` first (plain file names only);
    ``owner`` defaults to the local user.
    """
    return default_executor().submit(ws, _spec(request, owner, limits, title), files=files)


def run(ws: Workspace, request: Mapping[str, Any], *, limits: Limits | None = None,
        on_progress: ProgressFn | None = None, title: str = "", files: Mapping[str, bytes] | None = None,
        owner: str | None = None, spare: Spare | None = None) -> JobStatus:
    """Run a job and wait for it, supervised in this process (the CLI's path); ``spare`` is a
    worker started ahead with :func:`engine.jobs.spare.spare_worker` (used if it fits the job)."""
    try:
        spec = _spec(request, owner, limits, title)
    except BaseException:
        if spare is not None:
            spare.discard()
        raise
    return default_executor().run(ws, spec, files=files, on_progress=on_progress, spare=spare)


def status(ws: Workspace, job_id: str) -> JobStatus:
    """A job's status; never writes (a job whose supervisor died reads as failed)."""
    return store.view(ws.job_dir(job_id))


def cancel(ws: Workspace, job_id: str, *, actor: Actor | None = None) -> None:
    """Stop a job; with ``actor``, only its owner or an admin may."""
    default_executor().cancel(ws, job_id, actor=actor)


def reconcile(ws: Workspace, job_id: str) -> JobStatus:
    """Record a job whose supervisor is gone as failed (a writer's step; status() only reports it)."""
    job_dir = ws.job_dir(job_id)
    store.reconcile(job_dir)
    return store.view(job_dir)


def request(ws: Workspace, job_id: str) -> dict[str, Any]:
    """The request a job was created with (``{"kind": ..., **payload}``), validated."""
    return jobspec.read(ws.job_dir(job_id)).request()


def list_jobs(ws: Workspace, *, active_only: bool = False) -> list[JobStatus]:
    """Jobs in the workspace, newest first; damaged job folders are skipped."""
    jobs = []
    with contextlib.suppress(FileNotFoundError):
        names = sorted((n for n in ws.jobs.iterdir() if is_job_id(n.name)), key=lambda p: p.name, reverse=True)
        for job_dir in names:
            with contextlib.suppress(FrontierError, OSError):
                st = store.view(ws.job_dir(job_dir.name))
                if st.active or not active_only:
                    jobs.append(st)
    return jobs


def wait(ws: Workspace, job_id: str, timeout_s: float = 600) -> JobStatus:
    """Poll until the job ends or ``timeout_s`` passes; returns the last status."""
    deadline = time.monotonic() + timeout_s
    while True:
        st = status(ws, job_id)
        if not st.active or time.monotonic() > deadline:
            return st
        time.sleep(0.1)
