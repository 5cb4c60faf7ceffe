"""Uploads as jobs: submit the bytes to a worker, follow it, and say what came of it.

The outcome is read from the job itself on every run, so the success message
stays on the page (through later reruns, a refresh, or a background
description finishing) until another upload replaces it.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import actions, uploads
from dashboard.text import md
from dashboard.units import size_text
from dashboard.widgets import jobs, upload_forms
from dashboard.widgets.errors import guard, show_error, ui_message
from engine import jobs as engine_jobs
from engine.errors import FrontierError
from engine.ids import is_content_id
from engine.owners import Actor
from engine.workspace import Workspace

SLOT = jobs.Slot("upload", kinds=("register_model", "register_dataset", "describe"))
FORM_OF = {"register_model": "model", "register_dataset": "dataset"}
DESCRIBING = "upload:describing"  # {artifact id: describe job id}, started from this session


def submit(ws: Workspace, asked: upload_forms.Submitted, *, actor: Actor) -> None:
    """Check the upload here (size, name, trust: nothing parsed) and start its register job."""
    if asked.data is None or asked.filename is None:
        show_error(f"Choose a {asked.kind} file first.")
        return
    try:
        if asked.kind == "model":
            upload = uploads.model_upload(asked.data, asked.filename, display_name=asked.display_name,
                                          trusted=asked.trusted)
        else:
            upload = uploads.dataset_upload(asked.data, asked.filename, display_name=asked.display_name)
    except FrontierError as exc:
        show_error(ui_message(exc))
        if asked.kind == "model" and uploads.needs_trust(asked.filename) and not asked.trusted:
            upload_forms.trust_button()
        return
    jobs.start(ws, SLOT, upload.request, actor=actor, title=upload.title, files=upload.files)


def clear_finished_form(job: jobs.JobView | None) -> None:
    """Empty the form whose upload just registered (once per job, only for the viewer's own)."""
    if job is None or not job.mine or job.status.state != "done" or job.status.kind not in FORM_OF:
        return
    if st.session_state.get("upload:cleared_for") != job.job_id:
        st.session_state["upload:cleared_for"] = job.job_id
        upload_forms.clear(FORM_OF[job.status.kind])  # type: ignore[arg-type]


def show(ws: Workspace, job: jobs.JobView, *, actor: Actor) -> None:
    """Progress while the job runs; then its outcome (kept on the page)."""
    jobs.header(job)
    status = job.status
    if status.active:
        jobs.follow(ws, job, slot=SLOT, actor=actor)
    elif status.state == "failed":
        show_error(job.error)
    elif status.state == "cancelled":
        st.info("The upload was cancelled; nothing was registered.")
    elif status.kind == "register_model":
        _model_registered(ws, status.result or {}, actor=actor)
    elif status.kind == "register_dataset":
        _dataset_registered(status.result or {})
    elif status.kind == "describe":
        st.success("The model's parameter count was read in an isolated worker.", icon=":material/check_circle:")


def _model_registered(ws: Workspace, result: dict[str, Any], *, actor: Actor) -> None:
    verb = "was already registered" if result.get("existed") else "registered"
    st.success(md(f"'{result.get('name', '?')}' ({result.get('format', '?')}, {size_text(result.get('size_bytes'))}) "
                  f"{verb} — id {result.get('artifact_id', '?')}."), icon=":material/check_circle:")
    artifact_id = result.get("artifact_id")
    if result.get("needs_describe") and is_content_id(artifact_id):
        _describe(ws, artifact_id, actor=actor)


def _dataset_registered(result: dict[str, Any]) -> None:
    verb = "was already registered" if result.get("existed") else "registered"
    st.success(md(f"'{result.get('name', '?')}' {verb}: {int(result.get('n_rows') or 0):,} rows, "
                  f"{result.get('n_columns', '?')} column(s) — id {result.get('dataset_id', '?')}."),
               icon=":material/check_circle:")


def _describe(ws: Workspace, artifact_id: str, *, actor: Actor) -> None:
    """Read a code-bearing model's parameter count in a worker; the page refreshes when it is known."""
    describing = st.session_state.setdefault(DESCRIBING, {})
    if artifact_id not in describing:
        with guard("starting the model's description") as started:
            describing[artifact_id] = actions.submit(ws, {"kind": "describe", "artifact_id": artifact_id},
                                                     actor=actor, title="describe an uploaded model")
        if not started.ok:
            return
    _watch_description(ws, describing[artifact_id])


@st.fragment(run_every=1.0)
def _watch_description(ws: Workspace, job_id: str) -> None:
    try:
        status = engine_jobs.status(ws, job_id)
    except FrontierError:
        return
    if status.active:
        st.caption(":material/hourglass_top: Reading its parameter count in an isolated worker…")
    elif status.state == "failed":
        st.caption(md(f"Its parameter count could not be read: {status.ui_error or status.error}"))
    elif st.session_state.get("upload:described") != job_id:
        st.session_state["upload:described"] = job_id
        st.rerun()  # the models table shows the count
