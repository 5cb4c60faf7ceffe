"""Honest latency with several users: timed phases on one machine never overlap, and a job that
must wait for the machine shows it (queued, "waiting for the machine (N ahead)") instead of
measuring skewed numbers. Assertions are on the recorded timestamps, not on speed."""

from __future__ import annotations

import time

import pandas as pd
from jobs_support import plan, wait_for

from engine import jobs
from engine.jobs import machine
from engine.jobs.spec import Limits
from engine.measure.latency import LatencySettings
from engine.results import ResultStore
from engine.workspace import Workspace

LATENCY = LatencySettings(batch_sizes=(1, 8, 32), min_time_s=0.3, min_count=5, warmup=2)


def _intervals(ws: Workspace, run_id: str) -> pd.DataFrame:
    table = ResultStore(ws).table(run_id, "latency")
    assert {"started_at", "ended_at"} <= set(table.columns)
    assert (table["started_at"] <= table["ended_at"]).all()
    return table.assign(run_id=run_id)


def test_two_jobs_measuring_at_the_same_time_never_overlap(tmp_path, iris_files):
    ws = Workspace.open(tmp_path / "ws")
    plans = [plan(ws, [iris_files["linear"]], latency=LATENCY), plan(ws, [iris_files["small"]], latency=LATENCY)]
    with machine.exclusive():  # both start together once the machine is free: their sweeps collide
        ids = [jobs.submit(ws, p.to_request()) for p in plans]
        wait_for(lambda: all(jobs.status(ws, j).state == "queued" and jobs.status(ws, j).ahead for j in ids),
                 what="both jobs to wait for the machine")
    for job_id in ids:
        assert jobs.wait(ws, job_id, timeout_s=240).state == "done"
    spans = pd.concat([_intervals(ws, p.runs[0].run_id) for p in plans], ignore_index=True)
    assert len(spans) == 2 * len(LATENCY.batch_sizes)
    a, b = (spans[spans.run_id == p.runs[0].run_id] for p in plans)
    for _, x in a.iterrows():
        for _, y in b.iterrows():
            assert x.ended_at <= y.started_at or y.ended_at <= x.started_at, (x.to_dict(), y.to_dict())


def test_a_job_waits_for_the_machine_queued_and_its_limits_pause(tmp_path, iris_files):
    """While another process holds the machine, the job is queued and says so; the wait is longer
    than its per-step limit, yet it is not stopped; its timings all start after the release."""
    ws = Workspace.open(tmp_path / "ws")
    p = plan(ws, [iris_files["linear"]], latency=LATENCY)
    step_s = 8  # a worker starts and loads in 2-3 s on a busy 2-core machine: well inside the limit
    with machine.exclusive():
        job_id = jobs.submit(ws, p.to_request(), limits=Limits(memory_mb=4096, time_s=600, step_time_s=step_s))
        st = wait_for(lambda: (s := jobs.status(ws, job_id)).state == "queued" and s.ahead and s,
                      what="the job to queue for the machine")
        # this test holds the lock; any other Frontier process on this machine (the lock is per machine)
        # that is queued or holding it is counted too, so the count is at least one
        assert st.ahead >= 1 and st.message == f"waiting for the machine ({st.ahead} ahead)"
        assert st.message in st.detail
        queued_at = time.monotonic()
        wait_for(lambda: time.monotonic() - queued_at > step_s + 3, timeout=step_s + 10, what="a long wait")
        assert jobs.status(ws, job_id).state == "queued"  # still waiting, not stopped
        released = time.time()
    st = jobs.wait(ws, job_id, timeout_s=240)
    assert st.state == "done", st.error
    spans = _intervals(ws, p.runs[0].run_id)
    assert (spans["started_at"] >= released).all()
