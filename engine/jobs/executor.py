"""Executors: where a job's supervisor runs.

:class:`Executor` is the seam: ``submit`` (start, return at once), ``run``
(start and wait), ``cancel`` and ``status``. :class:`LocalExecutor`, the
embedded default, runs the supervisor on this machine — in the caller's
process for :meth:`~LocalExecutor.run` (the CLI), detached for
:meth:`~LocalExecutor.submit` (the dashboard, so jobs outlive a page or a
server restart). A team that outgrows one machine plugs in an existing engine
(a Dask ``distributed`` executor would submit :func:`~engine.jobs.supervisor.supervise`
for the job folder to a cluster worker that sees the same workspace); the job
folder, status store and liveness rules stay as they are. No home-made queue.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from engine.ids import new_job_id
from engine.jobs import inputs, liveness, processes
from engine.jobs import spec as jobspec
from engine.jobs import status_store as status
from engine.jobs.progress import ProgressFn
from engine.jobs.spare import Spare
from engine.jobs.spec import JobSpec
from engine.jobs.status_store import ACTIVE, JobStatus
from engine.owners import Actor
from engine.workspace import Workspace


class Executor(Protocol):
    """Runs job specs somewhere; everything else about a job lives in its folder."""

    def submit(self, ws: Workspace, spec: JobSpec, *, files: Mapping[str, bytes] | None = None) -> str: ...

    def run(self, ws: Workspace, spec: JobSpec, *, files: Mapping[str, bytes] | None = None,
            on_progress: ProgressFn | None = None, spare: Spare | None = None) -> JobStatus: ...

    def cancel(self, ws: Workspace, job_id: str, *, actor: Actor | None = None) -> None: ...

    def status(self, ws: Workspace, job_id: str) -> JobStatus: ...


def create_job(ws: Workspace, spec: JobSpec, files: Mapping[str, bytes] | None = None) -> Path:
    """A new job folder: ``inputs/``, ``request.json`` and a queued ``status.json``, all or nothing."""
    checked = inputs.check(files)
    job_dir = ws.jobs / new_job_id()
    job_dir.mkdir(parents=True)
    try:
        if checked:
            inputs.write(job_dir, checked)
        jobspec.write(job_dir, spec)
        status.create(job_dir, {"job_id": job_dir.name, "state": "queued", "kind": spec.kind, "title": spec.title,
                                "owner": spec.owner, "limits": spec.limits.to_dict()})
    except BaseException:
        shutil.rmtree(job_dir, ignore_errors=True)
        raise
    return job_dir


def cancel_job(ws: Workspace, job_id: str, *, actor: Actor | None = None) -> None:
    """Ask a job to stop (its supervisor sees the flag); one whose supervisor is gone is cancelled here."""
    job_dir = ws.job_dir(job_id)
    record = status.read(job_dir)
    if actor is not None:
        actor.require(record.get("owner") if isinstance(record.get("owner"), str) else None, f"job {job_id}")
    if record["state"] not in ACTIVE:
        return
    processes.raise_flag(job_dir / processes.CANCEL_FLAG)
    status.reconcile(job_dir, state="cancelled")


class LocalExecutor:
    """Supervisors as local processes (the embedded default)."""

    def submit(self, ws: Workspace, spec: JobSpec, *, files: Mapping[str, bytes] | None = None) -> str:
        job_dir = create_job(ws, spec, files)
        try:
            log = processes.open_log(job_dir / "supervisor.log")
            try:
                proc = subprocess.Popen([sys.executable, "-m", "engine.jobs.supervisor", str(job_dir)],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                                        env=processes.child_env(), cwd=processes.PROJECT_ROOT,
                                        start_new_session=True)
            finally:
                os.close(log)
        except OSError:
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
        who = liveness.identity(proc.pid)
        status.update(job_dir, {"supervisor": who, "supervisor_pid": proc.pid})
        return job_dir.name

    def run(self, ws: Workspace, spec: JobSpec, *, files: Mapping[str, bytes] | None = None,
            on_progress: ProgressFn | None = None, spare: Spare | None = None) -> JobStatus:
        """``spare``: a worker this process started ahead (:mod:`engine.jobs.spare`); it becomes
        the job's worker when it fits the job, and is stopped otherwise."""
        from engine.jobs.supervisor import (
            supervise,  # not at import: `python -m engine.jobs.supervisor`
        )

        try:
            job_dir = create_job(ws, spec, files)
        except BaseException:
            if spare is not None:
                spare.discard()
            raise
        return supervise(job_dir, on_progress=on_progress, spare=spare)

    def cancel(self, ws: Workspace, job_id: str, *, actor: Actor | None = None) -> None:
        cancel_job(ws, job_id, actor=actor)

    def status(self, ws: Workspace, job_id: str) -> JobStatus:
        return status.view(ws.job_dir(job_id))
