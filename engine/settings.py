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
