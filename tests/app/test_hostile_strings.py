"""Every user string is shown as text: hostile URLs and names never become links, images or markup."""

from __future__ import annotations

import re

import pytest
from app_support import HOSTILE, UPLOAD_PAGE, captions, new_app, plain, texts, warnings
from test_benchmark_page import submit_directly

from engine import datasets, jobs, models
from engine.workspace import Workspace

PHISHING = "![t](http://host/x) [Session expired - click here](http://host/)"
# unescaped markdown that would make a link or an image, or a bare URL that would autolink
LIVE_MARKUP = re.compile(r"(?<!\\)\]\((?!\?job=\d{8}-\d{6}-[0-9a-f]{6}\))|https?://|(?<!\\)<a |(?<!\\)!\[")


def _live(at) -> list[str]:
    return [t for t in texts(at) if LIVE_MARKUP.search(t)]


def _skops(seed: int) -> bytes:
    import skops.io as sio
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    X, y = load_digits(return_X_y=True)
    return sio.dumps(LogisticRegression(max_iter=3000 + seed).fit(X[:300], y[:300]))


@pytest.mark.parametrize("link", [PHISHING, "../../etc/passwd", "20261124-000000-abcdeg", "x" * 5000])
def test_a_hostile_job_link_is_refused_without_echoing_it(workspace, link):
    at = new_app()
    at.query_params["job"] = link
    at.run()
    assert not at.exception
    assert warnings(at) == ["The link's job id is not valid; check the link you were given."]
    assert not _live(at)
    assert not any("Session expired" in t or "passwd" in t for t in texts(at))


def test_a_well_formed_link_to_a_missing_job_is_a_warning(workspace):
    at = new_app()
    at.query_params["job"] = "20991231-235959-abcdef"
    at.run()
    assert warnings(at) == ["The link names a job that is not in this workspace."]


def _hostile_model(ws: Workspace):
    return models.register_bytes(ws, _skops(0), "hostile.skops", display_name=HOSTILE)


def test_a_hostile_model_name_is_text_in_the_delete_confirmation(workspace):
    info = _hostile_model(workspace)
    at = new_app().run()
    at.switch_page(UPLOAD_PAGE).run()
    at.selectbox(key="upload:model_delete:choice").set_value(info.id).run()
    at.button(key="upload:model_delete:ask").click().run()
    confirm = [w.value for w in at.warning if "cannot be undone" in w.value]
    assert len(confirm) == 1 and plain(confirm[0]).startswith(f"Delete {HOSTILE} · skops?")
    assert not _live(at), _live(at)
    at.button(key="upload:model_delete:confirm").click().run()
    assert any(plain(s.value) == f"Deleted {HOSTILE} · skops." for s in at.success)
    assert not _live(at)


def test_a_hostile_dataset_name_is_text_in_the_delete_confirmation(workspace):
    ds = datasets.register(workspace, datasets.read_bytes(b"a,b,y\n1,2,0\n3,4,1\n", name="d.csv"))
    renamed = datasets.register(workspace, type(ds)(**{**ds.__dict__, "id": "0123456789abcdef", "name": HOSTILE}))
    at = new_app().run()
    at.switch_page(UPLOAD_PAGE).run()
    at.selectbox(key="upload:dataset_delete:choice").set_value(renamed.id).run()
    at.button(key="upload:dataset_delete:ask").click().run()
    assert any(plain(w.value).startswith(f"Delete {HOSTILE} · tabular") for w in at.warning)
    assert not _live(at), _live(at)


def test_a_hostile_name_is_text_in_the_running_jobs_caption_and_the_viewing_header(workspace):
    _hostile_model(workspace)
    job_id, _ = submit_directly(workspace, HOSTILE, "digits", min_time_s=30.0, owner="[mallory](http://evil)")
    try:
        at = new_app().run()
        line = next(c for c in captions(at) if c.startswith("Teammates' benchmark(s) running"))
        assert f"[mallory](http://evil): [test {HOSTILE}](?job={job_id})" in line
        assert not _live(at), _live(at)
        at.query_params["job"] = job_id
        at.run()
        assert any(plain(i.value).startswith(f"Viewing [mallory](http://evil)'s benchmark: test {HOSTILE}")
                   for i in at.info)
        assert not _live(at), _live(at)
    finally:
        jobs.cancel(workspace, job_id)


def test_a_hostile_upload_file_name_is_text_in_the_refusal(workspace):
    at = new_app().run()
    at.switch_page(UPLOAD_PAGE).run()
    from app_support import form_key

    at.file_uploader(key=form_key(at, "model", "file")).upload(f"{HOSTILE}.pkl", b"\x80\x04K\x01.")
    at.button(key="FormSubmitter:upload:model_form-Register model").click().run()
    [error] = [e.value for e in at.error]
    assert plain(error).startswith(f"'{HOSTILE}.pkl' is a pickle/joblib or TorchScript file")
    assert not _live(at), _live(at)
