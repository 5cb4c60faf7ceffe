"""Files that can run code when loaded are never loaded without trust.

Every malicious payload here first proves it *would* run (an oracle step that
loads it with the plain library call and sees its marker file appear), then the
engine is shown to refuse it without creating the marker.
"""

from __future__ import annotations

import io
import json
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from frontier_support import run_cli, sample, snapshot
from models_support import TouchOnLoad, evil_pickle, prove_it_runs
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from engine import datasets, models
from engine.errors import FrontierError
from engine.models import pt2_pickle_members
from engine.workspace import Workspace


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


# ------------------------------------------------------------------ pickle
@pytest.mark.parametrize("suffix", [".pkl", ".joblib"])
def test_malicious_pickle_is_refused_without_trust(tmp_path, ws, suffix):
    marker = tmp_path / "marker"
    payload = evil_pickle(marker)
    prove_it_runs(lambda: pickle.loads(payload), marker)
    before = snapshot(ws.root)
    with pytest.raises(FrontierError, match=r"can run arbitrary code when loaded.*trust"):
        models.register_bytes(ws, payload, f"evil{suffix}")
    assert not marker.exists()
    assert snapshot(ws.root) == before
    assert models.list_registered(ws) == []


def test_malicious_pickle_cli_is_refused_and_never_loaded(tmp_path):
    marker = tmp_path / "marker"
    model = tmp_path / "evil.pkl"
    model.write_bytes(evil_pickle(marker))
    r = run_cli("benchmark", "--model", model, "--data", "iris", "--workspace", tmp_path / "ws", "--json")
    assert r.returncode == 2, str(r)
    assert len(r.stderr_lines) == 1 and "--trust" in r.stderr_lines[0], str(r)
    assert r.stdout == ""
    assert not marker.exists()
    assert not (tmp_path / "ws").exists()


def test_untrusted_code_bearing_artifact_is_not_loaded(ws, tmp_path):
    """Even an artifact already in the workspace loads only when it is marked trusted."""
    marker = tmp_path / "marker"
    info = models.register_bytes(ws, evil_pickle(marker), "evil.pkl", trusted=True)
    untrusted = models.update(ws, info, trusted=False)
    with pytest.raises(FrontierError, match="not marked trusted"):
        models.load_model(ws, untrusted)
    assert not marker.exists()


# ------------------------------------------------------------------- skops
def custom_scale(X):
    return np.asarray(X) * 2.0


class CustomClassifier(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def _iris():
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


def skops_with(kind: str):
    X, y = _iris()
    if kind == "custom-function":
        est = make_pipeline(FunctionTransformer(custom_scale), LogisticRegression(max_iter=500))
        foreign = f"{custom_scale.__module__}.{custom_scale.__qualname__}"
    elif kind == "custom-class":
        est = CustomClassifier()
        foreign = f"{CustomClassifier.__module__}.{CustomClassifier.__qualname__}"
    else:  # a builtin that runs code: not scikit-learn, NumPy or SciPy either (left unfitted)
        return sio.dumps(make_pipeline(FunctionTransformer(eval), LogisticRegression())), "builtins.eval"
    return sio.dumps(est.fit(X, y)), foreign


@pytest.mark.parametrize("kind", ["custom-function", "custom-class", "builtin-eval"])
def test_skops_with_foreign_types_is_refused_unless_trusted(ws, kind):
    data, foreign = skops_with(kind)
    assert foreign in sio.get_untrusted_types(data=data)  # oracle: skops itself flags it
    with pytest.raises(FrontierError, match=re.escape(foreign)):
        models.register_bytes(ws, data, "model.skops")
    assert models.list_registered(ws) == []
    info = models.register_bytes(ws, data, "model.skops", trusted=True)
    assert info.trusted and info.requires_trust
    model = models.load_model(ws, info)
    assert hasattr(model, "predict")


def test_trusted_skops_with_foreign_types_is_not_loaded_at_registration(ws, monkeypatch):
    """Registration happens in the server: a file that can run code is only loaded by the worker."""
    data, _ = skops_with("custom-function")

    def refuse(*args, **kwargs):
        raise AssertionError("skops.io.loads called at registration")

    monkeypatch.setattr(sio, "loads", refuse)
    info = models.register_bytes(ws, data, "model.skops", trusted=True)
    assert info.code_bearing and info.n_parameters is None and info.task is None


def test_plain_sklearn_skops_needs_no_trust(ws):
    info = models.register_file(ws, sample("digits_random_forest.skops"))
    assert not info.trusted and not info.requires_trust
    assert info.estimator == "RandomForestClassifier"
    assert models.load_model(ws, info).n_estimators == 50


# ----------------------------------------------------------------- .pt2
def _exported_pt2(with_sample_inputs: bool) -> bytes:
    import torch

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(4, 3)

        def forward(self, x):
            return self.lin(x)

    ep = torch.export.export(Tiny(), (torch.randn(2, 4),))
    buf = io.BytesIO()
    torch.export.save(ep, buf)
    data = buf.getvalue()
    if not with_sample_inputs:
        data = _rewrite(data, lambda name, payload: b"" if "/data/sample_inputs/" in f"/{name}" else payload)
    return data


def _rewrite(data: bytes, change) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as dst:
        for item in src.infolist():
            dst.writestr(item.filename, change(item.filename, src.read(item.filename)))
    return out.getvalue()


def _pickled_weight(data: bytes, payload: bytes) -> bytes:
    """Mark the first weight ``use_pickle`` and replace its bytes with ``payload``."""
    config_name = next(n for n in zipfile.ZipFile(io.BytesIO(data)).namelist()
                       if n.endswith("data/weights/model_weights_config.json"))
    config = json.loads(zipfile.ZipFile(io.BytesIO(data)).read(config_name))
    meta = next(iter(config["config"].values()))
    meta["use_pickle"] = True
    target = meta["path_name"]

    def change(name: str, old: bytes) -> bytes:
        if name == config_name:
            return json.dumps(config).encode()
        if name.endswith(f"data/weights/{target}"):
            return payload
        return old
    return _rewrite(data, change)


def _pickled_sample_inputs(data: bytes, payload: bytes) -> bytes:
    return _rewrite(data, lambda name, old: payload if "data/sample_inputs/" in name else old)


@pytest.mark.parametrize("variant", ["sample-inputs", "use-pickle-weight"])
def test_pt2_with_pickled_content_is_refused_without_trust(tmp_path, ws, variant):
    import torch

    marker = tmp_path / "marker"
    base = _exported_pt2(with_sample_inputs=True)
    evil = (_pickled_sample_inputs if variant == "sample-inputs" else _pickled_weight)(base, evil_pickle(marker))
    path = tmp_path / "evil.pt2"
    path.write_bytes(evil)
    # oracle: torch.export.load falls back to full pickle on this archive and runs the payload
    prove_it_runs(lambda: _quiet_load(torch, path), marker)

    assert pt2_pickle_members(evil)
    with pytest.raises(FrontierError, match=r"fall back to pickle.*trusted"):
        models.register_file(ws, path)
    assert not marker.exists()
    assert models.list_registered(ws) == []

    r = run_cli("benchmark", "--model", path, "--data", "iris", "--workspace", tmp_path / "cli-ws", "--json")
    assert r.returncode == 2 and len(r.stderr_lines) == 1, str(r)
    assert "pickle" in r.stderr_lines[0]
    assert not marker.exists()


def _quiet_load(torch, path: Path) -> None:
    import contextlib
    import warnings

    with warnings.catch_warnings(), contextlib.suppress(Exception):
        warnings.simplefilter("ignore")
        torch.export.load(str(path))


@pytest.mark.parametrize("with_sample_inputs", [True, False])
def test_pt2_without_pickle_needs_no_trust(ws, with_sample_inputs):
    data = _exported_pt2(with_sample_inputs)
    assert pt2_pickle_members(data) == []
    info = models.register_bytes(ws, data, "tiny.pt2")
    assert info.format == "torch_export" and not info.trusted and not info.requires_trust
    assert pt2_pickle_members(sample("digits_mlp.pt2").read_bytes()) == []


# ------------------------------------------------------------------ ONNX
def _onnx_with_external(location: str, *, where: str = "initializer") -> bytes:
    """``y = x @ w`` with ``w`` (4x2 float32) stored in an external file: as an
    initializer, or as the value of a Constant node."""
    from onnx import TensorProto, helper

    weight = helper.make_tensor("w", TensorProto.FLOAT, [4, 2], np.ones(8, np.float32))
    weight.ClearField("float_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "32")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"])]
    initializers = [weight]
    if where == "constant":
        nodes.insert(0, helper.make_node("Constant", [], ["w"], value=weight))
        initializers = []
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])], initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model.SerializeToString()


@pytest.mark.parametrize("where", ["initializer", "constant"])
@pytest.mark.parametrize("location", ["../secret.bin", "/etc/passwd", "sub/../../secret.bin"])
def test_onnx_external_data_outside_the_model_folder_is_refused(tmp_path, ws, location, where):
    (tmp_path / "secret.bin").write_bytes(np.ones(8, np.float32).tobytes())
    folder = tmp_path / "models"
    (folder / "sub").mkdir(parents=True)
    path = folder / "model.onnx"
    path.write_bytes(_onnx_with_external(location, where=where))
    with pytest.raises(FrontierError, match="points outside its folder"):
        models.register_file(ws, path)
    assert models.list_registered(ws) == []
    # without a folder to resolve against (an upload), external data is refused outright
    with pytest.raises(FrontierError, match="external files"):
        models.register_bytes(ws, path.read_bytes(), "model.onnx")


@pytest.mark.parametrize("where", ["initializer", "constant"])
def test_onnx_external_data_inside_the_folder_is_accepted_and_copied(tmp_path, ws, where):
    """Positive control: the outside-folder check does not refuse legitimate external data."""
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(np.full(8, 2.0, np.float32).tobytes())
    path = folder / "model.onnx"
    path.write_bytes(_onnx_with_external("weights.bin", where=where))
    info = models.register_file(ws, path)
    assert (ws.artifacts / info.id / "weights.bin").read_bytes() == (folder / "weights.bin").read_bytes()

    from engine.models.predictors import OnnxPredictor

    out = OnnxPredictor(info.path(ws)).infer(np.ones((1, 4), np.float32))[0]
    np.testing.assert_allclose(out, [[8.0, 8.0]])


# ------------------------------------------------------------------- NPZ
def test_npz_with_object_arrays_is_refused_without_unpickling(tmp_path):
    marker = tmp_path / "marker"
    arr = np.empty(2, dtype=object)
    arr[0] = TouchOnLoad(marker)
    arr[1] = 1
    buf = io.BytesIO()
    np.savez(buf, X=np.zeros((2, 1, 2, 2)), y=arr)
    data = buf.getvalue()
    prove_it_runs(lambda: np.load(io.BytesIO(data), allow_pickle=True)["y"], marker)

    with pytest.raises(FrontierError, match="will not unpickle"):
        datasets.read_bytes(data, name="evil.npz")
    assert not marker.exists()

