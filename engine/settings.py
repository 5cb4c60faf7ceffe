"""Settings read from the environment, in one place, at the moment they are needed.

Every knob a deployment can turn is an environment variable named here; the
functions read it on each call so tests and long-running servers see changes.
A malformed value is a one-line error naming the variable.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.errors import FrontierError

DEFAULT_WORKSPACE = "workspace"


def _number(name: str, default: float, *, minimum: float = 0) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise FrontierError(f"{name}={raw!r} is not a number; set it to e.g. {default:g}") from None
    if not value > minimum:
        raise FrontierError(f"{name} must be greater than {minimum:g}, got {raw}")
    return value


def workspace_root(root: str | os.PathLike[str] | None = None) -> Path:
    """``root``, else ``$FRONTIER_WORKSPACE``, else ``./workspace``, resolved."""
    path = Path(root or os.environ.get("FRONTIER_WORKSPACE") or DEFAULT_WORKSPACE)
    return path.expanduser().resolve()


def worker_memory_mb() -> int:
    """Memory limit of one worker process tree (``FRONTIER_WORKER_MEMORY_MB``, default 4096)."""
    return int(_number("FRONTIER_WORKER_MEMORY_MB", 4096))


def worker_timeout_s() -> float:
    """Backstop on one model's steps together (``FRONTIER_WORKER_TIMEOUT_S``, default 21600 = 6 h).

    The working limit is per step (:func:`step_time_s`): a model that keeps
    finishing folds is never stopped for being slow overall, short of this.
    """
    return _number("FRONTIER_WORKER_TIMEOUT_S", 21600)


def max_data_mb() -> float:
    """Largest dataset, decompressed in memory (``FRONTIER_MAX_DATA_MB``, default 1024)."""
    return _number("FRONTIER_MAX_DATA_MB", 1024)


def max_model_mb() -> float:
    """Largest model file, and largest decompressed member of a model archive
    (``FRONTIER_MAX_MODEL_MB``, default 1024)."""
    return _number("FRONTIER_MAX_MODEL_MB", 1024)


def step_time_s() -> float:
    """Default time limit of one model step: loading, a fold's fit, a latency sweep
    (``FRONTIER_STEP_TIME_S``, default 900)."""
    return _number("FRONTIER_STEP_TIME_S", 900)


def max_step_time_s() -> float:
    """The most a user may ask for one step (``FRONTIER_MAX_STEP_TIME_S``, default 3600)."""
    return _number("FRONTIER_MAX_STEP_TIME_S", 3600)


SMALL_MACHINE_CORES = 4  # at or below: one thread by default (measured on 2 cores, see docs/DESIGN.md)


def default_threads() -> int:
    """Threads a benchmark uses unless the user asks (``--threads``): ``FRONTIER_THREADS``, else
    1 on machines with up to :data:`SMALL_MACHINE_CORES` cores, else half the cores.

    Measured on a shared 2-core machine (``python -m benchmarks.latency_load study``), one
    thread was the only setting stable under every load: a histogram gradient boosting fold
    refit took 1.1-1.7 s with one thread whether the machine was quiet or both cores were
    busy, against 0.8 s (quiet) to 17-90 s (loaded) with two spinning threads; a TorchScript
    MLP call at batch 256 took 0.13 ms against 0.10 ms to 24 ms. Larger machines (half the
    cores) were not measured: set ``FRONTIER_THREADS`` where that matters."""
    raw = os.environ.get("FRONTIER_THREADS")
    if raw is not None and raw.strip():
        if not raw.strip().isdigit() or int(raw) < 1:
            raise FrontierError(f"FRONTIER_THREADS={raw!r} is not a thread count; set it to e.g. 1")
        return int(raw)
    cores = os.cpu_count() or 1
    return 1 if cores <= SMALL_MACHINE_CORES else cores // 2


def omp_wait_policy() -> str | None:
    """How idle OpenMP threads wait in a worker (``FRONTIER_OMP_WAIT_POLICY``): PASSIVE (the
    default: they sleep), ACTIVE (they spin), or DEFAULT (leave it to the OpenMP runtime;
    returned as None). Spinning threads take the core another process needs: with 2 threads
    under load a refit took 17-46 s (up to 90 s) instead of 2.5-5.6 s passive. Passive
    waking is slow on an idle virtual machine (8.4 s instead of 0.8 s), which only matters
    with more than one thread: the default on small machines is one."""
    raw = (os.environ.get("FRONTIER_OMP_WAIT_POLICY") or "PASSIVE").strip().upper()
    if raw not in ("PASSIVE", "ACTIVE", "DEFAULT"):
        raise FrontierError(f"FRONTIER_OMP_WAIT_POLICY must be PASSIVE, ACTIVE or DEFAULT, got {raw!r}")
    return None if raw == "DEFAULT" else raw


def ort_spinning() -> bool:
    """Whether ONNX Runtime's intra-op threads spin while idle (``FRONTIER_ORT_SPINNING``: 0,
    the default, or 1)."""
    raw = (os.environ.get("FRONTIER_ORT_SPINNING") or "0").strip()
    if raw not in ("0", "1"):
        raise FrontierError(f"FRONTIER_ORT_SPINNING must be 0 or 1, got {raw!r}")
    return raw == "1"
