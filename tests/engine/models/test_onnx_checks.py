"""ONNX: the id covers external data; what ONNX Runtime cannot run is refused up front, in one line.

Oracles: ONNX Runtime itself (it computes the outputs, and fails on the
refused models when asked to load or run them) and NumPy for ``x @ w``.
"""

from __future__ import annotations

import numpy as np
import pytest
from frontier_support import run_cli, sample, snapshot
from onnx import TensorProto, helper

from engine import models
from engine.errors import FrontierError
from engine.models.predictors import OnnxPredictor
from engine.workspace import Workspace


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


def matmul_model(*, location: str | None = None, weights: np.ndarray | None = None, domain: str = "",
                 input_type: int = TensorProto.FLOAT) -> bytes:
    """``y = x @ w`` for x (N, 4), w (4, 2): inline, or stored in external file ``location``."""
    w = np.ones((4, 2), np.float32) if weights is None else weights.astype(np.float32)
    weight = helper.make_tensor("w", TensorProto.FLOAT, [4, 2], w.ravel())
    if location is not None:
        weight.ClearField("float_data")
        weight.data_location = TensorProto.EXTERNAL
        for key, value in (("location", location), ("offset", "0"), ("length", "32")):
            entry = weight.external_data.add()
            entry.key, entry.value = key, value
    nodes, x = [], "x"
    if input_type != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT))
        x = "xf"
    if domain:
        nodes.append(helper.make_node("Relu", [x], ["xr"], domain=domain))
        x = "xr"
    nodes.append(helper.make_node("MatMul", [x, "w"], ["y"]))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", input_type, [None, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
                              initializer=[weight])
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    return helper.make_model(graph, opset_imports=opsets).SerializeToString()


def _folder_model(folder, weights: np.ndarray):
    folder.mkdir(parents=True)
    (folder / "weights.bin").write_bytes(weights.astype(np.float32).tobytes())
    path = folder / "model.onnx"
    path.write_bytes(matmul_model(location="weights.bin"))
    return path


# -------------------------------------------------- ids cover external data
def test_same_graph_different_weight_files_get_different_ids(tmp_path, ws):
    a = _folder_model(tmp_path / "a", np.ones((4, 2)))
    b = _folder_model(tmp_path / "b", np.full((4, 2), 2.0))
    assert a.read_bytes() == b.read_bytes()  # one graph file, two weight files
    info_a, info_b = models.register_file(ws, a), models.register_file(ws, b)
    assert info_a.id != info_b.id
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    outputs = []
    for info, w in ((info_a, 1.0), (info_b, 2.0)):
        out = OnnxPredictor(models.load_model(ws, info)).infer(x)[0]
        np.testing.assert_allclose(out, x @ np.full((4, 2), w, np.float32))
        outputs.append(out)
    assert not np.allclose(outputs[0], outputs[1])
    assert info_a.size_bytes == len(a.read_bytes()) + 32


def test_stored_external_data_changed_later_is_refused(tmp_path, ws):
    info = models.register_file(ws, _folder_model(tmp_path / "a", np.ones((4, 2))))
    (ws.artifacts / info.id / "weights.bin").write_bytes(np.full(8, 9.0, np.float32).tobytes())
    with pytest.raises(FrontierError, match=f"no longer matches its id {info.id}"):
        models.load_model(ws, models.get(ws, info.id))


@pytest.mark.parametrize("location", ["meta.json", "model.onnx", ".hidden/w.bin"])
def test_external_data_cannot_take_frontiers_own_file_names(tmp_path, ws, location):
    folder = tmp_path / "m"
    (folder / ".hidden").mkdir(parents=True)
    (folder / location).write_bytes(np.ones(8, np.float32).tobytes()) if location != "model.onnx" else None
    path = folder / "model.onnx"
    path.write_bytes(matmul_model(location=location))
    with pytest.raises(FrontierError, match=r"Frontier keeps for its own files|points outside its folder"):
        models.register_file(ws, path)
    assert models.list_registered(ws) == []


# ----------------------------------------- refused in one line, up front
def _onnx_runtime_error(data: bytes) -> str:
    """Oracle: what ONNX Runtime says when it loads the model and is fed float32 rows."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        session.run(None, {session.get_inputs()[0].name: np.ones((2, 4), np.float32)})
    except Exception as exc:
        return str(exc)
    return ""


def _cases(tmp_path):
    nul = tmp_path / "nul"
    nul.mkdir()
    (nul / "model.onnx").write_bytes(matmul_model(location="w\x00.bin"))
    custom = tmp_path / "custom.onnx"
    custom.write_bytes(matmul_model(domain="com.example.custom"))
    int_input = tmp_path / "int64.onnx"
    int_input.write_bytes(matmul_model(input_type=TensorProto.INT64))
    return {
        "nul-location": (nul / "model.onnx", r"external data location 'w\\x00\.bin' contains a NUL byte"),
        "custom-domain": (custom, r"operator 'Relu' from domain 'com\.example\.custom', which ONNX Runtime cannot run"),
        "int64-input": (int_input, r"input 'x' is a int64 tensor; Frontier feeds float32 features"),
    }


def test_the_refused_models_do_fail_in_onnx_runtime(tmp_path):
    cases = _cases(tmp_path)
    assert _onnx_runtime_error(cases["custom-domain"][0].read_bytes())
    assert _onnx_runtime_error(cases["int64-input"][0].read_bytes())
    assert _onnx_runtime_error(matmul_model()) == ""  # and the plain one runs


@pytest.mark.parametrize("case", ["nul-location", "custom-domain", "int64-input"])
def test_cli_refuses_in_one_line_and_writes_nothing(tmp_path, case):
    path, message = _cases(tmp_path)[case]
    ws = Workspace.open(tmp_path / "ws")
    models.register_file(ws, sample("digits_mlp.onnx"))
    before = snapshot(ws.root)
    r = run_cli("benchmark", "--model", path, "--data", "iris", "--workspace", ws.root, "--json")
    assert r.returncode == 2, str(r)
    assert len(r.stderr_lines) == 1 and "Traceback" not in r.stderr, str(r)
    import re

    assert re.search(message, r.stderr_lines[0]), str(r)
    assert r.stdout == ""
    assert snapshot(ws.root) == before


def test_a_model_with_two_inputs_is_refused_at_registration(ws):
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["y"])], "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [None, 4]) for n in "ab"],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 4])])
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    with pytest.raises(FrontierError, match="has 2 inputs; Frontier benchmarks single-input models"):
        models.register_bytes(ws, data, "two.onnx")


def test_float_and_double_inputs_are_accepted(ws):
    for input_type in (TensorProto.FLOAT, TensorProto.DOUBLE):
        info = models.register_bytes(ws, matmul_model(input_type=input_type), f"m{input_type}.onnx")
        assert info.inputs[0]["name"] == "x"
