"""The handler registry: which function runs a job of each kind, in the worker.

``@register("kind")`` adds a handler ``handler(ctx, payload) -> result``
(JSON-serialisable); the kind's payload type is registered in
:mod:`engine.jobs.spec`. New kinds plug in without touching a dispatcher. The
built-in kinds live in :mod:`engine.jobs.kinds`, loaded on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import FrontierError
from engine.jobs import inputs
from engine.jobs.progress import ProgressFn, Reporter, as_reporter
from engine.jobs.spec import PAYLOADS, JobSpec
from engine.workspace import Workspace

Handler = Callable[["JobContext", Any], Any]
HANDLERS: dict[str, Handler] = {}


@dataclass(frozen=True)
class JobContext:
    """What a handler gets besides its payload."""

    ws: Workspace
    spec: JobSpec
    progress: Reporter
    job_dir: Path | None = None

    @property
    def owner(self) -> str | None:
        return self.spec.owner

    def input(self, name: str, *, max_bytes: int) -> bytes:
        """The bytes of an uploaded file given to this job."""
        if self.job_dir is None:
            raise FrontierError(f"this job has no uploaded file '{name}'")
        return inputs.read(self.job_dir, name, max_bytes=max_bytes)


def register(kind: str) -> Callable[[Handler], Handler]:
    """Decorator: ``fn`` runs jobs of ``kind`` (whose payload type must be registered)."""
    def wrap(fn: Handler) -> Handler:
        if kind not in PAYLOADS:
            raise ValueError(f"register a payload type for job kind '{kind}' first (engine.jobs.spec.payload)")
        HANDLERS[kind] = fn
        return fn
    return wrap


def handler_for(kind: str) -> Handler:
    import engine.jobs.kinds  # noqa: F401  (registers the built-in kinds)

    try:
        return HANDLERS[kind]
    except KeyError:
        raise FrontierError(f"unknown job kind '{kind}'") from None


def run_spec(ws: Workspace, spec: JobSpec, progress: Reporter | ProgressFn | None,
             *, job_dir: Path | None = None) -> Any:
    """Run a validated spec's handler."""
    ctx = JobContext(ws, spec, as_reporter(progress), job_dir)
    return handler_for(spec.kind)(ctx, spec.payload)


def dispatch(ws: Workspace, request: Mapping[str, Any], progress: Reporter | ProgressFn | None,
             *, job_dir: Path | None = None, owner: str | None = None) -> Any:
    """Validate a request dict and run its handler in this process (the worker's job)."""
    import engine.jobs.kinds  # noqa: F401

    return run_spec(ws, JobSpec.from_request(request, owner=owner), progress, job_dir=job_dir)
