"""Import torch and torchvision safely on a CPU-only torch.

The pinned torchvision wheel is a CUDA build: on a CPU-only torch its C++
extension fails to load and ``import torchvision`` raises ``operator
torchvision::nms does not exist``. Declaring the two operator schemas that
torchvision registers fake kernels for lets the pure-Python parts (models,
transforms) import. This is the one place torchvision is imported.
"""

from __future__ import annotations

import functools
from types import ModuleType

_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_libraries: list[object] = []  # keep the Library objects alive


@functools.cache
def import_torchvision() -> ModuleType:
    """Return the ``torchvision`` module, declaring missing op schemas first."""
    import torch

    if not _ops_loadable(torch):
        lib = torch.library.Library("torchvision", "DEF")
        for schema in _SCHEMAS.values():
            lib.define(schema)
        _libraries.append(lib)
    import torchvision

    return torchvision


def _ops_loadable(torch: ModuleType) -> bool:
    """True when ``torchvision::nms`` already exists or the extension loads."""
    try:
        torch.ops.torchvision.nms  # noqa: B018
        return True
    except (AttributeError, RuntimeError):
        pass
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        return False
    for lib_path in Path(spec.origin).parent.glob("_C*.so"):
        try:
            torch.ops.load_library(str(lib_path))
            torch.ops.torchvision.nms  # noqa: B018
            return True
        except (OSError, RuntimeError, AttributeError):
            return False
    return False
