"""Uploads are parsed in a worker: register_model and register_dataset jobs.

A good upload registers (the result is checked against independent oracles: the
bytes' hash, pandas' own reading); a hostile or malformed one fails with one line
and leaves nothing in ``artifacts/`` or ``datasets/``; inputs are deleted when
the job ends."""

from __future__ import annotations

import hashlib
import io
import os
import pickle

import numpy as np
import pandas as pd
import pytest
from frontier_support import sample

from engine import datasets, jobs, models
from engine.errors import FrontierError
from engine.jobs import executor
from engine.jobs.spec import JobSpec
from engine.workspace import Workspace


class _AbortOnLoad:
    def __reduce__(self):
        return (os.abort, ())


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


def _model_request(upload: str, filename: str, *, trusted: bool = False, display: str | None = None) -> dict:
    return {"kind": "register_model", "upload": upload, "filename": filename, "display_name": display,
            "trusted": trusted}


def _dataset_request(upload: str, filename: str, display: str | None = None) -> dict:
    return {"kind": "register_dataset", "upload": upload, "filename": filename, "display_name": display}


def _in_worker(ws: Workspace, request: dict, files: dict[str, bytes], *, owner: str = "ana"):
    """The handler as the worker runs it, in this process (a job folder holds the inputs)."""
    job_dir = executor.create_job(ws, JobSpec.from_request(request, owner=owner), files)
    return jobs.dispatch(ws, request, None, job_dir=job_dir, owner=owner), job_dir


def _registered(ws: Workspace) -> tuple[list[str], list[str]]:
    return sorted(p.name for p in ws.artifacts.iterdir()), sorted(p.name for p in ws.datasets.iterdir())


def test_a_model_upload_registers_once(ws):
    data = sample("digits_logreg.skops").read_bytes()
    result, _ = _in_worker(ws, _model_request("m.skops", "digits_logreg.skops", display="Mine"), {"m.skops": data})
    assert result == {"artifact_id": hashlib.sha256(data).hexdigest()[:16], "existed": False, "name": "Mine",
                      "format": "skops", "size_bytes": len(data), "needs_describe": False}
    assert models.get(ws, result["artifact_id"]).owner == "ana"
    again, _ = _in_worker(ws, _model_request("m.skops", "again.skops"), {"m.skops": data}, owner="bob")
    assert again["existed"] is True and again["artifact_id"] == result["artifact_id"]
    assert models.get(ws, result["artifact_id"]).owner == "ana"  # the first owner stays


def test_a_trusted_code_bearing_upload_is_described_in_the_worker(ws, iris_files):
    data = iris_files["linear"].read_bytes()
    result, job_dir = _in_worker(ws, _model_request("x.pt", "linear.pt", trusted=True), {"x.pt": data})
    assert result["format"] == "torchscript" and result["needs_describe"] is False
    assert models.get(ws, result["artifact_id"]).n_parameters == 4 * 3 + 3  # Linear(4, 3)
    assert not (job_dir / "scratch").exists()


@pytest.mark.parametrize(("name", "make", "trusted", "message"), [
    ("model.onnx", lambda f: b"\x08\x07garbage", False, "onnx|ONNX"),
    ("linear.pt", lambda f: f["linear"].read_bytes(), False, "run arbitrary code"),
    ("broken.pkl", lambda f: f["broken"].read_bytes(), False, "run arbitrary code"),
    ("broken.pkl", lambda f: f["broken"].read_bytes(), True, "broken.pkl|not a model|invalid literal"),
    ("empty.skops", lambda f: b"", False, "empty"),
    ("notes.txt", lambda f: b"hello", False, "notes.txt"),
])
def test_a_bad_model_upload_fails_in_one_line_and_registers_nothing(ws, iris_files, name, make, trusted, message):
    with pytest.raises(FrontierError, match=message) as err:
        _in_worker(ws, _model_request("up", name, trusted=trusted), {"up": make(iris_files)})
    assert "\n" not in err.value.message
    assert _registered(ws) == ([], [])


def test_a_model_that_kills_its_loader_registers_nothing(ws):
    st = jobs.run(ws, _model_request("a.pkl", "abort.pkl", trusted=True),
                  files={"a.pkl": pickle.dumps(_AbortOnLoad())}, owner="ana")
    assert st.state == "failed" and "crashed (SIGABRT)" in st.error
    assert _registered(ws) == ([], [])
    job_dir = ws.jobs / st.job_id
    assert not (job_dir / "inputs").exists() and not (job_dir / "scratch").exists()


def test_a_dataset_upload_registers_and_matches_pandas(ws):
    csv = b"a,b,label\n1,2.5,x\n3,4.5,y\n5,6.5,x\n7,8.5,y\n"
    result, _ = _in_worker(ws, _dataset_request("d.csv", "points.csv", display="Points"), {"d.csv": csv})
    frame = pd.read_csv(io.BytesIO(csv))
    assert result["name"] == "Points" and result["existed"] is False
    assert (result["n_rows"], result["n_columns"]) == frame.shape
    stored = datasets.load(ws, result["dataset_id"])
    pd.testing.assert_frame_equal(stored.frame.reset_index(drop=True), frame, check_dtype=False)
    again, _ = _in_worker(ws, _dataset_request("d.csv", "points.csv"), {"d.csv": csv})
    assert again["existed"] is True and again["dataset_id"] == result["dataset_id"]


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@pytest.mark.parametrize(("name", "data"), [
    ("d.csv", b"only_one_column\n1\n2\n"),
    ("d.csv", b'a,b\n"unterminated,1\n'),
    ("d.csv", b""),
    ("d.parquet", b"PAR1 not really"),
    ("d.npz", _npz(X=np.array([object(), object()], dtype=object), y=np.array([0, 1]))),
    ("d.npz", b"PK\x03\x04 truncated zip"),
    ("d.exe", b"MZ"),
])
def test_a_bad_dataset_upload_fails_in_one_line_and_registers_nothing(ws, name, data):
    with pytest.raises(FrontierError) as err:
        _in_worker(ws, _dataset_request("up", name), {"up": data})
    assert "\n" not in err.value.message
    assert _registered(ws) == ([], [])


def test_an_input_swapped_for_a_link_is_not_followed(ws, tmp_path):
    """Attack: a teammate replaces inputs/<upload> with a link to a file only the server may read."""
    secret = tmp_path / "secret.csv"
    secret.write_text("user,password\nroot,hunter2\n")
    request = _dataset_request("d.csv", "d.csv")
    job_dir = executor.create_job(ws, JobSpec.from_request(request), {"d.csv": b"a,b\n1,2\n"})
    (job_dir / "inputs" / "d.csv").unlink()
    (job_dir / "inputs" / "d.csv").symlink_to(secret)
    with pytest.raises(FrontierError, match=r"missing|not a regular file"):
        jobs.dispatch(ws, request, None, job_dir=job_dir)
    # the inputs folder itself swapped for a link
    (job_dir / "inputs" / "d.csv").unlink()
    (job_dir / "inputs").rmdir()
    (tmp_path / "planted").mkdir()
    (tmp_path / "planted" / "d.csv").write_bytes(secret.read_bytes())
    (job_dir / "inputs").symlink_to(tmp_path / "planted")
    with pytest.raises(FrontierError, match="missing"):
        jobs.dispatch(ws, request, None, job_dir=job_dir)
    assert _registered(ws) == ([], [])


def test_uploads_above_the_size_limit_are_refused_before_parsing(ws, monkeypatch):
    monkeypatch.setenv("FRONTIER_MAX_DATA_MB", "0.001")  # about 1 KB
    with pytest.raises(FrontierError, match="more than the"):
        _in_worker(ws, _dataset_request("d.csv", "d.csv"), {"d.csv": b"a,b\n" + b"1,2\n" * 1000})
    assert _registered(ws) == ([], [])


def test_an_upload_job_end_to_end(ws):
    csv = b"x,y\n" + b"".join(b"%d,%d\n" % (i, i % 2) for i in range(20))
    job_id = jobs.submit(ws, _dataset_request("d.csv", "pairs.csv"), files={"d.csv": csv}, owner="ana",
                         title="upload pairs.csv")
    st = jobs.wait(ws, job_id, timeout_s=120)
    assert st.state == "done", st.error
    assert st.owner == "ana" and st.title == "upload pairs.csv"
    assert st.result["n_rows"] == 20 and st.result["n_columns"] == 2
    assert st.result["dataset_id"] in _registered(ws)[1]
    assert not (ws.jobs / job_id / "inputs").exists()  # inputs go when the job ends
