"""The workspace directory and atomic file writes.

Layout (a contract, see DESIGN.md): ``artifacts/``, ``datasets/``,
``results/``, ``reports/``, ``jobs/`` and ``studies.db`` under one root,
``./workspace`` by default or ``FRONTIER_WORKSPACE``.
"""

from __future__ import annotations

import contextlib
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
        return ws

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def datasets(self) -> Path:
        return self.root / "datasets"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

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
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


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
