"""What machine, libraries and thread settings produced a number, recorded with every run.

The thread settings are read where the work ran (the worker): the thread count
asked for, the OpenMP/BLAS variables the worker was started with
(``OMP_NUM_THREADS``, ``OMP_WAIT_POLICY``...), torch's intra-op thread count
when torch is loaded, and what the predictor set on its backend (ONNX Runtime's
intra-op threads and spinning).
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
from collections.abc import Mapping
from typing import Any

from engine import ENGINE_VERSION

LIBRARIES = ("numpy", "pandas", "scikit-learn", "torch", "onnxruntime", "onnx", "skops")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@functools.cache
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_name() -> str | None:
    """The first CUDA device's name when torch is already loaded and sees one."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:
        return None


def hardware_fingerprint() -> str:
    """CPU model and core count: results timed elsewhere are not reused."""
    return f"{cpu_model()}|{os.cpu_count()}"


def thread_settings(backend_settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """This process's thread-pool settings: the variables it started with (None: unset),
    torch's intra-op threads when torch is loaded, and ``backend_settings`` (a predictor's
    ``thread_settings``: ONNX Runtime's intra-op threads and spinning)."""
    import sys

    out: dict[str, Any] = {name.lower(): os.environ.get(name) for name in THREAD_VARIABLES}
    torch = sys.modules.get("torch")
    out["torch_threads"] = torch.get_num_threads() if torch is not None else None
    out["ort_spinning"] = None
    return out | dict(backend_settings or {})


def record(*, threads: int, backend: str, device: str, provider: str | None,
           precision: str, backend_settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The environment of one run (see the module docstring); ``backend_settings`` are the
    predictor's ``thread_settings``."""
    versions = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            versions[lib] = None
    return {
        "cpu": cpu_model(), "cores": os.cpu_count(), "threads": threads,
        "gpu": gpu_name() if device.startswith("cuda") else None,
        "backend": backend, "device": device, "provider": provider, "precision": precision,
        "python": platform.python_version(), "platform": platform.platform(),
        "engine_version": ENGINE_VERSION, "libraries": versions,
    } | thread_settings(backend_settings)


COMPARED_FIELDS = ("cpu", "cores", "gpu", "threads", "omp_wait_policy", "device", "engine_version")


def differences(environments: list[dict[str, Any]]) -> list[str]:
    """What differs between the environments of runs shown side by side (latency is only
    comparable when nothing does): the fields above, then library versions by name."""
    envs = [e or {} for e in environments]
    diff = [f for f in COMPARED_FIELDS if len({str(e.get(f)) for e in envs}) > 1]
    libs = sorted({lib for e in envs for lib in (e.get("libraries") or {})})
    diff += [lib for lib in libs if len({(e.get("libraries") or {}).get(lib) for e in envs}) > 1]
    return diff
