"""The benchmark a page follows: started from the form, found again from a link, shown when done."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from dashboard import actions, state
from dashboard.text import md
from dashboard.widgets import jobs, results
from dashboard.widgets.benchmark_form import Request
from dashboard.widgets.errors import guard, show_error
from engine import benchmark
from engine.measure.latency import LatencySettings
from engine.models import ArtifactInfo
from engine.owners import Actor
from engine.workspace import Workspace

SLOT = jobs.Slot("benchmark", kinds=("benchmark",))
RUNS = "benchmark:runs"  # {"job": id or None, "run_ids": [...], "cached": [...], "notes": [...]}


def start(ws: Workspace, request: Request, infos: Mapping[str, ArtifactInfo], *, actor: Actor) -> bool:
    """Plan (validates everything; nothing runs on bad input), then submit what is not stored yet."""
    with guard("planning the benchmark") as planned:
        latency = LatencySettings(batch_sizes=tuple(request.batch_sizes), min_time_s=request.min_time_s,
                                  min_count=request.min_count) if request.batch_sizes else None
        config = benchmark.BenchmarkConfig(target=request.target, drop=tuple(request.drop), cv=request.n_folds,
                                           seed=request.seed, as_is=request.as_is, latency=latency,
                                           threads=request.threads)
        plan = benchmark.plan(ws, [infos[i] for i in request.model_ids], request.dataset, config)
        limits = actions.step_limits(request.step_time_s)
    if not planned.ok:
        return False
    notes = []
    if request.skipped_batch_sizes:
        sizes = ", ".join(map(str, request.skipped_batch_sizes))
        notes.append(f"Batch size(s) {sizes} are larger than the dataset's {request.dataset.n_rows:,} rows, "
                     "so the latency sweep skips them.")
    job_id = None
    if plan.pending:
        title = f"Benchmark on {request.dataset.name}: {', '.join(r.name for r in plan.pending)}"
        job_id = jobs.start(ws, SLOT, plan.to_request(), actor=actor, title=title, limits=limits)
        if job_id is None:
            return False
    else:
        jobs.forget(SLOT)
    st.session_state[RUNS] = {"job": job_id, "run_ids": [r.run_id for r in plan.runs],
                              "cached": [r.run_id for r in plan.runs if r.cached], "notes": notes}
    return True


def runs_of(ws: Workspace, job_id: str | None) -> dict[str, Any]:
    """The runs the page shows: this session's record, or the linked job's own runs."""
    record = st.session_state.get(RUNS)
    if job_id and (not record or record.get("job") != job_id):
        request = state.job_request(ws, job_id)
        record = {"job": job_id, "run_ids": [r["run_id"] for r in request.get("runs", []) if isinstance(r, Mapping)],
                  "cached": [], "notes": []}
        st.session_state[RUNS] = record
    return record or {}


def show(ws: Workspace, job: jobs.JobView | None, record: Mapping[str, Any], *, actor: Actor) -> None:
    """Progress while the job runs; then its error, or the results of its runs."""
    if not (job or record.get("run_ids")):
        return
    st.subheader("Results")
    for note in record.get("notes", []):
        st.info(md(note), icon=":material/info:")
    status = job.status if job else None
    if job is not None and status.active:
        jobs.follow(ws, job, slot=SLOT, actor=actor)
        return
    if job is not None and status.state == "failed":
        show_error(job.error)
    elif status is not None and status.state == "cancelled":
        st.info("The benchmark was cancelled; runs that finished before are shown below.")
    done = state.existing(ws, list(record.get("run_ids", [])))
    if done:
        with guard("showing the results"):
            results.results_view(ws, done, key="benchmark:current", cached=set(record.get("cached", [])))
        _measure_again(ws, done, actor=actor)
    elif status is None or status.state == "done":
        st.info("No stored results for this benchmark.")


def _measure_again(ws: Workspace, run_ids: list[str], *, actor: Actor) -> None:
    """Offer to run again the runs whose latency was measured on a busy machine (their owners only)."""
    summaries = {r: state.summary(str(ws.root), r) for r in run_ids}
    skewed = [r for r, s in summaries.items() if s.get("latency_skewed") is True and actor.may_modify(s.get("owner"))]
    if not skewed or not st.button("Measure latency again", key="benchmark:measure_again",
                                   icon=":material/replay:",
                                   help="runs the skewed runs again (the new measurement replaces them)"):
        return
    with guard("measuring again") as planned:
        plan = actions.measure_again(ws, skewed, actor=actor)
    if not planned.ok:
        return
    title = f"Measure again: {', '.join(r.name for r in plan.pending)}"
    job_id = jobs.start(ws, SLOT, plan.to_request(), actor=actor, title=title, limits=None)
    if job_id is not None:
        st.session_state[RUNS] = {"job": job_id, "run_ids": run_ids, "cached": [], "notes": []}
        st.rerun()
