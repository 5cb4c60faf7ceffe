"""Bundled samples register once; code-bearing models are described after loading.

Parameter counts are checked against the architectures written in the manifest
(e.g. an MLP 64-128-64-10 has 64*128+128 + 128*64+64 + 64*10+10 weights).
"""

from __future__ import annotations

import json
from itertools import pairwise

import pytest
from frontier_support import SAMPLES_DIR, sample

from engine import datasets, jobs, models, samples
from engine.errors import FrontierError
from engine.models.describe import describe_in_worker
from engine.workspace import Workspace


def _dense(*sizes: int) -> int:
    return sum(a * b + b for a, b in pairwise(sizes))


MLP_PARAMS = _dense(64, 128, 64, 10)
CNN_PARAMS = (1 * 16 * 9 + 16) + (16 * 32 * 9 + 32) + _dense(32 * 4 * 4, 64, 10)


@pytest.fixture(scope="module")
def sample_ws(tmp_path_factory) -> Workspace:
    ws = Workspace.open(tmp_path_factory.mktemp("samples") / "ws")
    assert samples.ensure_registered(ws) is True
    return ws


def test_manifest_matches_the_file():
    raw = json.loads((SAMPLES_DIR / "manifest.json").read_text())
    got = samples.manifest()
    assert [s.file for s in got] == [e["file"] for e in raw]
    assert all(s.path.is_file() for s in got)


def test_ensure_registered_registers_everything_once(sample_ws):
    before = sorted(p.name for p in sample_ws.root.rglob("*"))
    assert samples.ensure_registered(sample_ws) is False  # second call: nothing to do
    assert sorted(p.name for p in sample_ws.root.rglob("*")) == before
    assert set(datasets.BUILTINS) <= set(datasets.list_registered(sample_ws)["name"])
    infos = {i.name: i for i in models.list_registered(sample_ws)}
    manifest = samples.manifest()
    assert set(infos) == {s.name for s in manifest}
    for s in manifest:
        info = infos[s.name]
        assert info.trusted and info.format == s.format
        assert info.size_bytes == s.path.stat().st_size
        assert info.lineage.startswith(f"bundled sample ({s.dataset}")
        assert samples.dataset_for(info) == s.dataset


def test_sklearn_and_onnx_metadata(sample_ws):
    infos = {i.name: i for i in models.list_registered(sample_ws)}
    lr = infos["Logistic regression (scikit-learn)"]
    assert (lr.task, lr.n_features, lr.classes) == ("classification", 64, list(range(10)))
    assert lr.feature_names == [f"pixel_{i}" for i in range(64)]
    assert lr.estimator == "Pipeline(LogisticRegression)"
    # coefficients and intercepts, plus the scaler's per-feature statistics
    assert 64 * 10 + 10 <= lr.n_parameters <= 64 * 10 + 10 + 3 * 64 + 20
    ridge = infos["Ridge regression (scikit-learn)"]
    assert ridge.task == "regression" and ridge.n_features == 10
    mlp = infos["MLP (ONNX)"]
    assert mlp.n_parameters == MLP_PARAMS
    assert mlp.inputs == [{"name": "input", "shape": ["batch", 64], "dtype": "float32"}]
    assert infos["CNN (ONNX)"].n_parameters == CNN_PARAMS
    assert infos["CNN (ONNX)"].inputs[0]["shape"] == ["batch", 1, 8, 8]


@pytest.mark.parametrize(("name", "params", "shape"), [
    ("MLP (TorchScript)", MLP_PARAMS, None),
    ("CNN (TorchScript)", CNN_PARAMS, None),
    ("MLP (torch.export)", MLP_PARAMS, [None, 64]),
])
def test_code_bearing_models_are_described_after_loading(sample_ws, name, params, shape):
    info = next(i for i in models.list_registered(sample_ws) if i.name == name)
    # TorchScript is not loaded at registration; a .pt2 is read statically from its JSON graph
    assert info.n_parameters == (params if shape else None)
    assert (info.inputs or None) == ([{"name": "x", "shape": shape, "dtype": "float32"}] if shape else None)
    changes = jobs.dispatch(sample_ws, {"kind": "describe", "artifact_id": info.id}, lambda f, m: None)
    assert changes["n_parameters"] == params
    stored = models.get(sample_ws, info.id)
    assert stored.n_parameters == params
    if shape:
        assert stored.inputs == [{"name": stored.inputs[0]["name"], "shape": shape, "dtype": "float32"}]
    assert describe_in_worker(sample_ws, info.id) == changes  # idempotent


def test_unknown_job_kind_is_refused(sample_ws):
    with pytest.raises(FrontierError, match="unknown job kind"):
        jobs.dispatch(sample_ws, {"kind": "mine-bitcoin"}, lambda f, m: None)


def test_artifact_ids_are_content_hashes(sample_ws):
    import hashlib

    for info in models.list_registered(sample_ws):
        data = info.path(sample_ws).read_bytes()
        assert info.id == hashlib.sha256(data).hexdigest()[:16]
        assert data == sample(next(s.file for s in samples.manifest() if s.name == info.name)).read_bytes()
    with pytest.raises(FrontierError, match="no model"):
        models.get(sample_ws, "../../etc")
