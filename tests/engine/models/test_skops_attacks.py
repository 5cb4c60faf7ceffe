"""skops files: exact types only, no callables — attacks the old prefix rule let through.

Allowing every type under ``numpy.``, ``scipy.`` and ``sklearn.`` let a crafted
file call helpers in those packages while skops rebuilds it: ``runstring``
execs Python, ``exec_command`` runs a shell command, scikit-learn's test helper
runs a Python script. Each attack is first shown to run under the old rule
(``skops.io.loads`` trusting the prefix-filtered types), then refused by
registration, the CLI and a worker load, without the marker appearing.
"""

from __future__ import annotations

import functools
import importlib
import json
import shlex

import numpy as np
import pytest
import skops.io as sio
from frontier_support import run_cli, snapshot
from models_support import iris, load_with_prefix_rule, prove_it_runs, skops_calling, touch_code
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from engine import ids, models
from engine.errors import FrontierError
from engine.workspace import Workspace, write_json_atomic

# (module, function, arguments built from the marker path)
GADGETS = {
    "numpy-runstring-exec": ("numpy.testing._private.utils", "runstring", lambda m: [touch_code(m), {}]),
    "numpy-exec_command-shell": ("numpy.distutils.exec_command", "exec_command", lambda m: [f"printf pwned > {shlex.quote(str(m))}"]),
    "sklearn-run-python-script": ("sklearn.utils._testing", "assert_run_python_script_without_output",
                                  lambda m: [touch_code(m)]),
}


def _gadget(kind: str, marker) -> tuple[bytes, str]:
    module, function, args = GADGETS[kind]
    try:
        importlib.import_module(module)
    except ImportError as exc:  # numpy.distutils is gone on Python >= 3.12
        pytest.skip(f"{module} is not importable here: {exc}")
    return skops_calling(module, function, args(marker)), f"{module}.{function}"


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


@pytest.mark.parametrize("kind", sorted(GADGETS))
def test_code_running_helper_is_refused_at_registration(tmp_path, ws, kind):
    marker = tmp_path / "marker"
    data, target = _gadget(kind, marker)
    assert target in sio.get_untrusted_types(data=data)
    prove_it_runs(lambda: load_with_prefix_rule(data), marker)  # the old rule ran it
    before = snapshot(ws.root)
    with pytest.raises(FrontierError, match=rf"{target}.*trusted") as err:
        models.register_bytes(ws, data, "model.skops")
    assert "\n" not in err.value.message
    assert not marker.exists()
    assert snapshot(ws.root) == before


@pytest.mark.parametrize("kind", ["numpy-runstring-exec"])
def test_code_running_helper_is_refused_by_the_cli(tmp_path, kind):
    marker = tmp_path / "marker"
    data, target = _gadget(kind, marker)
    path = tmp_path / "evil.skops"
    path.write_bytes(data)
    r = run_cli("benchmark", "--model", path, "--data", "iris", "--workspace", tmp_path / "ws", "--json")
    assert r.returncode == 2, str(r)
    assert len(r.stderr_lines) == 1 and target in r.stderr_lines[0] and "--trust" in r.stderr_lines[0], str(r)
    assert "Traceback" not in r.stderr
    assert not marker.exists()
    assert not (tmp_path / "ws").exists()


def _plant(ws: Workspace, data: bytes, *, file: str = "model.skops", fmt: str = "skops") -> models.ArtifactInfo:
    """Put a model in the workspace the way an older Frontier (or anyone with write access) could."""
    artifact_id = ids.content_id(data)
    folder = ws.artifacts / artifact_id
    folder.mkdir(parents=True)
    (folder / file).write_bytes(data)
    write_json_atomic(folder / "meta.json", {"id": artifact_id, "name": "planted", "format": fmt, "file": file,
                                              "size_bytes": len(data), "trusted": False, "requires_trust": False})
    return models.get(ws, artifact_id)


def test_code_running_helper_already_in_the_workspace_is_not_loaded_by_the_worker(tmp_path, ws):
    marker = tmp_path / "marker"
    data, target = _gadget("numpy-runstring-exec", marker)
    info = _plant(ws, data)
    with pytest.raises(FrontierError, match=target):
        models.load_model(ws, info)
    from engine.models.describe import describe_in_worker

    with pytest.raises(FrontierError, match=target):
        describe_in_worker(ws, info.id)
    assert not marker.exists()


def _with_function(func):
    """A fitted pipeline whose first step applies ``func``, and its skops bytes."""
    X, y = iris()
    est = make_pipeline(FunctionTransformer(func), LogisticRegression(max_iter=500)).fit(X, y)
    return est, sio.dumps(est)


@pytest.mark.parametrize(("kind", "named"), [
    ("numpy-ufunc", "numpy.log1p"),
    ("partial", "functools.partial"),
    ("bound-method", "sklearn.linear_model._logistic.LogisticRegression.predict_proba"),
])
def test_function_and_method_nodes_need_trust(ws, kind, named):
    X, y = iris()
    func = {"numpy-ufunc": np.log1p, "partial": functools.partial(np.round, decimals=1),
            "bound-method": LogisticRegression(max_iter=500).fit(X, y).predict_proba}[kind]
    est, data = _with_function(func)
    with pytest.raises(FrontierError, match=rf"functions or methods \(.*{named.replace('.', '[.]')}"):
        models.register_bytes(ws, data, "model.skops")
    assert models.list_registered(ws) == []
    info = models.register_bytes(ws, data, "model.skops", trusted=True)  # the owner's decision
    assert info.trusted and info.requires_trust and info.code_bearing
    np.testing.assert_array_equal(models.load_model(ws, info).predict(X), est.predict(X))


def test_numpy_ufunc_is_trusted_by_skops_itself():
    """Why the callable check is Frontier's own: skops trusts NumPy ufuncs by default."""
    assert sio.get_untrusted_types(data=_with_function(np.log1p)[1]) == []


def test_a_schema_naming_one_member_many_times_reads_it_once(ws, monkeypatch):
    """Amplification: every array node points at the same member; reads are cached, not repeated."""
    import io
    import zipfile

    from engine.archives import SafeZip

    data = sio.dumps(np.arange(1000, dtype=np.float64).reshape(10, 100))
    zf = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(zf.read("schema.json"))
    npy = next(n for n in zf.namelist() if n.endswith(".npy"))
    node = dict(schema, __id__=None)
    node.pop("protocol", None)
    node.pop("_skops_version", None)
    many = {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
            "content": [dict(node, __id__=i + 1) for i in range(200)], "protocol": schema["protocol"],
            "_skops_version": schema.get("_skops_version")}
    from models_support import rewrite_zip

    crafted = rewrite_zip(data, lambda n, old: json.dumps(many).encode() if n == "schema.json" else old)
    reads: list[str] = []
    original = SafeZip.read

    def counting(self, name, **kw):
        reads.append(name)
        return original(self, name, **kw)

    monkeypatch.setattr(SafeZip, "read", counting)
    assert models.skops_untrusted_types(crafted) == []
    assert reads.count(npy) == 1
    loaded = models.load_skops(crafted, trusted=False)
    assert len(loaded) == 200 and all(np.array_equal(a, loaded[0]) for a in loaded)
