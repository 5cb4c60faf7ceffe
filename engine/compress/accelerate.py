"""``accelerate``: the runtime settings of one model, each timed by the latency harness, none assumed.

Not a new artifact: the same bytes run differently. For the ONNX export (or an
ONNX original): every ONNX Runtime graph optimisation level (disabled, basic,
extended, all) x intra-op threads (1 and every core) x each installed compute
execution provider for the device (CPU; CUDA and TensorRT for ``--device
cuda``). For a torch original: torch threads (1 and every core); on CUDA,
fp32, fp16 and bf16 (``channels_last`` for image inputs); ``torch.compile`` of
a ``.pt2`` program (a TorchScript file loads as a compiled graph that
``torch.compile`` cannot take: it says so).

Each setting: its build seconds (session creation; compile and first call),
apart from its latency; p50 and throughput at every batch size, timed alone
on the machine (the benchmark's exclusive lock) and judged for skew; the
largest probability difference from the source on the parity rows (a
setting that changes the answers is no acceleration). Speedups are against
the original's p50 at batch 1 from its run in the same job.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.compress import parity
from engine.errors import FrontierError, first_line
from engine.models.predictors import ORT_LEVELS as _LEVEL_NAMES

ORT_LEVELS = tuple(_LEVEL_NAMES)  # the levels OnnxPredictor takes, in order
CPU_PROVIDERS = ("CPUExecutionProvider", "DnnlExecutionProvider", "OpenVINOExecutionProvider",
                 "XnnpackExecutionProvider")
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")
TORCH_GPU_PRECISIONS = ("fp32", "fp16", "bf16")


@dataclass(frozen=True)
class Setting:
    runtime: str  # onnxruntime or torch
    provider: str  # an execution provider, or the torch device
    threads: int
    level: str | None = None  # ONNX Runtime graph optimisation
    precision: str = "fp32"
    compiled: bool = False  # torch.compile
    channels_last: bool = False  # torch image models on CUDA: NHWC weights, as the GPU's kernels prefer

    @property
    def label(self) -> str:
        parts = [self.runtime, self.provider.removesuffix("ExecutionProvider")]
        if self.level:
            parts.append(f"graph {self.level}")
        if self.precision != "fp32":
            parts.append(self.precision)
        if self.channels_last:
            parts.append("channels_last")
        if self.compiled:
            parts.append("torch.compile")
        parts.append(f"{self.threads} thread{'s' if self.threads > 1 else ''}")
        return " · ".join(parts)


def thread_counts(cores: int | None = None) -> tuple[int, ...]:
    n = cores or os.cpu_count() or 1
    return (1,) if n <= 1 else (1, n)


def ort_settings(available: list[str] | tuple[str, ...], *, device: str, cores: int | None = None) -> list[Setting]:
    """Every ONNX Runtime setting to time: providers for the device x levels x threads."""
    wanted = GPU_PROVIDERS if device == "cuda" else CPU_PROVIDERS
    providers = [p for p in wanted if p in available]
    return [Setting("onnxruntime", p, t, level) for p in providers for level in ORT_LEVELS
            for t in thread_counts(cores)]


def torch_settings(fmt: str, *, device: str, cores: int | None = None,
                   images: bool = False) -> tuple[list[Setting], list[str]]:
    """The torch settings to time and the reasons some are not (``images``: the model takes (C, H, W) rows)."""
    skipped = []
    if device == "cuda":
        out = [Setting("torch", "cuda", 1, precision=p, channels_last=images) for p in TORCH_GPU_PRECISIONS]
    else:
        out = [Setting("torch", "cpu", t) for t in thread_counts(cores)]
        skipped.append("torch fp16 and bf16 are timed on CUDA only (--device cuda)")
    if fmt == "torch_export":
        out.append(Setting("torch", device, 1 if device == "cuda" else thread_counts(cores)[-1], compiled=True))
    else:
        skipped.append("torch.compile takes an eager module or a .pt2 program; a TorchScript file loads as an "
                       "already compiled graph")
    return out, skipped


def _torch_predictor(src: Any, s: Setting) -> Any:
    import torch

    from engine.models.predictors import TorchPredictor

    predictor = TorchPredictor(src.model, device=s.provider, precision=s.precision, threads=s.threads,
                               channels_last=s.channels_last)  # converts a copy: src.model stays as loaded
    if s.compiled:  # the predictor has unwrapped the program (no eval(): exported programs have no switch)
        predictor.module = torch.compile(predictor.module)
    return predictor


def _build(src: Any, s: Setting, onnx_path: Path | None) -> tuple[Any, float]:
    """The predictor for ``s`` and its build seconds (a session's creation; for torch.compile, the compile
    and the first call, which is when compiling happens)."""
    from engine.models.predictors import OnnxPredictor

    t0 = time.perf_counter()
    if s.runtime == "onnxruntime":
        predictor = OnnxPredictor(onnx_path, providers=[s.provider], threads=s.threads, graph_optimization=s.level)
        if predictor.provider != s.provider:
            raise FrontierError(f"ONNX Runtime fell back from {s.provider} to {predictor.provider}")
    else:
        predictor = _torch_predictor(src, s)
        if s.compiled:
            parity.scores_on(predictor, src.prep, src.rows[:2])
    return predictor, time.perf_counter() - t0


def run_setting(src: Any, s: Setting, onnx_path: Path | None, latency: Any, original_p50: float | None,
                hold: Any) -> dict[str, Any]:
    """Build, check and time one setting (raises FrontierError with one line)."""
    from engine.measure.latency import measure
    from engine.models.predictors import model_input

    predictor, build_s = _build(src, s, onnx_path)
    check = parity.compare(src.scores, parity.scores_on(predictor, src.prep, src.rows))
    X = model_input(predictor, src.prep)
    with hold():
        stats, _ = measure(predictor.infer, X, latency, sync=predictor.synchronize, threads=s.threads,
                           device="cuda" if s.provider in ("cuda", *GPU_PROVIDERS) else "cpu")
    one = next((st for st in stats if st.batch_size == 1), stats[0])
    return {"setting": s.label, "runtime": s.runtime, "provider": s.provider, "graph_optimization": s.level,
            "threads": s.threads, "precision": s.precision, "compiled": s.compiled, "channels_last": s.channels_last,
            "build_seconds": build_s, "p50_ms": one.p50_ms, "p95_ms": one.p95_ms,
            "speedup": original_p50 / one.p50_ms if original_p50 and one.p50_ms > 0 else None,
            "skewed": any(st.skewed for st in stats), "max_abs_diff": check.max_abs_diff,
            "label_agreement": check.label_agreement,
            "batches": [{"batch_size": st.batch_size, "p50_ms": st.p50_ms,
                         "throughput_per_s": st.throughput_per_s, "skewed": st.skewed} for st in stats]}


def sweep(src: Any, *, onnx_path: Path | None, available: list[str], latency: Any, original_p50: float | None,
          hold: Any, step: Any = None) -> dict[str, Any]:
    """Time every setting that applies to ``src``; a setting that fails is reported, the rest go on."""
    device = src.payload.device
    settings: list[Setting] = []
    skipped: list[str] = []
    if onnx_path is not None:
        settings += ort_settings(available, device=device)
        if not settings:
            skipped.append(f"no ONNX Runtime execution provider for {device} is installed")
    if src.info.format in ("torchscript", "torch_export"):
        more, why = torch_settings(src.info.format, device=device, images=len(src.prep.input_shape) == 3)
        settings += more
        skipped += why
    rows, errors = [], []
    torch_threads = _torch_threads()
    try:
        for i, s in enumerate(settings):
            if step is not None:
                step(i, len(settings), s.label)
            try:
                rows.append(run_setting(src, s, onnx_path, latency, original_p50, hold))
            except FrontierError as exc:
                errors.append({"setting": s.label, "error": exc.message})
            except Exception as exc:  # a backend's own failure belongs to that setting
                errors.append({"setting": s.label, "error": f"{type(exc).__name__}: {first_line(exc, 200)}"})
    finally:  # torch's thread count is process-wide: the variants' runs after this get it back
        if torch_threads is not None:
            import torch

            torch.set_num_threads(torch_threads)
    best = fastest(rows)
    return {"settings": rows, "errors": errors, "skipped": skipped, "best": best["setting"] if best else None}


def _torch_threads() -> int | None:
    import sys

    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else None


def fastest(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The fastest setting at batch 1 whose answers match the source (within ``parity.PROBA_ATOL``) and whose
    timing was clean. fp16 and bf16 settings change the probabilities (on the digits CNN, by about 1e-3
    and 1e-2): they are timed and shown with their difference and label agreement, and left to the
    fp16 variant's accuracy check rather than called the same model run faster."""
    ok = [r for r in rows if not r["skewed"] and (r["max_abs_diff"] is None or r["max_abs_diff"] <= parity.PROBA_ATOL)]
    return min(ok, key=lambda r: r["p50_ms"], default=None)
