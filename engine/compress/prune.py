"""Pruning recipes for torch models: global magnitude (unstructured) and channels (structured).

Both start from an eager copy of the model: the parity-checked ONNX export,
converted back to torch modules by onnx2torch (``Gemm`` → ``nn.Linear``,
``Conv`` → ``nn.Conv2d``, ...). A loaded TorchScript model has no eager
modules (its forward is compiled code), and the pruning libraries work on
eager ones.

* ``magnitude``: ``torch.nn.utils.prune.global_unstructured`` with
  ``L1Unstructured`` over the weights of every Linear and Conv layer: the
  requested share of all those weights, smallest |w| first across layers, is
  zeroed. Shapes do not change, so dense kernels do the same work; whether
  latency changed is measured, not assumed.
* ``channels``: torch-pruning's ``MagnitudePruner`` (L2 importance of each
  output channel/neuron, the dependency graph keeps consumers consistent)
  removes the requested share of each layer's output channels; the output
  layer is kept whole, so the class count does not change.

Optional fine-tuning (``epochs`` > 0) trains the pruned model on fold 1's
training part with the pruning masks held (magnitude) or on the smaller
network (channels). The result is traced to TorchScript; its *real* sparsity
(zeros counted, channels and parameters counted) is reported next to the
request.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from engine.compress.methods import NotApplicable
from engine.errors import FrontierError, first_line

KINDS = ("magnitude", "channels")
MAX_SPARSITY = 0.95


def eager_copy(onnx_bytes: bytes) -> Any:
    """The ONNX model as an eager ``torch.fx.GraphModule`` of standard torch layers (onnx2torch)."""
    import onnx

    from engine._torch_compat import import_torchvision

    import_torchvision()  # onnx2torch imports torchvision, whose pinned CUDA build needs the shim
    from onnx2torch import convert

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return convert(onnx.load_from_string(onnx_bytes)).eval()
    except Exception as exc:
        raise FrontierError(f"onnx2torch could not rebuild the model as torch layers: {type(exc).__name__}: "
                            f"{first_line(exc, 160)}") from None


def layers(model: Any) -> list[tuple[str, Any]]:
    """The Linear and Conv layers pruning acts on, in graph order."""
    from torch import nn

    kinds = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, kinds)]
    if not found:
        raise NotApplicable("pruning found no Linear or Conv layer in the model")
    return found


def magnitude(model: Any, sparsity: float) -> dict[str, Any]:
    """Zero the ``sparsity`` share of all Linear/Conv weights with the smallest |w| (masks stay attached)."""
    from torch.nn.utils import prune

    targets = [(m, "weight") for _, m in layers(model)]
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=float(sparsity))
    return {"kind": "magnitude", "requested": float(sparsity), "n_layers": len(targets)}


def make_permanent(model: Any) -> None:
    """Fold magnitude pruning's masks into the weights (``prune.remove``); no-op for unpruned layers."""
    from torch.nn.utils import prune

    for _, m in layers(model):
        if prune.is_pruned(m) and hasattr(m, "weight_orig"):
            prune.remove(m, "weight")


def weight_sparsity(model: Any) -> tuple[int, int]:
    """(zeros, total) over the Linear/Conv weights."""
    zeros = total = 0
    for _, m in layers(model):
        w = m.weight.detach()
        zeros += int((w == 0).sum())
        total += int(w.numel())
    return zeros, total


def channels(model: Any, sparsity: float, example: np.ndarray) -> dict[str, Any]:
    """Remove the ``sparsity`` share of every layer's output channels but the output layer's (torch-pruning)."""
    import torch
    import torch_pruning as tp

    found = layers(model)
    head = found[-1][1]
    widths = {name: _width(m) for name, m in found}
    n_before = _n_params(found)
    ex = torch.from_numpy(np.ascontiguousarray(example, dtype=np.float32))
    classes = model(ex).shape[1:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pruner = tp.pruner.MagnitudePruner(model, ex, importance=tp.importance.MagnitudeImportance(p=2),
                                               pruning_ratio=float(sparsity), ignored_layers=[head])
            pruner.step()
        except Exception as exc:
            raise FrontierError(f"torch-pruning could not prune the channels: {type(exc).__name__}: "
                                f"{first_line(exc, 160)}") from None
    with torch.no_grad():
        if model(ex).shape[1:] != classes:
            raise FrontierError("channel pruning changed the model's output width; the output layer must stay whole")
    after = {name: _width(m) for name, m in layers(model)}
    pruned = [name for name, _ in found if found and name != found[-1][0]]
    before_total = sum(widths[n] for n in pruned)
    removed = before_total - sum(after[n] for n in pruned)
    if not removed:
        raise NotApplicable(f"channel pruning at {sparsity:g} removed no channel (layers too narrow to prune)")
    n_after = _n_params(layers(model))
    return {"kind": "channels", "requested": float(sparsity), "n_layers": len(pruned),
            "channels_before": before_total, "channels_removed": removed,
            "channel_sparsity": removed / before_total if before_total else 0.0,
            "parameters_before": n_before, "parameters_after": n_after,
            "widths": {n: [widths[n], after[n]] for n in pruned}}


def _width(m: Any) -> int:
    return int(m.out_features if hasattr(m, "out_features") else m.out_channels)


def _n_params(found: list[tuple[str, Any]]) -> int:
    return sum(int(p.numel()) for _, m in found for p in m.parameters())


def to_torchscript(model: Any, example: np.ndarray) -> bytes:
    """``torch.jit.trace`` of the eager model, saved in a fresh process (:mod:`engine.compress.serialize`:
    the bytes depend on the model only). onnx2torch's layers take any batch; parity is checked after."""
    from engine.compress import serialize

    return serialize.trace(model, example)
