"""Benchmarks: plan (validate everything, find cached runs) -> execute (in the worker) -> collect.

Planning and collecting run in the caller's process and stay light (no
scikit-learn, torch or ONNX Runtime import); :func:`execute` is imported on
first use, in the worker.
"""

from __future__ import annotations

from typing import Any

from engine.benchmark.plan import (
    SKLEARN_FORMATS,
    BenchmarkConfig,
    Plan,
    PlannedRun,
    check_compatible,
    collect,
    plan,
)

__all__ = ["SKLEARN_FORMATS", "BenchmarkConfig", "Plan", "PlannedRun", "check_compatible", "collect",
           "execute", "plan", "run_one"]


def __getattr__(name: str) -> Any:
    if name in ("execute", "run_one"):
        from engine.benchmark import execute as module

        return getattr(module, name)
    raise AttributeError(f"module 'engine.benchmark' has no attribute {name!r}")
