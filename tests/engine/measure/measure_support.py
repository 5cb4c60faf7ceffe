"""Helpers for the measurement tests: a small digits benchmark run through a real worker."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine import benchmark, datasets, jobs, models
from engine.measure.latency import LatencySettings
from engine.workspace import Workspace

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "sample_models" / "artifacts"
# every phase of the harness runs, in milliseconds
TINY_LATENCY = LatencySettings(batch_sizes=(1, 8), min_time_s=0.01, min_count=10, warmup=1)


@dataclass
class Ran:
    ws: Workspace
    plan: benchmark.Plan
    status: jobs.JobStatus


def digits_plan(ws: Workspace, files: list[str], *, threads: int | None = None,
                latency: LatencySettings | None = TINY_LATENCY, use_cache: bool = True) -> benchmark.Plan:
    """A plan for bundled digits samples (registered trusted), 2 folds, as-is."""
    ds = datasets.register(ws, datasets.builtin("digits"))
    infos = [models.register_file(ws, SAMPLES / f, trusted=True) for f in files]
    config = benchmark.BenchmarkConfig(latency=latency, threads=threads, cv=2, as_is=True)
    return benchmark.plan(ws, infos, ds, config, use_cache=use_cache)


def run_job(ws: Workspace, p: benchmark.Plan) -> jobs.JobStatus:
    """Run the plan's pending runs in a supervised worker (the CLI's path) and insist it worked."""
    status = jobs.run(ws, p.to_request())
    assert status.state == "done", status.error
    return status
