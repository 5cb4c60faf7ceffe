"""Benchmark: cross-validate models on shared folds, time them, compare the results."""

from __future__ import annotations

import os

import streamlit as st

from dashboard import nav, state, ui
from engine import benchmark, charts, datasets, jobs, models
from engine.measure.latency import DEFAULT_BATCH_SIZES, LatencySettings
from engine.results import ResultStore

ws = state.workspace()
root = str(ws.root)
JOB, RUNS, CACHED = "benchmark:job_id", "benchmark:run_ids", "benchmark:cached_ids"
CORES = os.cpu_count() or 1

st.title("Benchmark")
st.caption("Cross-validate models on the same seeded folds and measure their inference latency. "
           "Work runs in an isolated worker process; results are stored and reused.")

infos = {i.id: i for i in models.list_registered(ws)}
registered = datasets.list_registered(ws)
if not infos or registered.empty:
    st.info("Register at least one model and one dataset first.")
    st.page_link(nav.upload_page(), label="Go to Models & data", icon=":material/upload_file:")
    st.stop()

# ------------------------------------------------------------------- inputs
ds_labels = {r.id: f"{r.name} ({r.kind}, {r.n_rows:,} rows)" for r in registered.itertuples()}
ds_ids = list(ds_labels)
default_ds = next((r.id for r in registered.itertuples() if r.name == "digits" and r.source == "builtin"), ds_ids[0])
dataset_id = st.selectbox("Dataset", ds_ids, index=ds_ids.index(default_ds), format_func=ds_labels.get,
                          key="benchmark:dataset")
with ui.guard("loading the dataset") as loaded:
    dataset = state.dataset(root, dataset_id)
if not loaded.ok:
    st.stop()

with st.form("benchmark:form", border=True):
    model_ids = st.multiselect(
        "Models", list(infos), format_func=lambda i: f"{infos[i].name} · {infos[i].format}",
        key="benchmark:models", placeholder="choose one or more registered models")
    c1, c2, c3, c4 = st.columns([2, 3, 1, 1])
    if dataset.kind == "tabular":
        columns = dataset.columns
        target = c1.selectbox("Target column", columns, index=columns.index(dataset.default_target),
                              key=f"benchmark:target:{dataset.id}")
        drop = c2.multiselect("Drop columns", columns, key=f"benchmark:drop:{dataset.id}",
                              placeholder="none", help="left out of the features")
    else:
        target, drop = None, []
        c1.text_input("Target", value="y (image labels)", disabled=True, key=f"benchmark:target:{dataset.id}")
        c2.caption("Image dataset: models get the (N, C, H, W) array.")
    n_folds = c3.number_input("Folds", min_value=2, max_value=10, value=5, step=1, key="benchmark:folds")
    seed = c4.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key="benchmark:seed")
    as_is = st.checkbox(
        "Evaluate scikit-learn models as-is", key="benchmark:as_is",
        help="By default a clone of a scikit-learn model is refit on each fold's training rows. As-is scores "
             "the uploaded fitted model on each fold's test rows instead, which may include rows it was trained on.")
    with st.expander("Latency settings", icon=":material/timer:"):
        l1, l2, l3, l4 = st.columns([1, 1, 2, 1])
        min_time = l1.number_input("Minimum time per batch size (s)", min_value=0.01, max_value=30.0, value=0.3,
                                   step=0.05, format="%.2f", key="benchmark:lat_time")
        min_count = l2.number_input("Minimum timed calls", min_value=1, max_value=100_000, value=30, step=5,
                                    key="benchmark:lat_count")
        batch_sizes = l3.multiselect("Batch sizes", list(DEFAULT_BATCH_SIZES), default=list(DEFAULT_BATCH_SIZES),
                                     key="benchmark:lat_batches", help="leave empty to skip the latency measurement")
        threads = l4.number_input("Threads", min_value=1, max_value=CORES, value=CORES, step=1,
                                  key="benchmark:threads")
    submitted = st.form_submit_button("Run benchmark", type="primary", icon=":material/play_arrow:")


def start() -> None:
    """Plan (validates everything; nothing runs on bad input), then submit what is not stored yet."""
    with ui.guard("planning the benchmark") as planned:
        latency = LatencySettings(batch_sizes=tuple(sorted(int(b) for b in batch_sizes)), min_time_s=float(min_time),
                                  min_count=int(min_count)) if batch_sizes else None
        config = benchmark.BenchmarkConfig(target=target,
                                           drop=tuple(drop), cv=int(n_folds), seed=int(seed),
                                           as_is=bool(as_is), latency=latency, threads=int(threads))
        plan = benchmark.plan(ws, [infos[i] for i in model_ids], dataset, config)
    if not planned.ok:
        return
    job_id = None
    if plan.pending:
        names = ", ".join(r.name for r in plan.pending)
        with ui.guard("starting the benchmark") as started:
            job_id = jobs.submit(ws, plan.to_request(), title=f"Benchmark on {dataset.name}: {names}")
        if not started.ok:
            return
    st.session_state[JOB] = job_id
    st.session_state[RUNS] = [r.run_id for r in plan.runs]
    if job_id:  # the URL names the job: a refresh (or a teammate given the link) finds it again
        st.query_params["job"] = job_id
    else:
        st.query_params.pop("job", None)
    st.session_state[CACHED] = [r.run_id for r in plan.runs if r.cached]


if submitted:
    start()

# ------------------------------------------------------------------ current
job_id = st.session_state.get(JOB)
run_ids: list[str] = st.session_state.get(RUNS, [])
linked = st.query_params.get("job")
if job_id is None and not run_ids and linked:  # a refresh lost the session: the URL still names the job
    request = state.job_request(ws, linked)
    if request.get("kind") == "benchmark":
        job_id, run_ids = linked, [r["run_id"] for r in request.get("runs", [])]
        st.session_state[JOB], st.session_state[RUNS], st.session_state[CACHED] = job_id, run_ids, []
    else:
        st.warning(f"The link names benchmark '{linked}', which is not in this workspace.")
others = [j for j in jobs.list_jobs(ws, active_only=True) if j.kind == "benchmark" and j.job_id != job_id]
if others:
    st.caption(f"{len(others)} other benchmark(s) running on this server: "
               + "; ".join(f"[{j.title or j.job_id}](?job={j.job_id})" for j in others))

if job_id or run_ids:
    st.subheader("Results")
    status = None
    if job_id:
        with ui.guard("reading the job's status"):
            status = jobs.status(ws, job_id)
    if status is not None and status.active:
        ui.job_panel(ws, job_id, key="benchmark")
    else:
        if status is not None and status.state == "failed":
            st.error(status.error or "the benchmark failed")
        elif status is not None and status.state == "cancelled":
            st.info("The benchmark was cancelled; runs that finished before are shown below.")
        done = state.existing(ws, run_ids)
        if done:
            with ui.guard("showing the results"):
                ui.results_view(ws, done, key="benchmark:current", cached=set(st.session_state.get(CACHED, [])))
        elif status is None or status.state == "done":
            st.info("No stored results for this benchmark.")

# ----------------------------------------------------------- previous runs
def _delete_run(run_id: str) -> None:
    """Remove one stored run (only its own folder) and forget it in this session's selections."""
    ResultStore(ws).delete(run_id)
    shown = st.session_state.get("benchmark:previous:runs") or []
    st.session_state["benchmark:previous:runs"] = [r for r in shown if r != run_id]



st.divider()
st.subheader("Previous runs")
for level, message in st.session_state.pop("benchmark:flash", []):
    getattr(st, level)(message)
with ui.guard("reading the stored runs") as read:
    all_runs = state.runs(ws)
if not read.ok:
    st.stop()
if all_runs.empty:
    st.caption("No runs stored yet: results of every benchmark are kept here.")
else:
    table = charts.results_table(all_runs)
    ui.results_table_view(table, key="benchmark:previous:table", height=min(400, 38 + 35 * len(table)))
    labels = {r.run_id: f"{r.model} · {r.dataset} · {r.mode} · {str(r.created_at)[:19].replace('T', ' ')}"
              for r in all_runs.itertuples()}
    chosen = st.multiselect("Show charts for", list(labels), format_func=labels.get, key="benchmark:previous:runs",
                            placeholder="choose stored runs to compare")
    if chosen:
        with ui.guard("showing the results"):
            ui.results_view(ws, chosen, key="benchmark:previous")
    ui.delete_control(
        "run", labels, key="benchmark:run_delete", flash_key="benchmark:flash",
        note="Only this run's results are removed; models, datasets and other runs are kept.",
        delete=_delete_run)
