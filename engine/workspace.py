"""The workspace directory and atomic file writes.

Layout (a contract, see DESIGN.md): ``artifacts/``, ``datasets/``,
``results/``, ``reports/``, ``jobs/`` and ``studies.db`` under one root,
``./workspace`` by default or ``FRONTIER_WORKSPACE``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import settings
from engine.errors import FrontierError
from engine.ids import is_job_id


def _folder(name: str) -> property:
    """A read-only path ``<root>/<name>`` (the workspace layout, in one place)."""
    return property(lambda self: self.root / name, doc=f"``{name}/`` under the workspace root")


@dataclass(frozen=True)
class Workspace:
    """Paths inside one workspace root."""

    root: Path

    @classmethod
    def open(cls, root: str | os.PathLike[str] | None = None) -> Workspace:
        """Open (and create) the workspace at ``root``, ``$FRONTIER_WORKSPACE`` or ``./workspace``."""
        ws = cls(settings.workspace_root(root))
        for sub in (ws.artifacts, ws.datasets, ws.results, ws.reports, ws.jobs):
            sub.mkdir(parents=True, exist_ok=True)
        ws.sweep()
        return ws

    def sweep(self) -> None:
        """Remove what killed writers left behind over an hour ago: result staging folders and the
        inputs of jobs that have ended. Never touches what a live writer or an active job uses."""
        from engine.jobs import inputs
        from engine.results.store import ResultStore

        with contextlib.suppress(OSError):
            ResultStore(self).sweep_stale()
        with contextlib.suppress(OSError):
            inputs.sweep_stale(self)

    artifacts = _folder("artifacts")
    datasets = _folder("datasets")
    results = _folder("results")
    reports = _folder("reports")
    jobs = _folder("jobs")

    def job_dir(self, job_id: str) -> Path:
        """The folder of an existing job. Ids come from URLs and the folder from a workspace others
        can write: only a well-formed id naming a real folder (not a link) is accepted."""
        path = self.jobs / job_id if is_job_id(job_id) else None
        if path is None or path.is_symlink() or not path.is_dir():
            shown = job_id if isinstance(job_id, str) and len(job_id) <= 40 else f"{str(job_id)[:37]}..."
            raise FrontierError(f"no job with id '{shown}'")
        return path

    @classmethod
    def at(cls, root: str | os.PathLike[str] | None = None) -> Workspace:
        """A handle on the workspace at ``root`` (same defaults as :meth:`open`) that creates nothing."""
        return cls(settings.workspace_root(root))

    @property
    def studies_db(self) -> Path:
        return self.root / "studies.db"


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # as open() would: teammates sharing the workspace can read it
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@functools.cache
def _umask() -> int:
    """This process's umask, read without changing it (``os.umask`` would race other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def write_json_atomic(path: Path, obj: Any) -> None:
    write_bytes_atomic(path, json.dumps(obj, indent=1, default=str).encode())


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


@contextlib.contextmanager
def staged_dir(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling directory that becomes ``final`` on success.

    On any error the staging directory is removed and ``final`` is untouched;
    if ``final`` appeared meanwhile (another writer won), it is kept.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    stage = final.parent / f".stage-{final.name}-{uuid.uuid4().hex[:8]}"
    stage.mkdir()
    try:
        yield stage
        try:
            os.rename(stage, final)
        except OSError:
            if not final.exists():
                raise
            shutil.rmtree(stage, ignore_errors=True)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
