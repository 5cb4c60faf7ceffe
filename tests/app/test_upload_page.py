"""The Models & data page: uploads go to a worker job; the outcome stays; refusals keep the file."""

from __future__ import annotations

import pickle

import pyarrow as pa
import pytest
from app_support import (
    UPLOAD_PAGE,
    errors,
    form_key,
    infos,
    new_app,
    run_until,
    successes,
)
from sklearn.linear_model import LogisticRegression

from dashboard import uploads
from dashboard.units import MB
from engine import datasets, jobs, models
from engine.errors import FrontierError
from engine.jobs import spec as jobspec

MODEL_SUBMIT = "FormSubmitter:upload:model_form-Register model"
DATASET_SUBMIT = "FormSubmitter:upload:dataset_form-Register dataset"


@pytest.fixture
def page(workspace):
    at = new_app().run()
    assert not at.exception
    at.switch_page(UPLOAD_PAGE).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Models & data"
    return at


def _iris_model() -> LogisticRegression:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=300).fit(X, y)


def _choose_model(at, name: str, data: bytes, *, trusted: bool = False, display: str = ""):
    at.file_uploader(key=form_key(at, "model", "file")).upload(name, data)
    at.checkbox(key=form_key(at, "model", "trusted")).set_value(trusted)
    at.text_input(key=form_key(at, "model", "name")).set_value(display)


def _submit_model(at, name: str, data: bytes, **options):
    _choose_model(at, name, data, **options)
    at.button(key=MODEL_SUBMIT).click()
    return at.run()


def _submit_dataset(at, name: str, data: bytes, display: str = ""):
    at.file_uploader(key=form_key(at, "dataset", "file")).upload(name, data)
    at.text_input(key=form_key(at, "dataset", "name")).set_value(display)
    at.button(key=DATASET_SUBMIT).click()
    return at.run()


def _finished(at) -> bool:
    return bool(successes(at) or errors(at) or any("cancelled" in i for i in infos(at)))


def _ids(ws) -> set[str]:
    return {i.id for i in models.list_registered(ws)}


def _jobs(ws, kind: str) -> list:
    return [j for j in jobs.list_jobs(ws) if j.kind == kind]


def test_lists_bundled_models_and_datasets_with_binary_sizes(page, workspace):
    table, data = page.dataframe[0].value, page.dataframe[1].value
    assert "Logistic regression (scikit-learn)" in set(table["name"])
    assert {"onnx", "skops", "torchscript", "torch_export"} <= set(table["format"])
    assert {"digits", "digits_images", "iris", "diabetes"} <= set(data["name"])
    logreg = next(i for i in models.list_registered(workspace) if i.name == "Logistic regression (scikit-learn)")
    row = table.set_index("name").loc[logreg.name]
    assert row["size_bytes"] == logreg.size_bytes
    shown = pa.ipc.open_stream(page.dataframe[0].proto.arrow_data.styler.display_values).read_all().to_pandas()
    assert shown.set_index("name").loc[logreg.name, "size_bytes"] == f"{logreg.size_bytes / 2**10:.1f} KB"  # as the CLI
    for owners in (table["owner"], data["owner"]):  # the samples' owner (or "—" for none), never "None"
        assert owners.map(lambda o: isinstance(o, str) and o not in ("", "None")).all(), set(owners)
    assert not errors(page)


def test_a_model_is_registered_by_a_worker_job_and_the_message_stays(page, workspace):
    import skops.io as sio

    data = sio.dumps(_iris_model())
    _submit_model(page, "iris_logreg.skops", data)
    assert not errors(page), errors(page)
    [job] = _jobs(workspace, "register_model")
    assert page.query_params["job"] == job.job_id  # a refresh finds the upload again
    assert jobspec.read(workspace.job_dir(job.job_id)).payload.filename == "iris_logreg.skops"
    run_until(page, _finished)
    assert not errors(page), errors(page)
    [message] = successes(page)
    info = next(i for i in models.list_registered(workspace) if i.id in message)
    assert info.name == "iris_logreg"  # the display name defaults to the file's stem
    assert f"({info.format}, {info.size_bytes / 2**10:.1f} KB) registered" in message
    assert "iris_logreg" in set(page.dataframe[0].value["name"])
    # the form was emptied, and the message is still there on later reruns
    assert page.file_uploader(key=form_key(page, "model", "file")).value is None
    page.run()
    assert successes(page) == [message]
    # the same bytes again: one artifact, and the page says so
    n = len(_ids(workspace))
    _submit_model(page, "iris_logreg.skops", data)
    run_until(page, lambda a: any("already registered" in s for s in successes(a)) or errors(a))
    assert len(_ids(workspace)) == n and not errors(page)


def test_a_bad_model_file_fails_its_job_in_one_line_and_changes_nothing(page, workspace):
    before = _ids(workspace)
    _submit_model(page, "broken.onnx", b"this is not a protobuf")
    run_until(page, _finished)
    assert len(errors(page)) == 1 and "not a valid ONNX model" in errors(page)[0]
    assert _ids(workspace) == before
    assert not any(workspace.artifacts.glob(".stage-*"))


def test_no_file_chosen_is_an_error_without_a_job(page, workspace):
    page.button(key=MODEL_SUBMIT).click().run()
    assert errors(page) == ["Choose a model file first."]
    assert _jobs(workspace, "register_model") == []


def test_a_pickle_needs_trust_and_the_file_stays_for_one_click_trust(page, workspace):
    data = pickle.dumps(_iris_model())
    before = _ids(workspace)
    _submit_model(page, "iris_pickle.pkl", data)
    assert len(errors(page)) == 1 and "'I trust this file'" in errors(page)[0]
    assert _ids(workspace) == before and _jobs(workspace, "register_model") == []
    # the file is still in the form: "Trust and register" needs no new upload
    assert page.file_uploader(key=form_key(page, "model", "file")).value is not None
    page.button(key="upload:trust_and_register").click().run()
    assert not errors(page), errors(page)
    run_until(page, _finished)
    assert not errors(page), errors(page)
    info = next(i for i in models.list_registered(workspace) if i.name == "iris_pickle")
    assert info.format == "pickle" and info.trusted
    assert any("iris_pickle" in s for s in successes(page))


def test_ticking_the_box_after_a_refusal_and_pressing_register_again_works(page, workspace):
    data = pickle.dumps(_iris_model())
    _submit_model(page, "again.pkl", data)
    assert "'I trust this file'" in errors(page)[0]
    page.checkbox(key=form_key(page, "model", "trusted")).set_value(True)
    page.button(key=MODEL_SUBMIT).click().run()
    assert not errors(page), errors(page)  # not "Choose a model file first"
    run_until(page, _finished)
    assert any("again" in s for s in successes(page)), errors(page)


def test_a_dataset_is_registered_by_a_worker_job(page, workspace):
    before = set(datasets.list_registered(workspace)["id"])
    _submit_dataset(page, "one_column.csv", b"a\n1\n2\n")
    run_until(page, _finished)
    assert len(errors(page)) == 1 and "column" in errors(page)[0]
    assert set(datasets.list_registered(workspace)["id"]) == before

    _submit_dataset(page, "tiny.csv", b"x1,x2,label\n1,2,a\n2,3,b\n3,4,a\n4,5,b\n")
    run_until(page, lambda a: successes(a) or errors(a))
    assert not errors(page), errors(page)
    assert "'tiny' registered: 4 rows, 3 column(s)" in successes(page)[0]
    assert "tiny" in set(page.dataframe[1].value["name"])


def test_upload_limits_are_set_on_the_widgets_and_checked_in_the_server(page, monkeypatch):
    """Attack: a client that ignores the uploader's size limit (the widget only checks it in the browser)."""
    limits = {u.label: u.proto.max_upload_size_mb for u in page.get("file_uploader")}
    assert limits == {"Model file": uploads.model_limit_mb(), "Dataset file": uploads.dataset_limit_mb()}
    assert uploads.dataset_limit_mb() < uploads.model_limit_mb() <= uploads.SERVER_UPLOAD_MB
    monkeypatch.setattr(uploads, "DATASET_UPLOAD_MB", 1)
    with pytest.raises(FrontierError) as err:
        uploads.dataset_upload(b"a,b\n" + b"1,2\n" * (MB // 4 + 1), "big.csv", display_name=None)
    assert err.value.ui_message == "'big.csv' is 1.0 MB; datasets may be at most 1 MB here"


def test_delete_model_asks_for_confirmation(page, workspace):
    target = next(i for i in models.list_registered(workspace) if i.name == "Random forest (scikit-learn)")
    page.selectbox(key="upload:model_delete:choice").set_value(target.id).run()
    page.button(key="upload:model_delete:ask").click().run()
    assert target.id in _ids(workspace)  # nothing happens before the confirmation
    assert any("cannot be undone" in w.value for w in page.warning)
    page.button(key="upload:model_delete:confirm").click().run()
    assert not page.exception
    assert target.id not in _ids(workspace)
    assert "Random forest (scikit-learn)" not in set(page.dataframe[0].value["name"])
    assert any("Deleted" in s for s in successes(page))


def test_upload_requests_are_checked_before_any_job(workspace):
    with pytest.raises(FrontierError, match="empty"):
        uploads.model_upload(b"", "model.onnx", display_name=None, trusted=False)
    with pytest.raises(FrontierError, match="can run code"):
        uploads.model_upload(b"x", "model.joblib", display_name=None, trusted=False)
    up = uploads.dataset_upload(b"a,b\n1,2\n", "my data.csv", display_name="  ")
    assert up.request == {"kind": "register_dataset", "upload": "dataset", "filename": "my data.csv",
                          "display_name": "my data"}
    assert up.files == {"dataset": b"a,b\n1,2\n"}


def test_the_message_stays_when_a_background_description_finishes(page, workspace):
    """A model registered without its parameter count is described by a second job; when that job ends the
    page refreshes the table, and the registration message is still there."""
    import json

    import skops.io as sio

    _submit_model(page, "plain.skops", sio.dumps(_iris_model()))
    run_until(page, _finished)
    [job] = _jobs(workspace, "register_model")
    scripted = next(i for i in models.list_registered(workspace) if i.format == "torchscript")
    models.update(workspace, scripted, n_parameters=None)
    status_file = workspace.jobs / job.job_id / "status.json"
    status = json.loads(status_file.read_text())
    status["result"] |= {"artifact_id": scripted.id, "name": scripted.name, "needs_describe": True}
    status_file.write_text(json.dumps(status))
    page.run()
    message = successes(page)
    assert len(message) == 1 and scripted.name in message[0]
    [describe] = _jobs(workspace, "describe")
    assert jobs.status(workspace, describe.job_id).owner == page.session_state["auth:actor"].name
    run_until(page, lambda a: models.get(workspace, scripted.id).n_parameters is not None
              and not jobs.status(workspace, describe.job_id).active)
    page.run()
    assert successes(page) == message  # kept through the refresh
    row = page.dataframe[0].value.set_index("name").loc[scripted.name]
    assert row["n_parameters"] == models.get(workspace, scripted.id).n_parameters
