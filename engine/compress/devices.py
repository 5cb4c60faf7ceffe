"""Which devices and backends exist on this server, as the Compress page and ``--device`` see them."""

from __future__ import annotations

import importlib.metadata
import os
from dataclasses import dataclass

from engine.measure.environment import cpu_model


@dataclass(frozen=True)
class Devices:
    cpu: str
    cores: int
    gpus: tuple[str, ...]  # CUDA devices torch sees, by name
    providers: tuple[str, ...]  # ONNX Runtime execution providers installed
    torch_version: str | None
    onnxruntime_version: str | None

    @property
    def has_cuda(self) -> bool:
        return bool(self.gpus)

    def lines(self) -> list[str]:
        """One line per device or backend, for a person."""
        out = [f"CPU: {self.cpu}, {self.cores} core(s)"]
        out.append("CUDA: " + (", ".join(self.gpus) if self.gpus else "no CUDA GPU visible to torch"))
        out.append(f"ONNX Runtime {self.onnxruntime_version or 'not installed'}: "
                   f"{', '.join(self.providers) or 'no execution provider'}")
        out.append(f"torch {self.torch_version or 'not installed'}")
        return out


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def available() -> Devices:
    """Probe torch and ONNX Runtime (importing them) for what this process can use."""
    gpus: tuple[str, ...] = ()
    try:
        import torch

        if torch.cuda.is_available():
            gpus = tuple(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    except Exception:  # a broken CUDA install: no GPU for us
        gpus = ()
    try:
        import onnxruntime as ort

        providers = tuple(ort.get_available_providers())
    except Exception:
        providers = ()
    return Devices(cpu=cpu_model(), cores=os.cpu_count() or 1, gpus=gpus, providers=providers,
                   torch_version=_version("torch"),
                   onnxruntime_version=_version("onnxruntime") or _version("onnxruntime-gpu"))
