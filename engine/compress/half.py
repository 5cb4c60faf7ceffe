"""fp16: onnxconverter-common's ``convert_float_to_float16`` on the ONNX export.

``keep_io_types=True``: inputs and outputs stay float32 (casts at the edges),
so the variant takes the same float32 rows as every other model. Operators on
the converter's block list (every ``ai.onnx.ml`` operator among them) stay
float32; a graph where nothing was converted is
:class:`~engine.compress.methods.NotApplicable`.
"""

from __future__ import annotations

import warnings

from engine.compress.methods import NotApplicable
from engine.errors import FrontierError, first_line


def to_fp16(onnx_bytes: bytes) -> tuple[bytes, str]:
    import onnx
    import onnxconverter_common
    from onnxconverter_common import float16

    model = onnx.load_from_string(onnx_bytes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            converted = float16.convert_float_to_float16(model, keep_io_types=True)
        except Exception as exc:
            raise FrontierError(f"onnxconverter-common could not convert to fp16: {type(exc).__name__}: "
                                f"{first_line(exc, 160)}") from None
    halves = sum(1 for t in converted.graph.initializer if t.data_type == onnx.TensorProto.FLOAT16)
    if not halves:
        ops = sorted({n.op_type for n in model.graph.node})
        raise NotApplicable(f"fp16 conversion changed no weights: every operator ({', '.join(ops[:6])}) is on "
                            "the converter's float32 block list")
    return converted.SerializeToString(), (f"onnxconverter-common {onnxconverter_common.__version__} "
                                           f"convert_float_to_float16, keep_io_types, {halves} fp16 tensors")
