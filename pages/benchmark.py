"""Benchmark: cross-validate models on shared folds, time them, compare the results."""

from __future__ import annotations

import streamlit as st

from dashboard import actions, nav, state
from dashboard.auth import gate
from dashboard.widgets import benchmark_form, benchmark_job, jobs, registry, results, tables
from dashboard.widgets.errors import guard
from engine import charts, datasets, models
from engine.results.index import newest_matching

ws = state.workspace()
actor = gate.actor()
SLOT = benchmark_job.SLOT
SHOWN_RUNS = 25  # the newest runs listed; Find runs reaches the rest (page cost independent of the store)

st.title("Benchmark")
st.caption("Cross-validate models on the same seeded folds and measure their inference latency. "
           "Work runs in an isolated worker process; results are stored and reused.")

infos = {i.id: i for i in models.list_registered(ws)}
registered = datasets.list_registered(ws)
if not infos or registered.empty:
    st.info("Register at least one model and one dataset first.")
    st.page_link(nav.upload_page(), label="Go to Models & data", icon=":material/upload_file:")
    st.stop()

# ------------------------------------------------------------ current job
job = jobs.followed(ws, SLOT, actor=actor)
job_id = job.job_id if job else None
if job is not None and not job.mine:  # a teammate's job from a link: its own settings first, the form folded
    jobs.header(job)
    st.caption(benchmark_form.settings_line(state.job_request(ws, job.job_id)))
    benchmark_job.show(ws, job, benchmark_job.runs_of(ws, job_id), actor=actor)
    with st.expander("Run a benchmark of your own", icon=":material/play_arrow:"):
        asked = benchmark_form.form(str(ws.root), infos, registered)
else:
    asked = benchmark_form.form(str(ws.root), infos, registered)
if asked is not None and benchmark_job.start(ws, asked, infos, actor=actor):
    st.rerun()
if job is None or job.mine:
    benchmark_job.show(ws, job, benchmark_job.runs_of(ws, job_id), actor=actor)
jobs.others(ws, SLOT, actor=actor, current_id=job_id)

# ----------------------------------------------------------- previous runs
st.divider()
st.subheader("Previous runs")
registry.show_flashes("benchmark:flash")
with guard("reading the stored runs") as read:
    all_runs = state.runs(ws)
if not read.ok:
    st.stop()
if all_runs.empty:
    st.caption("No runs stored yet: results of every benchmark are kept here.")
    st.stop()
query = st.text_input("Find runs", key="benchmark:previous:filter", placeholder="words in a model, dataset, "
                      "owner or mode name", help="Shows runs whose names contain every word you type.")
shown, n_matching = newest_matching(all_runs, query, limit=SHOWN_RUNS)
if n_matching > len(shown):
    st.caption(f"Showing the {len(shown):,} newest of {n_matching:,} matching runs ({len(all_runs):,} stored); "
               "type in Find runs to narrow them down.")
elif query:
    st.caption(f"{n_matching:,} of {len(all_runs):,} stored runs match.")
if shown.empty:
    st.stop()
tables.results_table(charts.results_table_info(shown), key="benchmark:stored:table",
                     height=min(400, 38 + 35 * len(shown)))
kept = st.session_state.get("benchmark:previous:runs") or []
labels = {r.run_id: f"{r.model} · {r.dataset} · {r.mode} · {str(r.created_at)[:19].replace('T', ' ')}"
          for r in all_runs[all_runs["run_id"].isin({*shown["run_id"], *kept})].itertuples()}
chosen = st.multiselect("Show charts for", list(labels), format_func=labels.get, key="benchmark:previous:runs",
                        placeholder="choose stored runs to compare")
if chosen:
    with guard("showing the results"):
        results.results_view(ws, chosen, key="benchmark:previous")


def delete_run(run_id: str) -> None:
    """Remove one stored run (owner or admin; only its own folder) and forget it in the selection."""
    actions.delete_run(ws, run_id, actor=actor)
    st.session_state["benchmark:previous:runs"] = [r for r in st.session_state.get("benchmark:previous:runs") or []
                                                   if r != run_id]


owners = {r["run_id"]: actions.owner_of(r) for r in all_runs[all_runs["run_id"].isin(labels)].to_dict("records")}
registry.delete_control(
    "run", [registry.Item(r, label, owners.get(r)) for r, label in labels.items()], may_delete=actor.may_modify,
    key="benchmark:run_delete", flash_key="benchmark:flash",
    note="Only this run's results are removed; models, datasets and other runs are kept.", delete=delete_run)
