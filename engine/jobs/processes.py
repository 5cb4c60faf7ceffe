"""How job processes (supervisors, workers) are started: their environment."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
CANCEL_FLAG = "cancel"  # a file in the job folder: please stop


def child_env(*, threads: int | None = None) -> dict[str, str]:
    """This process's environment, with the project importable and thread pools fixed."""
    path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    return os.environ | {"PYTHONPATH": path} | thread_env(threads)


def worker_env(*, threads: int | None = None) -> dict[str, str]:
    """A worker's environment: :func:`child_env` with ``threads`` (default
    :func:`engine.settings.default_threads`) and the wait policies of :func:`wait_env`."""
    from engine import settings

    env = child_env(threads=threads or settings.default_threads()) | wait_env()
    if settings.omp_wait_policy() is None:  # DEFAULT: the OpenMP runtime's own, not the server's variable
        env.pop("OMP_WAIT_POLICY", None)
    return env


def open_log(path: Path) -> int:
    """An append-only descriptor for a job's log that never follows a planted link."""
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)


def raise_flag(path: Path) -> None:
    """Create a flag file (``cancel``) in place, replacing a planted link instead of following it."""
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        os.close(os.open(path, flags, 0o644))
    except OSError:
        if not path.is_symlink():
            raise
        path.unlink()
        os.close(os.open(path, flags | os.O_EXCL, 0o644))


def flag_raised(path: Path) -> bool:
    return os.path.lexists(path)


def thread_env(threads: int | None) -> dict[str, str]:
    """Thread-pool sizes fixed before a worker starts (set later, with several OpenMP
    runtimes loaded — torch's and scikit-learn's — they slow each other down badly)."""
    if not threads:
        return {}
    n = str(int(threads))
    return {"OMP_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n, "MKL_NUM_THREADS": n}


def wait_env() -> dict[str, str]:
    """How idle pool threads wait, fixed before a worker starts: OpenMP's ``OMP_WAIT_POLICY``
    (PASSIVE by default: under contention, threads spinning at a barrier take the core the
    thread they wait for needs — a 2-thread refit ran 17-46 s instead of 2.5-5.6 s), and ONNX
    Runtime's intra-op spinning, which the worker's sessions read from ``FRONTIER_ORT_SPINNING``."""
    from engine import settings

    policy = settings.omp_wait_policy()
    return ({"OMP_WAIT_POLICY": policy} if policy else {}) | {
        "FRONTIER_ORT_SPINNING": "1" if settings.ort_spinning() else "0"}
