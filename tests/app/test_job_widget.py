"""The job widget: ?job= survives moving between pages, your jobs are told apart from teammates',
and a teammate's job opens under a "viewing <owner>'s job" header with its own settings."""

from __future__ import annotations

import pytest
from app_support import (
    BENCHMARK_PAGE,
    UPLOAD_PAGE,
    captions,
    charts_of,
    infos,
    new_app,
    run_until,
    signed_in_app,
)
from test_benchmark_page import LOGREG, submit_directly

from dashboard import actions
from engine import jobs
from engine.errors import FrontierError
from engine.owners import Actor


def test_moving_to_another_page_and_back_keeps_the_job_in_the_url(workspace):
    job_id, _ = submit_directly(workspace, LOGREG, "digits", min_time_s=30.0)
    at = new_app()
    at.query_params["job"] = job_id
    at.run()
    assert at.session_state["benchmark:job_id"] == job_id
    at.query_params.clear()  # what the browser does when the sidebar opens Models & data
    at.switch_page(UPLOAD_PAGE).run()
    assert not at.exception and "job" not in at.query_params  # the upload page follows no job
    at.switch_page(BENCHMARK_PAGE).run()
    assert not at.exception
    assert at.query_params["job"] == job_id  # back: the URL names the job again, so a refresh finds it
    assert at.get("progress")
    assert not any("other benchmark" in c for c in captions(at))  # never listed as "another" job
    jobs.cancel(workspace, job_id)


def test_your_jobs_and_teammates_jobs_are_listed_apart(workspace):
    submit_directly(workspace, LOGREG, "digits", min_time_s=30.0, owner="alice")
    submit_directly(workspace, "MLP (ONNX)", "digits", min_time_s=30.0, owner="bob")
    at = signed_in_app("alice")
    lines = captions(at)
    assert any(c.startswith("Your other benchmark(s) running: [test Logistic") for c in lines), lines
    assert any(c.startswith("Teammates' benchmark(s) running: bob: [test MLP") for c in lines), lines


@pytest.fixture
def alices_job(workspace):
    job_id, _ = submit_directly(workspace, LOGREG, "digits", min_time_s=30.0, owner="alice")
    yield job_id
    jobs.cancel(workspace, job_id)


def _open(user: str, job_id: str):
    at = signed_in_app(user)
    at.query_params["job"] = job_id
    return at.run()


def test_a_teammates_link_shows_whose_job_it_is_and_its_own_settings(workspace, alices_job):
    at = _open("bob", alices_job)
    assert not at.exception
    header = infos(at)[0]
    assert header.startswith("Viewing alice's benchmark: test Logistic regression (scikit-learn)")
    settings = next(c for c in captions(at) if c.startswith("Settings:"))
    assert "dataset digits" in settings and "models Logistic regression (scikit-learn)" in settings
    assert "3 folds, seed 0" in settings and "batch sizes 1, 32" in settings
    # the form is folded away below, not shown above the progress with unrelated defaults
    assert any(e.label == "Run a benchmark of your own" for e in at.expander)
    assert at.get("progress")
    # bob may watch but not cancel alice's job
    assert not [b for b in at.button if b.key == f"benchmark:cancel:{alices_job}"]


def test_only_the_owner_or_an_admin_can_cancel(workspace, alices_job):
    """Attack: cancel a teammate's job from its link (or by calling the action with its id)."""
    with pytest.raises(FrontierError, match="alice's"):
        actions.cancel(workspace, alices_job, actor=Actor("bob"))
    assert jobs.status(workspace, alices_job).active
    owner = _open("alice", alices_job)
    assert not any(i.startswith("Viewing") for i in infos(owner))  # her own job: no header
    assert owner.button(key=f"benchmark:cancel:{alices_job}")
    admin = _open("carol", alices_job)
    assert admin.button(key=f"benchmark:cancel:{alices_job}")
    admin.button(key=f"benchmark:cancel:{alices_job}").click().run()
    assert jobs.wait(workspace, alices_job, timeout_s=30).state == "cancelled"


def test_a_teammates_finished_job_shows_its_results(workspace):
    job_id, _ = submit_directly(workspace, LOGREG, "digits", owner="alice")
    assert jobs.wait(workspace, job_id, timeout_s=150).state == "done"
    at = _open("bob", job_id)
    run_until(at, lambda a: len(charts_of(a)) >= 8)
    assert infos(at)[0].startswith("Viewing alice's benchmark")
    assert at.dataframe[0].value["model"].tolist() == [LOGREG]
