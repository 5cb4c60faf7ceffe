"""The Models & data page: lists the samples, registers good uploads, refuses bad ones with one line."""

from __future__ import annotations

import io
import pickle

import pytest
from app_support import UPLOAD_PAGE, errors, new_app, run_until
from sklearn.linear_model import LogisticRegression

from dashboard import uploads
from engine import datasets, jobs, models
from engine.errors import FrontierError


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


def _submit_model(at, name: str, data: bytes, *, trusted: bool = False, display: str = ""):
    at.file_uploader(key="upload:model_file").upload(name, data)
    at.checkbox(key="upload:model_trusted").set_value(trusted)
    at.text_input(key="upload:model_name").set_value(display)
    at.button(key="FormSubmitter:upload:model_form-Register model").click()
    return at.run()


def _submit_dataset(at, name: str, data: bytes):
    at.file_uploader(key="upload:dataset_file").upload(name, data)
    at.button(key="FormSubmitter:upload:dataset_form-Register dataset").click()
    return at.run()


def _ids(ws) -> set[str]:
    return {i.id for i in models.list_registered(ws)}


def test_lists_bundled_models_and_datasets(page):
    models, data = page.dataframe[0].value, page.dataframe[1].value
    assert "Logistic regression (scikit-learn)" in set(models["name"])
    assert {"onnx", "skops", "torchscript", "torch_export"} <= set(models["format"])
    assert {"digits", "digits_images", "iris", "diabetes"} <= set(data["name"])
    assert not errors(page)


def test_bad_model_file_shows_error_and_changes_nothing(page, workspace):
    before = _ids(workspace)
    _submit_model(page, "broken.onnx", b"this is not a protobuf")
    assert not page.exception
    assert len(errors(page)) == 1 and "not a valid ONNX model" in errors(page)[0]
    assert _ids(workspace) == before
    assert not any(workspace.artifacts.glob(".stage-*"))


def test_code_bearing_upload_needs_the_trust_box(page, workspace):
    data = pickle.dumps(_iris_model())
    before = _ids(workspace)
    _submit_model(page, "model.pkl", data, trusted=False)
    assert len(errors(page)) == 1 and "trust" in errors(page)[0]
    assert _ids(workspace) == before

    _submit_model(page, "model.pkl", data, trusted=True, display="Iris logreg (pickle)")
    assert not errors(page), errors(page)
    assert any("registered" in s.value for s in page.success)
    info = next(i for i in models.list_registered(workspace) if i.name == "Iris logreg (pickle)")
    assert info.format == "pickle" and info.trusted
    # the parameter count is filled in by an isolated inspect job, not by the server
    found = [j for j in jobs.list_jobs(workspace) if j.kind == "describe"]
    assert len(found) == 1
    assert jobs.wait(workspace, found[0].job_id, timeout_s=120).state == "done"
    assert models.get(workspace, info.id).n_parameters == 15  # 3x4 coefficients + 3 intercepts
    run_until(page, lambda at: "Iris logreg (pickle)" in set(at.dataframe[0].value["name"]), timeout_s=20)


def test_skops_upload_is_listed(page, workspace):
    import skops.io as sio

    data = sio.dumps(_iris_model())
    _submit_model(page, "iris.skops", data)
    assert not errors(page), errors(page)
    assert "iris.skops" in set(page.dataframe[0].value["name"])
    # the same bytes again: one artifact, and the page says so
    n = len(_ids(workspace))
    _submit_model(page, "iris.skops", data)
    assert len(_ids(workspace)) == n
    assert any("already registered" in s.value for s in page.success)


def test_bad_dataset_shows_error_and_good_one_registers(page, workspace):
    before = set(datasets.list_registered(workspace)["id"])
    _submit_dataset(page, "one_column.csv", b"a\n1\n2\n")
    assert len(errors(page)) == 1 and "column" in errors(page)[0]
    assert set(datasets.list_registered(workspace)["id"]) == before

    _submit_dataset(page, "tiny.csv", b"x1,x2,label\n1,2,a\n2,3,b\n3,4,a\n4,5,b\n")
    assert not errors(page), errors(page)
    assert "tiny.csv" in set(page.dataframe[1].value["name"])


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
    assert any("Deleted" in s.value for s in page.success)


def test_handlers_raise_one_line_errors(workspace):
    with pytest.raises(FrontierError, match="not a model format"):
        uploads.register_model(workspace, b"abc", "notes.txt", trusted=False)
    with pytest.raises(FrontierError, match="empty"):
        uploads.register_model(workspace, b"", "model.onnx", trusted=False)
    with pytest.raises(FrontierError, match="could not be read as Parquet"):
        uploads.register_dataset(workspace, b"garbage", "data.parquet")
    ds = uploads.register_dataset(workspace, io.BytesIO(b"a,b\n1,2\n3,4\n").getvalue(), "ab.csv", name="My data")
    assert ds.name == "My data"
