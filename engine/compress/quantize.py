"""int8 recipes: ONNX Runtime dynamic and static (QDQ) quantization, and torch dynamic int8.

* ``dynamic-int8`` (ONNX Runtime): ``quantize_dynamic`` on the ONNX export,
  weights int8 per tensor; activations are quantized on the fly.
* ``dynamic-int8`` (torch): ``torch.ao.quantization.quantize_dynamic_jit`` on a
  TorchScript model (the eager ``quantize_dynamic`` swaps ``nn.Linear``
  modules, which a loaded TorchScript model does not have: its graph-mode twin
  rewrites the ``aten::linear`` calls into ``quantized::linear_dynamic``);
  saved as TorchScript.
* ``static-int8`` (ONNX Runtime): ``quant_pre_process`` (shape inference and
  optimisation), then ``quantize_static`` in the QDQ format with uint8
  activations and int8 weights (ONNX Runtime's advice for x86 CPUs), calibrated
  with MinMax (or entropy / percentile) on rows from the training part of the
  first fold (:mod:`engine.compress.calibration`).

A graph with nothing ONNX Runtime quantizes (e.g. skl2onnx's
``LinearClassifier`` or tree ensembles, operators of ``ai.onnx.ml``) is
:class:`~engine.compress.methods.NotApplicable`, with the operators named.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from engine.compress.methods import NotApplicable
from engine.errors import FrontierError, first_line

QUANTIZED_OPS = ("MatMulInteger", "ConvInteger", "DynamicQuantizeLinear", "DynamicQuantizeMatMul", "QLinear",
                 "QuantizeLinear", "DequantizeLinear", "QGemm", "QAttention", "DynamicQuantizeLSTM")


def _ops(data: bytes) -> list[str]:
    import onnx

    return [n.op_type for n in onnx.load_from_string(data).graph.node]


def _nothing_quantized(before: bytes, after: bytes, what: str) -> None:
    old, new = set(_ops(before)), _ops(after)
    added = [op for op in new if op not in old and op.startswith(QUANTIZED_OPS)]
    if not added:
        shown = ", ".join(sorted(old)[:6]) + (", ..." if len(old) > 6 else "")
        raise NotApplicable(f"{what} found nothing to quantize in the ONNX graph (operators: {shown}); it "
                            "quantizes MatMul, Gemm, Conv and similar, not ai.onnx.ml operators")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """ONNX Runtime's quantizer logs (root logger) and prints progress for every tensor: keep errors only."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def ort_dynamic(onnx_bytes: bytes, tmp: Path) -> tuple[bytes, str]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src, out = tmp / "dynamic-in.onnx", tmp / "dynamic-out.onnx"
    src.write_bytes(onnx_bytes)
    with _quiet():
        try:
            quantize_dynamic(str(src), str(out), weight_type=QuantType.QInt8, per_channel=False, reduce_range=False)
        except Exception as exc:
            raise FrontierError(f"ONNX Runtime quantize_dynamic failed: {type(exc).__name__}: "
                                f"{first_line(exc, 160)}") from None
    data = out.read_bytes()
    _nothing_quantized(onnx_bytes, data, "ONNX Runtime dynamic quantization")
    return data, "onnxruntime quantize_dynamic, int8 weights per tensor"


CALIBRATION_METHODS = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}


def ort_static(onnx_bytes: bytes, tmp: Path, X: np.ndarray, rows: np.ndarray, *, calibration: str) -> tuple[bytes, str]:
    import onnx
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    from engine.compress.calibration import reader

    if len(rows) == 0:
        raise FrontierError("the first fold's training part has no rows to calibrate on")
    src, pre, out = tmp / "static-in.onnx", tmp / "static-pre.onnx", tmp / "static-out.onnx"
    src.write_bytes(onnx_bytes)
    input_name = onnx.load_from_string(onnx_bytes).graph.input[0].name
    method = getattr(CalibrationMethod, CALIBRATION_METHODS[calibration])
    pre_note = "quant_pre_process"
    # ONNX Runtime's symbolic shape inference saves "sym_shape_infer_temp.onnx" into the current folder when
    # it gives up: run it from the scratch folder, so no file lands wherever the process was started
    with _quiet(), contextlib.chdir(tmp):
        try:
            quant_pre_process(str(src), str(pre))
        except Exception:  # symbolic shape inference fails on some graphs (ai.onnx.ml): ONNX's own then
            try:
                quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
                pre_note = "quant_pre_process (no symbolic shapes)"
            except Exception as exc:
                raise FrontierError(f"ONNX Runtime quant_pre_process failed: {type(exc).__name__}: "
                                    f"{first_line(exc, 160)}") from None
        try:
            quantize_static(str(pre), str(out), reader(X, rows, input_name), quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=False,
                            reduce_range=False, calibrate_method=method)
        except Exception as exc:
            raise FrontierError(f"ONNX Runtime quantize_static failed: {type(exc).__name__}: "
                                f"{first_line(exc, 160)}") from None
    data = out.read_bytes()
    _nothing_quantized(onnx_bytes, data, "ONNX Runtime static quantization")
    return data, (f"{pre_note} + quantize_static QDQ, uint8 activations, int8 weights per tensor, "
                  f"{calibration} calibration on {len(rows)} rows of fold 1's training part")


def torch_dynamic(module: Any) -> tuple[bytes, str]:
    import torch
    from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic_jit

    if not isinstance(module, torch.jit.ScriptModule):
        raise NotApplicable("torch dynamic int8 applies to TorchScript models only")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            quantized = quantize_dynamic_jit(module.eval(), {"": default_dynamic_qconfig})
        except Exception as exc:
            raise FrontierError(f"torch quantize_dynamic_jit failed: {type(exc).__name__}: "
                                f"{first_line(exc, 160)}") from None
        graph = str(quantized.inlined_graph)
        if "quantized::linear_dynamic" not in graph:
            raise NotApplicable("torch dynamic int8 found no Linear layer in the TorchScript graph")
        buf = io.BytesIO()
        torch.jit.save(quantized, buf)
    n = graph.count("quantized::linear_dynamic")
    return buf.getvalue(), (f"torch.ao.quantization.quantize_dynamic_jit, {n} Linear layer(s) to int8 "
                            "(weights per tensor), TorchScript")
