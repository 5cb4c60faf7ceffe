"""Load a registered model, believing nothing its record says that its bytes do not confirm.

Before anything is loaded, :func:`stored_files` checks that the record names
``model.<suffix>`` of its format inside its own folder, reads that file (and
an ONNX model's external data, confined to the folder) under the size cap,
re-hashes it all and requires the hash to be the artifact id, and re-detects
the format from the bytes. Trust counts only when the record's signature
verifies for exactly those bytes. Loading then happens from the bytes that
were hashed, never by reopening a path a writer could have swapped.
"""

from __future__ import annotations

import hashlib
import io
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import ids, trust
from engine.errors import FrontierError, option
from engine.models.formats import detect_format
from engine.models.formats import onnx as onnx_format
from engine.models.formats import pickle as pickle_format
from engine.models.formats import skops as skops_format
from engine.models.formats import torch as torch_format
from engine.models.formats.limits import check_size
from engine.models.info import ArtifactInfo, check_location
from engine.workspace import Workspace


@dataclass(frozen=True)
class StoredFiles:
    """A model's bytes as stored, checked against its id."""

    data: bytes
    external: list[tuple[str, Path]]
    sha256: str


def stored_files(ws: Workspace, info: ArtifactInfo) -> StoredFiles:
    """Read and verify the files of ``info``: inside its folder, hashing to its id, of its format."""
    check_location(info)
    folder = ws.artifacts / info.id
    path = folder / info.file
    what = f"the file of model '{info.name}'"
    try:
        st = path.lstat()
    except OSError:
        raise FrontierError(f"{what} ({info.id}/{info.file}) is missing; delete the model and upload it again") from None
    if not stat.S_ISREG(st.st_mode):
        raise FrontierError(f"{what} ({info.id}/{info.file}) is not a regular file; delete the model and upload it again")
    check_size(st.st_size, what)
    data = path.read_bytes()
    external = onnx_format.external_paths(onnx_format.parse(data, what), folder) if info.format == "onnx" else []
    digest = onnx_format.content_digest(data, external) if external else hashlib.sha256(data)
    if ids.id_of(digest) != info.id:
        raise FrontierError(f"{what} no longer matches its id {info.id}: it was changed after registration; "
                            "delete the model and upload it again")
    if detect_format(info.file, data) != info.format:
        raise FrontierError(f"{what} is not a {info.format} model as its record says; delete it and upload it again")
    return StoredFiles(data, external, digest.hexdigest())


def is_trusted(info: ArtifactInfo, files: StoredFiles) -> bool:
    """Whether a signed trust record covers exactly these bytes."""
    return trust.verify(info.trust, artifact_id=info.id, sha256=files.sha256)


def _untrusted(info: ArtifactInfo) -> FrontierError:
    return FrontierError(
        f"'{info.name}' can run code when loaded and is not marked trusted (no valid trust record); "
        f"register it again with {option('trust')} only if you trust its author")


def load_model(ws: Workspace, info: ArtifactInfo) -> Any:
    """The in-memory model (an ONNX model's verified path); code runs only under a valid trust record."""
    files = stored_files(ws, info)
    trusted = is_trusted(info, files)
    what = f"'{info.name}'"
    if info.format == "skops":
        return skops_format.load(files.data, trusted=trusted, what=what)
    if info.format == "onnx":
        onnx_format.check_runnable(onnx_format.parse(files.data, what))
        return info.path(ws)  # sessions are built by the predictor, from the verified folder
    if not trusted and (info.format != "torch_export" or torch_format.pt2_code_members(files.data, what)):
        raise _untrusted(info)
    if info.format == "pickle":
        return pickle_format.load(files.data)
    import torch

    if info.format == "torchscript":
        torch_format.torchscript_archive(files.data, what).close()
        return torch.jit.load(io.BytesIO(files.data), map_location="cpu")
    torch_format.pt2_archive(files.data, what)[0].close()
    return torch.export.load(io.BytesIO(files.data))
