"""The two-click benchmark of every bundled digits sample while another process keeps one core busy.

What the dashboard does on "Run benchmark" with every digits sample picked and
default settings: one :func:`engine.jobs.submit` of a default
:class:`~engine.benchmark.BenchmarkConfig` plan, waited for. Samples are picked
by artifact id (the manifest's hash), never by display name, and the dataset is
the built-in ``digits``. The same benchmark on a machine without our busy core
is measured right after in a fresh workspace, for reference.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from benchmarks.common import busy_core, row, scratch


def _two_click(load: bool) -> tuple[float, int, int, int]:
    """(seconds, models, runs flagged skewed, threads) of one two-click benchmark in a fresh workspace."""
    from engine import benchmark, datasets, jobs, models, samples
    from engine.results import ResultStore
    from engine.workspace import Workspace

    with scratch() as tmp:
        ws = Workspace.open(tmp / "ws")
        samples.ensure_registered(ws)
        wanted = [s.artifact_id for s in samples.manifest() if s.dataset == "digits" and s.artifact_id]
        registered = {i.id: i for i in models.list_registered(ws)}
        infos = [registered[a] for a in wanted if a in registered]
        if len(infos) != len(wanted):
            raise RuntimeError(f"only {len(infos)} of the {len(wanted)} digits samples are registered")
        listed = datasets.list_registered(ws)
        digits_id = next(r.id for r in listed.itertuples() if r.name == "digits" and r.source == "builtin")
        plan = benchmark.plan(ws, infos, datasets.load(ws, digits_id), benchmark.BenchmarkConfig())
        with busy_core() if load else contextlib.nullcontext():
            t0 = time.perf_counter()
            job = jobs.submit(ws, plan.to_request(), title="two-click benchmark")
            status = jobs.wait(ws, job, timeout_s=600)
            elapsed = time.perf_counter() - t0
        if status.state != "done":
            raise RuntimeError(f"the benchmark ended {status.state}: {status.error}")
        store = ResultStore(ws)
        skewed = sum(bool(store.summary(r.run_id).get("latency_skewed")) for r in plan.runs)
    return elapsed, len(infos), skewed, plan.config.n_threads


def bench_two_click_under_load() -> list[dict[str, Any]]:
    import os

    busy, n, skewed, threads = _two_click(load=True)
    quiet, _, quiet_skewed, _ = _two_click(load=False)
    load = os.getloadavg()[0]
    return [
        row(f"two-click benchmark of every bundled digits sample ({n} models, default settings: {threads} "
            f"thread(s)) while another process keeps one core busy; {skewed} run(s) flagged skewed",
            "30 s (goal)", f"{busy:.1f} s", busy / 30, "< 30 s", busy < 30),
        row(f"the same without our busy core, for reference ({quiet_skewed} run(s) flagged skewed; "
            f"1-min load after: {load:.1f})", f"{quiet:.1f} s", f"{busy:.1f} s", busy / quiet,
            "— (busy / no busy core)", None),
    ]
