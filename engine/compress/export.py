"""The ONNX export every ONNX Runtime recipe starts from, with its parity against the source.

scikit-learn models go through skl2onnx (one float32 input ``input`` of shape
``[batch, n_features]``, class probabilities without ZipMap, opsets
:data:`OPSET`/:data:`ML_OPSET`); TorchScript through ``torch.onnx.export``'s
TorchScript exporter (``dynamo=False``) and ``.pt2`` programs through its
dynamo exporter (which takes an ``ExportedProgram``; needs onnxscript). The
batch axis is dynamic in every export (checked). An export that does not
match its source within :data:`engine.compress.parity.PROBA_ATOL` is refused.
An ONNX source is its own export.
"""

from __future__ import annotations

import io
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.compress.parity import Parity
from engine.errors import FrontierError, first_line

OPSET = 17
ML_OPSET = 3
INPUT, OUTPUT = "input", "output"


@dataclass(frozen=True)
class Export:
    data: bytes
    seconds: float        # what the export took (0 for an ONNX source)
    tool: str             # how it was made, for lineage
    parity: Parity | None = None  # against the source (None for an ONNX source)


def to_onnx(model: Any, fmt: str, example: np.ndarray, *, n_features: int | None = None) -> tuple[bytes, str]:
    """ONNX bytes of a loaded model of format ``fmt`` and how they were made; ``example`` is a batch of
    real rows (float32, the model's input shape)."""
    if fmt in ("skops", "pickle"):
        return sklearn_to_onnx(model, n_features or int(np.prod(example.shape[1:])))
    if fmt in ("torchscript", "torch_export"):
        return torch_to_onnx(model, fmt, example)
    raise FrontierError(f"no ONNX export for {fmt} models")


def sklearn_to_onnx(estimator: Any, n_features: int) -> tuple[bytes, str]:
    import skl2onnx
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.base import is_classifier

    kind = type(estimator).__name__
    options = {"zipmap": False} if is_classifier(estimator) else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            onx = convert_sklearn(estimator, initial_types=[(INPUT, FloatTensorType([None, n_features]))],
                                  options=options, target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET})
    except Exception as exc:
        cause = exc.__cause__ or exc
        raise FrontierError(f"skl2onnx {skl2onnx.__version__} could not convert {kind}: "
                            f"{type(cause).__name__}: {first_line(cause, 160)}") from None
    _dedupe_opsets(onx)
    return onx.SerializeToString(), f"skl2onnx {skl2onnx.__version__}, opset {OPSET}"


def _dedupe_opsets(model: Any) -> None:
    """One opset entry per domain (skl2onnx 1.20 lists the default domain twice, which ONNX Runtime's
    quantizer refuses); the highest version of each is kept."""
    best: dict[str, int] = {}
    for o in model.opset_import:
        best[o.domain] = max(best.get(o.domain, 0), o.version)
    if len(best) == len(model.opset_import):
        return
    del model.opset_import[:]
    for domain, version in best.items():
        entry = model.opset_import.add()
        entry.domain, entry.version = domain, version


def torch_to_onnx(module: Any, fmt: str, example: np.ndarray) -> tuple[bytes, str]:
    import torch

    x = torch.from_numpy(np.array(example, dtype=np.float32))  # a writable copy
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt == "torchscript":
                buf = io.BytesIO()
                torch.onnx.export(module, (x,), buf, dynamo=False, input_names=[INPUT], output_names=[OUTPUT],
                                  dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}}, opset_version=OPSET,
                                  do_constant_folding=True)
                data, tool = buf.getvalue(), f"torch.onnx TorchScript exporter, torch {torch.__version__}, opset {OPSET}"
            else:
                program = torch.onnx.export(module, (x,), dynamo=True, input_names=[INPUT], output_names=[OUTPUT],
                                            verbose=False)
                with tempfile.TemporaryDirectory(prefix="frontier-export-") as tmp:
                    path = Path(tmp) / "model.onnx"
                    program.save(str(path))
                    if len(list(Path(tmp).iterdir())) != 1:
                        raise FrontierError("the export wrote external data files; models over 2 GB are not "
                                            "compressed yet")
                    data = path.read_bytes()
                tool = f"torch.onnx dynamo exporter, torch {torch.__version__}"
    except FrontierError:
        raise
    except Exception as exc:
        raise FrontierError(f"torch.onnx could not export the {fmt} model: {type(exc).__name__}: "
                            f"{first_line(exc, 160)}") from None
    check_dynamic_batch(data)
    return data, tool


def check_dynamic_batch(data: bytes) -> None:
    """Refuse an export whose input has a fixed batch size (every batch size must run)."""
    import onnx

    model = onnx.load_from_string(data)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if not dims or not dims[0].dim_param:
        raise FrontierError("the ONNX export has a fixed batch size; Frontier needs a dynamic batch axis")


def timed_export(model: Any, fmt: str, example: np.ndarray, *, n_features: int | None = None) -> tuple[bytes, str, float]:
    t0 = time.perf_counter()
    data, tool = to_onnx(model, fmt, example, n_features=n_features)
    return data, tool, time.perf_counter() - t0
