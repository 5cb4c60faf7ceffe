"""Benchmarks: plan (validate everything, find cached runs) -> execute (in the worker) -> collect."""

from engine.benchmark.execute import execute, run_one
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
