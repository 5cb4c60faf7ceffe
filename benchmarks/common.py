"""Shared pieces of the performance suite: paths, timing helpers, a busy core, process-tree memory."""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models" / "artifacts"
SKLEARN_SAMPLES = ("digits_logreg.skops", "digits_random_forest.skops", "digits_hist_gradient_boosting.skops")
PYTHON = sys.executable


def row(benchmark: str, baseline: str, ours: str, ratio: float, goal: str, passed: bool | None) -> dict[str, Any]:
    return {"benchmark": benchmark, "baseline": baseline, "ours": ours, "ratio": ratio, "goal": goal,
            "pass": passed}


@contextlib.contextmanager
def scratch(prefix: str = "frontier-bench-") -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cli(*args: str | os.PathLike[str], env: dict[str, str] | None = None, check: bool = True) -> tuple[float, str]:
    """Run ``python -m engine ARGS`` as a user would; (wall seconds, stdout)."""
    t0 = time.perf_counter()
    proc = subprocess.run([PYTHON, "-m", "engine", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          env=(os.environ | (env or {})), check=False)
    elapsed = time.perf_counter() - t0
    if check and proc.returncode != 0:
        raise RuntimeError(f"engine {' '.join(map(str, args))} failed: {proc.stderr[-500:]}")
    return elapsed, proc.stdout


@contextlib.contextmanager
def busy_core() -> Iterator[None]:
    """Another process keeping one core busy (a pure-Python spin loop), as a teammate's job would."""
    proc = subprocess.Popen([PYTHON, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        yield
    finally:
        proc.kill()
        proc.wait()


class TreePeak:
    """Peak resident memory of a process and all its descendants, sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        import psutil

        self._root = psutil.Process(pid)
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self._root, *self._root.children(recursive=True)]
                total = 0
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
                self.peak_bytes = max(self.peak_bytes, total)
            except psutil.Error:
                pass
            time.sleep(0.02)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_bytes


def median_time(fn: Callable[[], object], repeats: int = 7) -> float:
    """Median wall seconds of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
