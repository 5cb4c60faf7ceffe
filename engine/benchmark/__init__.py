"""Benchmarks: plan (validate everything, find cached runs) -> execute (in the worker) -> collect.

Planning and collecting run in the caller's process and stay light (no
scikit-learn, torch or ONNX Runtime import); the worker imports
:func:`engine.benchmark.execute.execute` itself.
"""

from engine.benchmark.plan import (
    SKLEARN_FORMATS,
    BenchmarkConfig,
    Plan,
    PlannedRun,
    check_compatible,
    collect,
    plan,
    replan,
)

__all__ = ["SKLEARN_FORMATS", "BenchmarkConfig", "Plan", "PlannedRun", "check_compatible", "collect", "plan", "replan"]
