"""Compare: stored runs side by side, Pareto front, significance, a verdict, a link and a report."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboard import nav, state
from dashboard.auth import gate
from dashboard.widgets import compare_link as link
from dashboard.widgets import compare_view as view
from dashboard.widgets.errors import guard
from engine import metrics
from engine.compare import Axes, RunFilter, candidates

ws = state.workspace()
gate.actor()
OPTIONS_SHOWN = 300  # runs offered in the picker (newest matching first), whatever the store holds
ADD_ALL = 50  # runs "Add all matching" adds (pairwise tests grow with the square)

st.title("Compare")
st.caption("Stored runs side by side: which are on the accuracy/latency frontier, whether a difference is real, "
           "and which one to ship. The link in the address bar opens this same view.")

with guard("reading the stored runs") as read:
    all_runs = state.runs(ws)
if not read.ok:
    st.stop()
if all_runs.empty:
    st.info("No runs stored yet: benchmark some models first.")
    st.page_link(nav.benchmark_page(), label="Go to Benchmark", icon=":material/speed:")
    st.stop()

task_of = dict(zip(all_runs["run_id"], all_runs["task"], strict=False))
for note in link.load(link.Choices(set(all_runs["run_id"]), view.URL_CHOICES)):
    st.info(note, icon=":material/link:")

# ------------------------------------------------------------------ choose runs
with st.expander("Find runs", icon=":material/filter_list:", expanded=not st.session_state.get(link.key("runs"))):
    c1, c2, c3 = st.columns(3)
    f = RunFilter(
        datasets=tuple(c1.multiselect("Dataset", sorted(all_runs["dataset"].dropna().unique()),
                                      key=link.key("f_dataset"))),
        formats=tuple(c2.multiselect("Format", sorted(all_runs["format"].dropna().unique()), key=link.key("f_format"))),
        modes=tuple(c3.multiselect("Mode", sorted(all_runs["mode"].dropna().unique()), key=link.key("f_mode"))),
        lineages=tuple(c1.multiselect("Lineage", view.LINEAGES, key=link.key("f_lineage"),
                                      help="uploaded models, bundled samples, tuned trials or compressed variants")),
        since=c2.date_input("Measured since", value=None, key=link.key("f_since")),
        until=c3.date_input("Measured until", value=None, key=link.key("f_until")),
        text=st.text_input("Words in a model, dataset, owner or mode name", key=link.key("f_text")),
    )
matching = candidates(all_runs, f)
chosen_before = [r for r in st.session_state.get(link.key("runs")) or [] if r in task_of]
offered = list(dict.fromkeys([*chosen_before, *matching["run_id"].head(OPTIONS_SHOWN)]))
labels = view.run_labels(all_runs, offered)
st.caption(f"{len(matching):,} of {len(all_runs):,} stored runs match"
           + (f"; the newest {OPTIONS_SHOWN} are offered" if len(matching) > OPTIONS_SHOWN else ""))
b1, b2 = st.columns([4, 1])
if b2.button("Add all matching", key=link.key("add_all"), disabled=matching.empty,
             help=f"Add the {min(len(matching), ADD_ALL)} newest matching runs to the comparison"):
    st.session_state[link.key("runs")] = list(dict.fromkeys([*chosen_before, *matching["run_id"].head(ADD_ALL)]))
    st.rerun()
chosen = b1.multiselect("Runs to compare", offered, format_func=labels.get, key=link.key("runs"),
                        placeholder="choose two or more stored runs")
if not chosen:
    st.info("Choose runs to compare: use Find runs to narrow the list, or Add all matching.")
    link.save({})
    st.stop()

tasks = {task_of[r] for r in chosen}
task = tasks.pop() if len(tasks) == 1 else "classification"
settings = view.settings_form(chosen, labels, task)
options = (("baseline", settings.baseline), ("axes", Axes(settings.x, settings.y, settings.color)),
           ("batch_size", settings.batch_size), ("metric", settings.metric), ("rope", settings.rope),
           ("margin", settings.margin), ("budgets", settings.budgets), ("cost", settings.cost),
           ("all_metrics_pairwise", False))
with guard("comparing the runs") as built:
    c = state.comparison(ws, tuple(chosen), options)
if not built.ok:
    st.stop()

view.verdict(c)
settings = view.choose_view(settings)
with st.sidebar:
    st.caption("Link to this comparison")
    st.code(link.save({"runs": chosen, **settings.url_values}), language=None, wrap_lines=True)
with guard("showing the comparison"):
    view.body(c, settings, key=f"compare:{'-'.join(sorted(chosen))[:64]}", matching=matching)
view.downloads(c, stamp=dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M"))
st.caption(f"Metrics: {', '.join(m.label for m in metrics.for_task(task))}.")
