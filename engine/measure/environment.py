"""What machine and libraries produced a number, recorded with every run."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
from typing import Any

from engine import ENGINE_VERSION

LIBRARIES = ("numpy", "pandas", "scikit-learn", "torch", "onnxruntime", "onnx", "skops")


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


def record(*, threads: int, backend: str, device: str, provider: str | None,
           precision: str) -> dict[str, Any]:
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
    }


COMPARED_FIELDS = ("cpu", "cores", "gpu", "threads", "device", "engine_version")


def differences(environments: list[dict[str, Any]]) -> list[str]:
    """What differs between the environments of runs shown side by side (latency is only
    comparable when nothing does): the fields above, then library versions by name."""
    envs = [e or {} for e in environments]
    diff = [f for f in COMPARED_FIELDS if len({str(e.get(f)) for e in envs}) > 1]
    libs = sorted({lib for e in envs for lib in (e.get("libraries") or {})})
    diff += [lib for lib in libs if len({(e.get("libraries") or {}).get(lib) for e in envs}) > 1]
    return diff
