"""Model formats, one module each: detection, safety checks, static metadata.

:func:`detect_format` names the format from a file's suffix *and* its bytes
(a stored ``model.<suffix>`` is re-detected the same way whenever it is
loaded, so a record can never make Frontier read bytes as another format).
"""

from __future__ import annotations

from pathlib import Path

from engine.archives import is_zip
from engine.errors import FrontierError
from engine.models.formats import torch as torch_format
from engine.models.formats.limits import check_size, open_zip
from engine.models.info import SUFFIXES

__all__ = ["detect_format"]


def detect_format(name: str, data: bytes) -> str:
    """The format of a model file, from its name and bytes."""
    suffix = Path(name).suffix.lower()
    kind = SUFFIXES.get(suffix)
    if kind is None:
        raise FrontierError(
            f"'{name}' is not a model format Frontier reads; use .skops, .onnx, .pt (TorchScript), .pt2 (torch.export) or .pkl/.joblib")
    if not data:
        raise FrontierError(f"'{name}' is empty; upload the model file itself")
    check_size(len(data), f"'{name}'")
    if kind == "torch":
        return torch_format.detect_torchscript(name, data)
    if kind in ("skops", "torch_export"):
        if not is_zip(data):
            what = "a skops file; save it with skops.io.dump" if kind == "skops" else \
                "a torch.export archive; save it with torch.export.save"
            raise FrontierError(f"'{name}' is not {what}")
        if kind == "skops" and "schema.json" not in open_zip(data, f"'{name}'").names:
            raise FrontierError(f"'{name}' is not a skops file (no schema.json); save it with skops.io.dump")
    return kind
