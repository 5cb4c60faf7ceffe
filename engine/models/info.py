"""What Frontier records about a registered model (``artifacts/<id>/meta.json``).

The record is editable by anyone who can write the workspace, so nothing in
it is believed on its own: the stored file name must be ``model.<known
suffix>``, the format must be the one that suffix and the file's bytes give,
and ``trusted`` is recomputed from the signed trust record (``engine.trust``)
whenever a record is read.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from engine import ids, trust
from engine.errors import FrontierError
from engine.workspace import Workspace

Format = Literal["skops", "pickle", "onnx", "torchscript", "torch_export"]
CODE_BEARING: frozenset[str] = frozenset({"pickle", "torchscript", "torch_export"})
SKLEARN_FORMATS: tuple[str, ...] = ("skops", "pickle")  # scikit-learn estimators: they take the DataFrame
# upload suffix -> format family ("torch" is TorchScript, told apart from a checkpoint by its bytes)
SUFFIXES = {
    ".skops": "skops", ".pkl": "pickle", ".pickle": "pickle", ".joblib": "pickle",
    ".onnx": "onnx", ".pt": "torch", ".pth": "torch", ".torchscript": "torch", ".pt2": "torch_export",
}
MODEL_FILE_RE = re.compile(r"model(\.[a-z0-9]+)")
META_FILE = "meta.json"


def model_file_name(name: str) -> str:
    """The stored name of an uploaded file: ``model`` plus its (known) suffix."""
    return f"model{Path(name).suffix.lower()}"


def format_of_suffix(suffix: str) -> set[str]:
    """The formats a stored ``model<suffix>`` may hold."""
    family = SUFFIXES.get(suffix)
    return {"torchscript"} if family == "torch" else {family} if family else set()


@dataclass(frozen=True)
class ArtifactInfo:
    """Metadata of a registered model.

    ``trusted`` is true only while ``trust`` holds a record whose signature
    verifies; ``owner`` is who registered it (None for records made before
    owners existed).
    """

    id: str
    name: str
    format: str
    file: str
    size_bytes: int
    trusted: bool = False
    task: str | None = None
    estimator: str | None = None
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    n_features: int | None = None
    feature_names: list[str] | None = None
    classes: list[Any] | None = None
    n_parameters: int | None = None
    accepts_non_numeric: bool = False
    requires_trust: bool = False
    lineage: str = "uploaded"
    source_path: str | None = None
    owner: str | None = None
    trust: dict[str, Any] | None = None

    @property
    def code_bearing(self) -> bool:
        """Loading it can run code: only trusted, and only in the worker."""
        return self.format in CODE_BEARING or self.requires_trust

    @property
    def trusted_by(self) -> str | None:
        """Who marked it trusted (from the trust record; None when not trusted)."""
        return self.trust.get("trusted_by") if self.trusted and self.trust else None

    def path(self, ws: Workspace) -> Path:
        return ws.artifacts / self.id / self.file

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_FIELDS = {f.name: f for f in fields(ArtifactInfo)}
_REQUIRED = ("id", "name", "format", "file", "size_bytes")


def check_location(info: ArtifactInfo) -> None:
    """Refuse a record whose id, file name or format could point anywhere else."""
    if not ids.is_content_id(info.id):
        raise FrontierError(f"model record has an invalid id '{str(info.id)[:40]}'")
    m = MODEL_FILE_RE.fullmatch(info.file) if isinstance(info.file, str) else None
    if m is None or info.format not in format_of_suffix(m.group(1)):
        raise FrontierError(
            f"the record of model {info.id} names file '{str(info.file)[:60]}' as {str(info.format)[:20]}; "
            "a stored model is always model.<suffix> of its format — the record was altered, delete and re-upload it")


def from_record(artifact_id: str, raw: object) -> ArtifactInfo:
    """An :class:`ArtifactInfo` from a ``meta.json`` of folder ``artifact_id``, checked.

    Unknown keys are dropped; ``trusted`` is recomputed from the signature.
    """
    damaged = f"the record of model {artifact_id} is damaged"
    if not isinstance(raw, dict) or any(k not in raw for k in _REQUIRED):
        raise FrontierError(f"{damaged}; delete and re-upload the model")
    values = {k: v for k, v in raw.items() if k in _FIELDS}
    if values["id"] != artifact_id:
        raise FrontierError(f"{damaged} (it names id '{str(values['id'])[:40]}'); delete and re-upload the model")
    for key in ("name", "format", "file"):
        if not isinstance(values[key], str):
            raise FrontierError(f"{damaged} ('{key}' is not text); delete and re-upload the model")
    if not isinstance(values["size_bytes"], int) or isinstance(values["size_bytes"], bool):
        raise FrontierError(f"{damaged} ('size_bytes' is not a number); delete and re-upload the model")
    record = values.get("trust")
    values["trust"] = record if isinstance(record, dict) else None
    values["trusted"] = trust.verify(values["trust"], artifact_id=artifact_id)
    values["requires_trust"] = bool(values.get("requires_trust", False))
    info = ArtifactInfo(**values)
    check_location(info)
    return info
