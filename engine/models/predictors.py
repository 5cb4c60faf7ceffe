"""One interface over every backend: scikit-learn, torch and ONNX Runtime.

A :class:`Predictor` exposes ``infer(batch)`` — the bare call the latency
harness times — and ``predict_scores(batch)``, which interprets the outputs as
class probabilities (columns in the dataset's sorted class order) or
regression values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engine.errors import FrontierError
from engine.models.info import SKLEARN_FORMATS

if TYPE_CHECKING:
    from engine.datasets import Prepared


@dataclass
class Scores:
    """Interpreted outputs: ``proba`` (N, K) and/or ``labels`` (N,) class indices, or ``values``."""

    proba: np.ndarray | None = None
    labels: np.ndarray | None = None
    values: np.ndarray | None = None


class Predictor:
    """Base class; subclasses set the attributes and implement ``infer``/``predict_scores``."""

    backend: str = ""
    device: str = "cpu"
    provider: str | None = None
    precision: str = "fp32"
    takes_frame: bool = False  # scikit-learn models get the DataFrame
    thread_settings: Mapping[str, Any] = MappingProxyType({})  # what it set on its backend's thread pools

    def infer(self, batch: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict_scores(self, batch: Any, *, classes: np.ndarray | None) -> Scores:  # pragma: no cover
        raise NotImplementedError

    def synchronize(self) -> None:
        """Wait for queued device work (CUDA); a no-op on CPU."""


# ------------------------------------------------------------ scikit-learn
class SklearnPredictor(Predictor):
    backend = "sklearn"
    takes_frame = True

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
        self._has_proba = hasattr(estimator, "predict_proba")
        self.infer = estimator.predict_proba if self._has_proba else estimator.predict  # type: ignore[method-assign]

    def predict_scores(self, batch: Any, *, classes: np.ndarray | None) -> Scores:
        est = self.estimator
        if classes is None:
            return Scores(values=np.asarray(est.predict(batch), dtype=np.float64).ravel())
        model_classes = np.asarray(est.classes_)
        missing = np.setdiff1d(model_classes, classes)
        if len(missing):
            raise FrontierError(
                f"the model predicts class(es) {list(missing[:5])} that the dataset's target does not have; check --target")
        cols = np.searchsorted(classes, model_classes)
        labels = np.searchsorted(classes, np.asarray(est.predict(batch)))
        proba = None
        if self._has_proba:
            proba = np.zeros((len(labels), len(classes)))
            proba[:, cols] = est.predict_proba(batch)
        return Scores(proba=proba, labels=labels)


# -------------------------------------------------------------------- torch
class TorchPredictor(Predictor):
    backend = "torch"

    def __init__(self, module: Any, *, device: str = "cpu", precision: str = "fp32",
                 threads: int | None = None, channels_last: bool = False) -> None:
        """``module`` is never changed: a device, precision or memory format other than the file's own is
        applied to a copy (``nn.Module.to`` works in place, and an exported program's ``module()`` shares
        its weights), so the caller's model stays as loaded for whatever runs next."""
        import copy

        import torch

        if threads:
            torch.set_num_threads(threads)
        self.thread_settings = {"torch_threads": torch.get_num_threads()}

        exported = isinstance(module, torch.export.ExportedProgram)
        if exported:
            module = module.module()  # a GraphModule; exported programs have no train/eval switch
        self._torch = torch
        self.device = device
        self.precision = precision
        self._dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
        if device != "cpu" or precision != "fp32" or channels_last:
            module = copy.deepcopy(module)
            module = module.to(device)
            if precision != "fp32":
                module = module.to(self._dtype)
            if channels_last:
                module = module.to(memory_format=torch.channels_last)
        if not exported:
            module.eval()
        self.module = module

    def infer(self, batch: np.ndarray) -> Any:
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(batch)
            if self.device != "cpu" or self.precision != "fp32":
                x = x.to(self.device, self._dtype, non_blocking=True)
            return self.module(x)

    def synchronize(self) -> None:
        if self.device.startswith("cuda"):
            self._torch.cuda.synchronize()

    def predict_scores(self, batch: np.ndarray, *, classes: np.ndarray | None) -> Scores:
        out = self.infer(batch)
        if isinstance(out, tuple | list):
            out = out[0]
        return interpret_array(out.float().cpu().numpy(), classes)


# ------------------------------------------------------------- ONNX Runtime
ORT_LEVELS = {"disabled": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED",
              "all": "ORT_ENABLE_ALL"}


class OnnxPredictor(Predictor):
    backend = "onnxruntime"

    def __init__(self, path: str | os.PathLike[str], *, providers: list[str] | None = None,
                 threads: int | None = None, spinning: bool | None = None,
                 graph_optimization: str | None = None) -> None:
        import onnxruntime as ort

        from engine import settings

        spin = settings.ort_spinning() if spinning is None else spinning
        opts = ort.SessionOptions()
        if graph_optimization is not None:  # ONNX Runtime's default is "all"
            opts.graph_optimization_level = getattr(ort.GraphOptimizationLevel, ORT_LEVELS[graph_optimization])
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "1" if spin else "0")
        self.thread_settings = {"ort_intra_op_threads": threads or None, "ort_spinning": spin}
        if graph_optimization is not None:
            self.thread_settings["ort_graph_optimization"] = graph_optimization
        available = ort.get_available_providers()
        providers = [p for p in (providers or ["CPUExecutionProvider"]) if p in available] or ["CPUExecutionProvider"]
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=providers)
        except Exception as exc:
            raise FrontierError(f"ONNX Runtime could not load the model: {str(exc).splitlines()[0][:300]}") from None
        self.provider = self.session.get_providers()[0]
        self.device = "cuda" if self.provider.startswith(("CUDA", "Tensorrt")) else "cpu"
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise FrontierError(f"the ONNX model has {len(inputs)} inputs; Frontier benchmarks single-input models")
        self.input_name = inputs[0].name
        self.input_shape = inputs[0].shape
        self._np_dtype = np.float64 if inputs[0].type == "tensor(double)" else np.float32
        self.output_names = [o.name for o in self.session.get_outputs()]

    def infer(self, batch: np.ndarray) -> Any:
        return self.session.run(None, {self.input_name: batch})

    def predict_scores(self, batch: np.ndarray, *, classes: np.ndarray | None) -> Scores:
        if batch.dtype != self._np_dtype:
            batch = batch.astype(self._np_dtype)
        outputs = self.infer(batch)
        if classes is None:
            return Scores(values=np.asarray(outputs[0], dtype=np.float64).reshape(len(batch), -1)[:, 0])
        return interpret_onnx_outputs(outputs, classes)


def interpret_onnx_outputs(outputs: list[Any], classes: np.ndarray) -> Scores:
    """Understand logits, probabilities, or skl2onnx's label + probabilities (ZipMap or not)."""
    labels = proba = None
    for out in outputs:
        if isinstance(out, list) and out and isinstance(out[0], dict):  # ZipMap
            keys = np.asarray(list(out[0].keys()))
            cols = _class_columns(keys, classes)
            proba = np.zeros((len(out), len(classes)))
            proba[:, cols] = np.array([list(d.values()) for d in out], dtype=np.float64)
            continue
        arr = np.asarray(out)
        if arr.ndim == 1 and (arr.dtype.kind in "iuSUO" or arr.dtype == np.int64):
            labels = _label_indices(arr, classes)
        elif arr.ndim == 2 and arr.dtype.kind == "f" and proba is None:
            proba = interpret_array(arr, classes).proba
    if proba is None and labels is None:
        raise FrontierError("could not find class scores among the ONNX model's outputs")
    if labels is None:
        labels = proba.argmax(axis=1)
    return Scores(proba=proba, labels=labels)


def interpret_array(arr: np.ndarray, classes: np.ndarray | None) -> Scores:
    """Logits or probabilities (N, K), a binary score (N, 1), or regression values."""
    if classes is None:
        return Scores(values=arr.reshape(len(arr), -1)[:, 0].astype(np.float64))
    arr = arr.astype(np.float64).reshape(len(arr), -1)
    k = len(classes)
    if arr.shape[1] == 1 and k == 2:
        col = arr[:, 0]
        p1 = col if _is_probability(col[:, None], single=True) else 1.0 / (1.0 + np.exp(-col))
        proba = np.column_stack([1 - p1, p1])
    elif arr.shape[1] == k:
        proba = arr if _is_probability(arr) else _softmax(arr)
    else:
        raise FrontierError(
            f"the model outputs {arr.shape[1]} score(s) per row but the target has {k} classes; pick the matching dataset or target")
    return Scores(proba=proba, labels=proba.argmax(axis=1))


def _is_probability(arr: np.ndarray, *, single: bool = False) -> bool:
    if arr.size == 0 or arr.min() < -1e-6 or arr.max() > 1 + 1e-6:
        return False
    return single or bool(np.allclose(arr.sum(axis=1), 1.0, atol=1e-3))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _class_columns(keys: np.ndarray, classes: np.ndarray) -> np.ndarray:
    if (keys.dtype.kind in "iu" and classes.dtype.kind not in "iu") or not np.isin(keys, classes).all():
        if len(keys) == len(classes) and keys.dtype.kind in "iu":
            return keys.astype(int)  # positional indices
        raise FrontierError(f"the model's classes {list(keys[:5])} do not match the target's {list(classes[:5])}")
    return np.searchsorted(classes, keys)


def _label_indices(labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    if labels.dtype.kind in "SO":
        labels = labels.astype(str)
        classes = classes.astype(str)
    if np.isin(labels, classes).all():
        return np.searchsorted(classes, labels)
    if labels.dtype.kind in "iu" and labels.min() >= 0 and labels.max() < len(classes):
        return labels.astype(int)
    raise FrontierError("the model predicts labels the dataset's target does not have; check --target")


# ----------------------------------------------------------------- factory
def make_predictor(model: Any, fmt: str, *, device: str = "cpu", threads: int | None = None,
                   precision: str = "fp32") -> Predictor:
    """A predictor for a loaded model of format ``fmt`` (see :mod:`engine.models`)."""
    if fmt in SKLEARN_FORMATS:
        if not hasattr(model, "predict"):
            raise FrontierError(f"the loaded object is a {type(model).__name__}, not a scikit-learn model with predict()")
        return SklearnPredictor(model)
    if fmt == "onnx":
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device.startswith("cuda") else None
        return OnnxPredictor(model, providers=providers, threads=threads)
    return TorchPredictor(model, device=device, precision=precision, threads=threads)


def model_input(pred: Predictor, prep: Prepared) -> pd.DataFrame | np.ndarray:
    """Features in the form ``pred`` takes: the DataFrame for scikit-learn, else the prepared
    float32 matrix (built once per dataset in row slices, never a float64 copy of the table)."""
    return prep.X if pred.takes_frame else prep.numeric_X()
