"""Models: register, check and load scikit-learn, ONNX, TorchScript, ``.pt2`` and pickle files.

``info`` is the record (:class:`ArtifactInfo`); ``formats`` checks each file
format (detection, safety checks, static metadata); ``registry`` describes,
stores and lists models; ``loading`` verifies a stored model against its id
and trust record before loading it; ``describe`` fills in what only a loaded
model can tell (in the worker); ``predictors`` gives every backend one
interface.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.models.estimators import sklearn_metadata
from engine.models.formats import detect_format
from engine.models.formats import onnx as _onnx
from engine.models.formats import skops as _skops
from engine.models.formats.onnx import external_data_files
from engine.models.formats.skops import ALLOWED_TYPES as SKOPS_ALLOWED_TYPES
from engine.models.formats.torch import pt2_code_members, pt2_pickle_members, pt2_static_metadata
from engine.models.info import CODE_BEARING, SKLEARN_FORMATS, SUFFIXES, ArtifactInfo
from engine.models.loading import load_model, stored_files
from engine.models.registry import (
    check_bytes,
    content_digest,
    delete,
    get,
    info_from_bytes,
    list_registered,
    register_bytes,
    register_file,
    save,
    update,
)


def check_onnx(data: bytes, *, base_dir: Path | None) -> Any:
    """Parse and check an ONNX model (external data confined to ``base_dir``)."""
    return _onnx.check(data, base_dir=base_dir)


def onnx_metadata(model: Any) -> dict[str, Any]:
    """Inputs, outputs and parameter count of a parsed ONNX model."""
    return _onnx.metadata(model)


def load_skops(data: bytes, *, trusted: bool) -> Any:
    """The estimator in a skops file (types outside the allow-list or callables only when ``trusted``)."""
    return _skops.load(data, trusted=trusted)


def skops_untrusted_types(data: bytes) -> list[str]:
    """Types and callables in a skops file that need trust."""
    return _skops.audit(data).refused


__all__ = [
    "CODE_BEARING", "SKLEARN_FORMATS", "SKOPS_ALLOWED_TYPES", "SUFFIXES", "ArtifactInfo", "check_bytes", "check_onnx",
    "content_digest", "delete", "detect_format", "external_data_files", "get", "info_from_bytes",
    "list_registered", "load_model", "load_skops", "onnx_metadata", "pt2_code_members", "pt2_pickle_members",
    "pt2_static_metadata", "register_bytes", "register_file", "save", "sklearn_metadata",
    "skops_untrusted_types", "stored_files", "update",
]
