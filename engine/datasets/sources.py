"""The source index: which registered dataset a file on disk already is.

Registering a dataset read from a file records ``datasets/sources/<hash of
the path>.json``: the resolved path, size, ``mtime_ns`` and a cheap check (a
hash of the size and the first and last 64 KiB) next to the dataset id. A
later request for the same, unchanged file finds its id without reading or
hashing the whole file again. Anyone can edit the index, so an entry is only
believed when the file still matches every recorded field and the dataset's
folder exists; anything else reads as "not registered".
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

from engine import ids
from engine.datasets.dataset import DATA_FILES
from engine.workspace import Workspace, write_json_atomic

EDGE = 64 << 10  # bytes hashed at each end of the file
INDEX_DIR = "sources"
INDEX_VERSION = 1
MAX_ENTRY_BYTES = 64 << 10


@dataclass(frozen=True)
class Stamp:
    """What identifies one version of a file cheaply."""

    path: str
    size: int
    mtime_ns: int
    check: str


def stamp(path: str | os.PathLike[str]) -> Stamp | None:
    """The stamp of the regular file at ``path`` (resolved), or None if it is not one."""
    resolved = Path(path).resolve()
    try:
        fd = os.open(resolved, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block us
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        try:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                return None
            h = hashlib.sha256(f"{st.st_size}:".encode())
            h.update(fh.read(EDGE))
            if st.st_size > EDGE:
                fh.seek(max(EDGE, st.st_size - EDGE))
                h.update(fh.read(EDGE))
        except OSError:
            return None
    return Stamp(str(resolved), st.st_size, st.st_mtime_ns, h.hexdigest())


def unchanged(before: Stamp | None, path: str | os.PathLike[str]) -> bool:
    """True if the file still has the size and mtime it had when ``before`` was taken."""
    if before is None:
        return False
    try:
        st = os.stat(before.path)
    except OSError:
        return False
    return Path(path).resolve() == Path(before.path) and (st.st_size, st.st_mtime_ns) == (before.size, before.mtime_ns)


def entry_path(ws: Workspace, resolved: str) -> Path:
    return ws.datasets / INDEX_DIR / f"{ids.content_id(resolved.encode())}.json"


def remember(ws: Workspace, origin: Stamp, dataset_id: str) -> None:
    """Record that the file ``origin`` describes is the dataset ``dataset_id`` (no write if already so).

    Nothing is written through a symlinked index folder (it could point out of the workspace).
    """
    folder = ws.datasets / INDEX_DIR
    if folder.is_symlink():
        return
    path = entry_path(ws, origin.path)
    entry = {"version": INDEX_VERSION, "dataset_id": dataset_id, **asdict(origin)}
    if _read_entry(path) == entry:
        return
    write_json_atomic(path, entry)


def _read_entry(path: Path) -> dict | None:
    """An index entry, if it is a small regular file inside a real index folder holding a JSON object."""
    try:
        if path.parent.is_symlink():
            return None
        st = path.lstat()
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_ENTRY_BYTES:
            return None
        entry = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) else None


def lookup(ws: Workspace, path: str | os.PathLike[str]) -> str | None:
    """The id of the registered dataset that the file at ``path`` is, if it is unchanged since."""
    current = stamp(path)
    if current is None:
        return None
    entry = _read_entry(entry_path(ws, current.path))
    if entry is None:
        return None
    try:
        recorded = Stamp(path=entry["path"], size=entry["size"], mtime_ns=entry["mtime_ns"], check=entry["check"])
        dataset_id = entry["dataset_id"]
        version = entry.get("version")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if version != INDEX_VERSION or recorded != current or not ids.is_content_id(dataset_id):
        return None
    folder = ws.datasets / dataset_id
    if folder.is_symlink() or not (folder / "meta.json").is_file():
        return None
    if not any((folder / name).is_file() for name in DATA_FILES.values()):
        return None
    return dataset_id
