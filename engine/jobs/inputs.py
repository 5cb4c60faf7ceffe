"""Files handed to a job (uploads): written to ``jobs/<id>/inputs/`` before the job starts.

Names are plain file names; the worker opens them without following links and
only as regular files, since anyone on the team can write the workspace. Inputs
are deleted when the job ends; :func:`sweep_stale` removes those a killed
supervisor left behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import time
from collections.abc import Mapping
from pathlib import Path

from engine.errors import FrontierError
from engine.ids import is_job_id
from engine.jobs.spec import check_file_name
from engine.workspace import Workspace, write_bytes_atomic

INPUTS = "inputs"
SCRATCH = "scratch"  # a throw-away workspace for loading uploads
STALE_INPUTS_S = 3600


def check(files: Mapping[str, bytes] | None) -> dict[str, bytes]:
    """Validate names and contents before anything is written."""
    if files is None:
        return {}
    if not isinstance(files, Mapping):
        raise FrontierError("job files must be a mapping of file name to bytes")
    out = {}
    for name, data in files.items():
        check_file_name(name, "the job file")
        if not isinstance(data, bytes | bytearray | memoryview):
            raise FrontierError(f"the job file '{name}' must be bytes")
        out[name] = bytes(data)
    return out


def write(job_dir: Path, files: Mapping[str, bytes]) -> None:
    folder = job_dir / INPUTS
    folder.mkdir()
    for name, data in files.items():
        write_bytes_atomic(folder / name, data)


def read(job_dir: Path, name: str, *, max_bytes: int) -> bytes:
    """The bytes of input ``name``: a regular file inside ``inputs/``, never through a link."""
    check_file_name(name, "the uploaded file")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        dir_fd = os.open(job_dir / INPUTS, flags | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        raise FrontierError(f"the job's uploaded file '{name}' is missing; upload it again") from None
    try:
        fd = os.open(name, flags | getattr(os, "O_NONBLOCK", 0), dir_fd=dir_fd)
    except OSError:
        raise FrontierError(f"the job's uploaded file '{name}' is missing; upload it again") from None
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise FrontierError(f"the job's uploaded file '{name}' is not a regular file; upload it again")
        if st.st_size > max_bytes:
            raise FrontierError(f"'{name}' is {st.st_size / 2**20:.0f} MB, more than the {max_bytes / 2**20:.0f} MB "
                                "allowed here; upload a smaller file")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FrontierError(f"'{name}' grew past {max_bytes / 2**20:.0f} MB while it was read; upload it again")
    return data


def remove(job_dir: Path) -> None:
    """Delete a job's inputs and scratch space (when it ends)."""
    for folder in (job_dir / INPUTS, job_dir / SCRATCH):
        if folder.is_symlink():
            folder.unlink()
        else:
            shutil.rmtree(folder, ignore_errors=True)


def sweep_stale(ws: Workspace, *, older_than_s: float = STALE_INPUTS_S) -> list[str]:
    """Remove inputs of jobs that ended (or whose supervisor died) over ``older_than_s`` ago."""
    from engine.jobs import status_store as status

    removed = []
    now = time.time()
    for folder in ws.jobs.glob(f"*/{INPUTS}"):
        job_dir = folder.parent
        with contextlib.suppress(OSError, FrontierError):
            if not is_job_id(job_dir.name) or job_dir.is_symlink():
                continue
            if now - folder.lstat().st_mtime <= older_than_s or status.view(job_dir).active:
                continue
            remove(job_dir)
            removed.append(job_dir.name)
    return removed
