"""Helpers for the job-system tests: tiny iris models with known behaviour, waiting, processes.

The models are TorchScript modules (trusted), so their behaviour is exact: a
linear layer, one that spins forever (a busy hang), one that allocates a known
amount of memory on every call, and a pickle that sleeps when loaded (an idle
hang). They take iris's 4 features and give 3 class scores.
"""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import psutil
from frontier_support import wait_for  # noqa: F401 - the tests here import it from this module

from engine import benchmark, datasets, models
from engine.measure.latency import LatencySettings
from engine.workspace import Workspace

BIG_MB = 400  # what the "big" model allocates on every call


class _SleepOnLoad:
    def __reduce__(self):
        return (time.sleep, (100_000,))


class _RaiseOnLoad:
    def __reduce__(self):
        return (int, ("not a model",))


def iris_models(folder: Path) -> dict[str, Path]:
    """``linear``, ``hang``, ``big``, ``small`` (TorchScript) and ``sleep``, ``broken`` (pickles)."""
    import torch

    class Linear(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x)

    class Hang(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = x.sum()
            while bool(y > -1.0):  # never false: y only grows
                y = y + 1.0
            return x[:, :3]

    class Big(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.n = BIG_MB * 2**20 // 4  # float32 values: BIG_MB of memory, touched on every call

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            block = torch.ones(self.n)
            return x[:, :3] * block[-1]

    class Small(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[:, :3] * 2.0

    torch.manual_seed(0)
    paths = {}
    for name, module in (("linear", Linear()), ("hang", Hang()), ("big", Big()), ("small", Small())):
        paths[name] = folder / f"{name}.pt"
        torch.jit.save(torch.jit.script(module), str(paths[name]))
    paths["sleep"] = folder / "sleep.pkl"
    paths["sleep"].write_bytes(pickle.dumps(_SleepOnLoad()))
    paths["broken"] = folder / "broken.pkl"
    paths["broken"].write_bytes(pickle.dumps(_RaiseOnLoad()))
    return paths


def plan(ws: Workspace, paths: list[Path], *, data: str = "iris", latency: LatencySettings | None = None,
         as_is: bool = True, cv: int = 3, seed: int = 0) -> benchmark.Plan:
    """A benchmark plan for model files (registered trusted) on a built-in dataset."""
    ds = datasets.register(ws, datasets.builtin(data))
    infos = [models.register_file(ws, p, trusted=True) for p in paths]
    config = benchmark.BenchmarkConfig(latency=latency, threads=1, as_is=as_is, cv=cv, seed=seed)
    return benchmark.plan(ws, infos, ds, config)




def job_processes(needle: str) -> list[psutil.Process]:
    """Live supervisor/worker processes whose command line mentions ``needle`` (a job folder)."""
    out = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if ("engine.jobs.worker" in cmd or "engine.jobs.supervisor" in cmd) and needle in cmd:
            out.append(proc)
    return [p for p in out if _running(p)]


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def gone(proc: psutil.Process) -> bool:
    return not _running(proc)


def worker_of(job_dir: Path) -> psutil.Process | None:
    procs = [p for p in job_processes(str(job_dir)) if "engine.jobs.worker" in " ".join(p.cmdline())]
    return procs[0] if procs else None
