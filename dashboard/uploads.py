"""What the Models & data page does with an upload, apart from drawing it.

These functions take bytes and options and call the engine; they raise
:class:`~engine.errors.FrontierError` on bad input and write nothing then.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from engine import datasets, jobs, models
from engine.datasets import Dataset
from engine.errors import FrontierError
from engine.models import ArtifactInfo
from engine.workspace import Workspace

MODEL_TYPES = ("skops", "onnx", "pt", "pth", "pt2", "pkl", "pickle", "joblib")
DATASET_TYPES = ("csv", "parquet", "npz")


@dataclass(frozen=True)
class ModelUpload:
    info: ArtifactInfo
    existed: bool
    inspect_job: str | None = None


def register_model(ws: Workspace, data: bytes, filename: str, *, trusted: bool,
                   display_name: str | None = None) -> ModelUpload:
    """Validate and register an uploaded model; code-bearing formats need ``trusted``.

    A code-bearing model (pickle, TorchScript, ``.pt2``) is only described
    by loading it, which happens in the isolated worker: an ``inspect`` job is
    submitted to fill in its parameter count.
    """
    if not data:
        raise FrontierError(f"'{filename}' is empty; upload the model file itself")
    fmt = models.detect_format(filename, data)
    if fmt in ("pickle", "torchscript") and not trusted:
        kind = "a pickle/joblib file" if fmt == "pickle" else "a TorchScript archive"
        raise FrontierError(
            f"'{filename}' is {kind}, which can run arbitrary code when loaded; tick 'I trust this file' "
            "only if you trust its author, or export the model to ONNX or skops")
    before = {i.id for i in models.list_registered(ws)}
    info = models.register_bytes(ws, data, filename, trusted=trusted,
                                    display_name=(display_name or "").strip() or None)
    existed = info.id in before
    job = None
    if info.code_bearing and info.n_parameters is None:
        job = jobs.submit(ws, {"kind": "describe", "artifact_id": info.id}, title=f"describe {info.name}")
    return ModelUpload(info, existed, job)


def register_dataset(ws: Workspace, data: bytes, filename: str, *, name: str | None = None) -> Dataset:
    """Parse, validate and register an uploaded CSV, Parquet or NPZ dataset."""
    ds = datasets.read_bytes(data, name=filename)
    if name and name.strip():
        ds = dataclasses.replace(ds, name=name.strip())
    return datasets.register(ws, ds)
