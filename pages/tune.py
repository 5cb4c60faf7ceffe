"""Tune: launch Optuna studies as jobs, watch them, compare them, and send their best trials to Compare."""

from __future__ import annotations

import streamlit as st

from dashboard import actions, nav, state
from dashboard.auth import gate
from dashboard.widgets import jobs, tune_form, tune_view
from dashboard.widgets.errors import guard, show_error
from engine import datasets
from engine.tune.storage import mask

ws = state.workspace()
actor = gate.actor()
SLOT = jobs.Slot("tune", kinds=("tune", "tune_save"))
MAX_COMPARED = 24
FOCUS = "tune:focus"  # a study just started: selected once it exists

st.title("Tune")
st.caption("Optuna searches over a model family's hyperparameters on the benchmark's folds: watch them live, "
           "compare searches, and save the best trials as models you can benchmark and compare.")

with guard("opening the study storage") as opened:
    url = state.tune_storage_url(ws)
    studies = state.studies(url)
if not opened.ok:
    st.stop()
st.caption(f"Studies are stored in `{mask(url)}`.")

# ------------------------------------------------------------ the followed job
job = jobs.followed(ws, SLOT, actor=actor)
if job is not None:
    jobs.header(job)
    request = state.job_request(ws, job.job_id)
    study_name = str(request.get("study") or "")
    if job.status.active:
        jobs.follow(ws, job, slot=SLOT, actor=actor)
        if study_name:
            tune_view.live(url, study_name)
    elif job.status.state in ("failed", "cancelled"):
        if job.status.kind == "tune" and study_name:
            tune_view.release(job.job_id, request)  # its running trial can never finish now
        if job.status.state == "failed":
            show_error(job.error)
        else:
            st.info("The study was stopped; the trials that finished are kept and it can be continued by "
                    "starting it again with the same settings.")
    elif job.status.state == "done":
        result = job.status.result or {}
        if job.status.kind == "tune_save":
            saved = [b for b in result.get("saved", []) if b.get("run_id")]
            st.success(f"{len(saved)} trial(s) of {study_name} saved and benchmarked.", icon=":material/check_circle:")
        elif result.get("feasible", True):
            saved = [b for b in result.get("saved", result.get("best_trials", [])) if b.get("run_id")]
            st.success(f"Study {study_name} finished: {result.get('n_trials', '?')} trials; "
                       f"{len(saved)} best trial(s) saved and benchmarked.", icon=":material/check_circle:")
        else:
            st.warning(f"Study {study_name} finished, but none of its {result.get('n_trials', '?')} trials meets "
                       "every constraint: the best trials overall were saved and are marked infeasible. Loosen a "
                       "constraint or search another space.", icon=":material/warning:")

if st.session_state.get("tune:view") is None or (st.session_state.get(FOCUS) in set(studies["study"])):
    st.session_state["tune:view"] = "studies" if len(studies) else "new"
view = st.segmented_control("View", ["studies", "new"], format_func={"studies": "Studies", "new": "New study"}.get,
                            key="tune:view") or "studies"

if view == "new":
    registered = datasets.list_registered(ws)
    if registered.empty:
        st.info("Register a dataset first.")
        st.page_link(nav.upload_page(), label="Go to Models & data", icon=":material/upload_file:")
        st.stop()
    asked = tune_form.form(ws, registered, storage=url)
    if asked is not None:
        payload, workers = asked
        title = f"Tune {payload.family} on {payload.study} ({payload.n_trials} trials)"
        if jobs.start(ws, SLOT, {"kind": "tune", **payload.to_dict()}, actor=actor, title=title) is not None:
            # more workers share the study; only the followed one saves and benchmarks the best trials
            extra = {"kind": "tune", **payload.to_dict(), "save_best": 0}
            for i in range(2, workers + 1):
                with guard("starting another worker"):
                    actions.submit(ws, extra, actor=actor, title=f"{title}, worker {i}")
            st.session_state[FOCUS] = payload.study  # shown under Studies once it exists
            st.rerun()
    jobs.others(ws, SLOT, actor=actor, current_id=job.job_id if job else None)
    st.stop()

if studies.empty:
    st.info("No studies yet: start one under New study.")
    st.stop()
names = studies["study"].tolist()
labels = {r.study: f"{r.study} · {r.family or '?'} · {r.sampler or '?'} · {r.n_trials:,} trials"
          for r in studies.itertuples()}
picked = [n for n in st.session_state.get("tune:studies") or [] if n in names]
if st.session_state.get(FOCUS) in names:  # the study just started, alone
    picked = [st.session_state.pop(FOCUS)]
st.session_state["tune:studies"] = picked[:MAX_COMPARED] if "tune:studies" in st.session_state or picked \
    else names[:1]
chosen = st.multiselect("Studies", names, format_func=labels.get, key="tune:studies",
                        max_selections=MAX_COMPARED,
                        help="one study for its details; several (e.g. TPE vs random, or repeats with other "
                             "seeds) to compare their searches")
if not chosen:
    st.info("Choose one or more studies.")
    st.stop()
rows = studies.set_index("study").loc[chosen].reset_index()
if len(chosen) > 1:
    st.subheader("Compare searches")
    with guard("comparing the studies"):
        tune_view.compare(url, rows)
st.subheader("Study")
one = st.selectbox("Details of", chosen, key="tune:detail") if len(chosen) > 1 else chosen[0]
with guard("reading the study"):
    tune_view.detail(ws, url, rows[rows["study"] == one].iloc[0],
                     may_open_dashboard=actor.admin or not gate.serving())
wanted = st.session_state.pop(tune_view.SAVE_REQUEST, None)
if wanted:
    save = {"kind": "tune_save", "study": one, "storage": url, "trials": wanted}
    if jobs.start(ws, SLOT, save, actor=actor, title=f"Save trials {', '.join(map(str, wanted))} of {one}"):
        st.rerun()
jobs.others(ws, SLOT, actor=actor, current_id=job.job_id if job else None)
