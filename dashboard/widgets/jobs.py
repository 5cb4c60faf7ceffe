"""One widget for every page's job: start it, follow it, cancel it, find it again.

A page owns a :class:`Slot` (the job kinds it shows). The job a page follows
is named in the URL (``?job=<id>``), so a refresh — or a teammate given the
link — finds it again; the session remembers it too, so moving to another page
and back puts ``?job=`` back. Ids from URLs are validated before anything is
read or echoed. Someone else's job is shown under a "viewing <owner>'s job"
header, and only its owner or an admin sees Cancel.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import streamlit as st

from dashboard import actions
from dashboard.text import md
from dashboard.widgets.errors import guard, show_error, ui_message
from engine import jobs
from engine.errors import FrontierError
from engine.ids import is_job_id
from engine.owners import Actor
from engine.workspace import Workspace

PARAM = "job"
POLL_S = 0.5
KIND_WORDS = {"tune": "study", "benchmark": "benchmark", "register_model": "model upload", "register_dataset": "dataset upload",
              "describe": "model description", "compress": "compression", "tune_save": "trial save"}
KIND_PAGES = {"tune": "Tune", "benchmark": "Benchmark", "register_model": "Models & data", "register_dataset": "Models & data",
              "describe": "Models & data", "compress": "Compress", "tune_save": "Tune"}


@dataclass(frozen=True)
class Slot:
    """Where a page keeps its job: ``page`` prefixes session and widget keys; ``kinds`` it shows."""

    page: str
    kinds: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.page}:job_id"


@dataclass(frozen=True)
class JobView:
    """A job as this session sees it."""

    status: Any  # engine.jobs.JobStatus
    owner: str | None
    mine: bool
    may_cancel: bool

    @property
    def job_id(self) -> str:
        return self.status.job_id

    @property
    def error(self) -> str:
        """The failure in the dashboard's words."""
        return self.status.ui_error or self.status.error or "the job failed"


def kind_words(kind: str) -> str:
    return KIND_WORDS.get(kind, "job")


# --------------------------------------------------------------------- start
def start(ws: Workspace, slot: Slot, request: dict[str, Any], *, actor: Actor, title: str,
          files: dict[str, bytes] | None = None, limits: Any = None) -> str | None:
    """Submit a job for ``actor`` and make it the page's job (URL included); None (error shown) on failure."""
    with guard("starting the job") as started:
        job_id = actions.submit(ws, request, actor=actor, title=title, files=files, limits=limits)
    if not started.ok:
        return None
    st.session_state[slot.key] = job_id
    st.query_params[PARAM] = job_id
    return job_id


def forget(slot: Slot) -> None:
    """The page follows no job any more."""
    st.session_state.pop(slot.key, None)
    st.query_params.pop(PARAM, None)


# ---------------------------------------------------------------- re-attach
def current(ws: Workspace, slot: Slot) -> str | None:
    """The page's job: the one the URL names (checked), else this session's; ``?job=`` names it after."""
    mine = st.session_state.get(slot.key)
    linked = st.query_params.get(PARAM)
    if linked is not None and linked != mine and _linked_ok(ws, slot, linked):
        st.session_state[slot.key] = mine = linked
    if mine and st.query_params.get(PARAM) != mine:  # back from another page: the URL names the job again
        st.query_params[PARAM] = mine
    return mine


def _linked_ok(ws: Workspace, slot: Slot, linked: str) -> bool:
    """Whether the URL's job can be shown here; warns (without echoing the link) when not."""
    if not is_job_id(linked):
        st.warning("The link's job id is not valid; check the link you were given.", icon=":material/link_off:")
        return False
    try:
        status = jobs.status(ws, linked)
    except (FrontierError, OSError):
        st.warning("The link names a job that is not in this workspace.", icon=":material/link_off:")
        return False
    if status.kind not in slot.kinds:
        page = KIND_PAGES.get(status.kind)
        where = f"; open it on the {page} page" if page else ""
        st.warning(f"The link names a {kind_words(status.kind)} job{where}.", icon=":material/link_off:")
        return False
    return True


def followed(ws: Workspace, slot: Slot, *, actor: Actor) -> JobView | None:
    """The page's job (see :func:`current`) as ``actor`` sees it; a job that has vanished is let go."""
    job_id = current(ws, slot)
    job = view(ws, job_id, actor=actor) if job_id else None
    if job_id and job is None:
        forget(slot)
    return job


def view(ws: Workspace, job_id: str, *, actor: Actor) -> JobView | None:
    """The job's status for ``actor``; None (and a warning) when it cannot be read."""
    try:
        status = jobs.status(ws, job_id)
    except (FrontierError, OSError):
        st.warning("This page's job is no longer in the workspace.", icon=":material/link_off:")
        return None
    owner = actions.owner_of(status)
    return JobView(status, owner, mine=owner is None or owner == actor.name, may_cancel=actor.may_modify(owner))


# ------------------------------------------------------------------- follow
def header(job: JobView) -> None:
    """Whose job this is, when it is not the viewer's: shown above its progress and results."""
    if job.mine:
        return
    started = job.status.started_at
    when = f", started {time.strftime('%Y-%m-%d %H:%M', time.localtime(started))}" if started else ""
    st.info(md(f"Viewing {job.owner}'s {kind_words(job.status.kind)}: {job.status.title or job.job_id}{when}."),
            icon=":material/visibility:")


def follow(ws: Workspace, job: JobView, *, slot: Slot, actor: Actor) -> None:
    """A polled progress bar (with Cancel for those allowed) while the job runs; reruns the page when it ends."""
    if job.status.active:
        _progress(ws, job.job_id, key=slot.page, actor=actor, may_cancel=job.may_cancel)


@st.fragment(run_every=POLL_S)
def _progress(ws: Workspace, job_id: str, *, key: str, actor: Actor, may_cancel: bool) -> None:
    try:
        status = jobs.status(ws, job_id)
    except FrontierError as exc:
        show_error(ui_message(exc))
        return
    if not status.active:
        st.rerun()
    title = status.title or kind_words(status.kind)
    st.progress(min(max(float(status.fraction), 0.0), 1.0), text=md(f"{title} — {status.detail}", limit=400))
    if may_cancel and st.button("Cancel", key=f"{key}:cancel:{job_id}", icon=":material/stop_circle:"):
        with guard("cancelling the job"):
            actions.cancel(ws, job_id, actor=actor)
        st.rerun()


# ------------------------------------------------------------------- others
def others(ws: Workspace, slot: Slot, *, actor: Actor, current_id: str | None) -> None:
    """Other running jobs of this page's kinds, yours apart from teammates', as links."""
    running = [j for j in jobs.list_jobs(ws, active_only=True)
               if j.kind in slot.kinds and j.job_id != current_id and is_job_id(j.job_id)]
    if not running:
        return
    words = f"{kind_words(slot.kinds[0])}(s)" if len(slot.kinds) == 1 else "jobs"
    yours = [j for j in running if actions.owner_of(j) in (None, actor.name)]
    theirs = [j for j in running if j not in yours]

    def link(j: Any, with_owner: bool) -> str:
        who = f"{md(actions.owner_of(j))}: " if with_owner else ""
        return f"{who}[{md(j.title or j.job_id, limit=80)}](?{PARAM}={j.job_id})"

    if yours:
        st.caption(f"Your other {words} running: " + "; ".join(link(j, False) for j in yours))
    if theirs:
        st.caption(f"Teammates' {words} running: " + "; ".join(link(j, True) for j in theirs))
