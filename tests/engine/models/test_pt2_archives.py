"""``.pt2`` archives: one copy per entry, torch's layout only, and trust for anything that runs code.

Each attack is built from a real ``torch.export.save`` archive. The oracle shows
torch really runs it (a marker file appears); Frontier refuses it, untrusted,
at registration and at load, without the marker appearing.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile

import pytest
from frontier_support import run_cli, snapshot
from models_support import (
    evil_pickle,
    exported_pt2,
    prove_it_runs,
    pt2_program,
    quiet_torch_export_load,
    rewrite_zip,
    touch_code,
    with_program,
)

from engine import ids, models
from engine.errors import FrontierError
from engine.workspace import Workspace, write_json_atomic


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


def _plant(ws: Workspace, data: bytes) -> models.ArtifactInfo:
    """A ``.pt2`` put in the workspace untrusted, as an older Frontier registered it (or anyone could)."""
    artifact_id = ids.content_id(data)
    folder = ws.artifacts / artifact_id
    folder.mkdir(parents=True)
    (folder / "model.pt2").write_bytes(data)
    write_json_atomic(folder / "meta.json", {"id": artifact_id, "name": "planted", "format": "torch_export",
                                              "file": "model.pt2", "size_bytes": len(data)})
    return models.get(ws, artifact_id)


def _sample_inputs_entry(data: bytes) -> str:
    return next(n for n in zipfile.ZipFile(io.BytesIO(data)).namelist() if "/data/sample_inputs/" in n)


# ------------------------------------------------------- duplicate entries
def duplicated_sample_inputs(marker) -> tuple[bytes, bytes]:
    """The sample inputs entry twice: first a pickle (torch reads it), last the real one (Python reads
    it); and the real one."""
    base = exported_pt2()
    entry = _sample_inputs_entry(base)
    clean = zipfile.ZipFile(io.BytesIO(base)).read(entry)
    return rewrite_zip(base, lambda name, old: evil_pickle(marker) if name == entry else old,
                       extra=[(entry, clean)]), clean


def test_duplicate_entry_attack_is_refused_without_running(tmp_path, ws):
    marker = tmp_path / "marker"
    evil, clean = duplicated_sample_inputs(marker)
    entry = _sample_inputs_entry(evil)
    # what Python's zipfile reads is the clean copy: a check reading through it passes
    assert zipfile.ZipFile(io.BytesIO(evil)).read(entry) == clean
    prove_it_runs(lambda: quiet_torch_export_load(evil), marker)  # torch reads the first copy

    before = snapshot(ws.root)
    for trusted in (False, True):  # two copies of one name is refused even for a trusted file
        with pytest.raises(FrontierError, match=rf"two entries named '{entry}'"):
            models.register_bytes(ws, evil, "tiny.pt2", trusted=trusted)
    assert snapshot(ws.root) == before
    info = _plant(ws, evil)
    with pytest.raises(FrontierError, match="two entries named"):
        models.load_model(ws, info)
    assert not marker.exists()

    path = tmp_path / "evil.pt2"
    path.write_bytes(evil)
    r = run_cli("benchmark", "--model", path, "--data", "iris", "--workspace", tmp_path / "cli-ws", "--json")
    assert r.returncode == 2 and len(r.stderr_lines) == 1 and "two entries named" in r.stderr_lines[0], str(r)
    assert "Traceback" not in r.stderr and not (tmp_path / "cli-ws").exists()
    assert not marker.exists()


@pytest.mark.parametrize("entry", ["archive/code/evil.py", "archive/xl_model_weights/model_param_config",
                                   "archive/data/executorch/program.pte", "other/models/model.json"])
def test_entries_outside_torchs_layout_are_refused_by_name(ws, entry):
    evil = rewrite_zip(exported_pt2(), lambda name, old: old, extra=[(entry, b"{}")])
    with pytest.raises(FrontierError, match=r"unexpected entry|top-level folders"):
        models.register_bytes(ws, evil, "tiny.pt2", trusted=True)
    assert models.list_registered(ws) == []


# ------------------------------------------------------------ native code
def _shared_library(tmp_path):
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler (gcc/cc) to build a shared library")
    source = tmp_path / "evil.c"
    source.write_text(
        "#include <stdio.h>\n#include <stdlib.h>\n"
        "__attribute__((constructor)) static void marker(void) {\n"
        '  const char *p = getenv("FRONTIER_TEST_MARKER"); if (!p) return;\n'
        '  FILE *f = fopen(p, "w"); if (f) { fputs("pwned", f); fclose(f); }\n}\n')
    lib = tmp_path / "evil.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(lib), str(source)], check=True, capture_output=True)
    return lib.read_bytes()


def test_aotinductor_shared_library_needs_trust(tmp_path, ws, monkeypatch):
    import json

    marker = tmp_path / "marker"
    monkeypatch.setenv("FRONTIER_TEST_MARKER", str(marker))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # libtorch unpacks the archive under $TMPDIR
    library = _shared_library(tmp_path)
    evil = rewrite_zip(exported_pt2(), lambda name, old: old, extra=[
        ("archive/data/aotinductor/model/model.so", library),
        ("archive/data/aotinductor/model/model_metadata.json", json.dumps({"AOTI_DEVICE_KEY": "cpu"}).encode())])
    path = tmp_path / "aoti.pt2"
    path.write_bytes(evil)

    def load_package():
        import contextlib

        from torch._inductor.package import load_package as torch_load_package

        with contextlib.suppress(Exception):  # the fake library lacks AOTI's symbols: dlopen ran it first
            torch_load_package(str(path))

    prove_it_runs(load_package, marker)
    with pytest.raises(FrontierError, match=r"AOTInductor shared library .*model\.so.*trusted"):
        models.register_bytes(ws, evil, "aoti.pt2")
    assert models.list_registered(ws) == []
    with pytest.raises(FrontierError, match="not marked trusted"):
        models.load_model(ws, _plant(ws, evil))
    assert not marker.exists()
    assert models.pt2_pickle_members(evil) == []  # not a pickle: the old check saw nothing to trust


# ------------------------------------------------------------- graph code
def shape_expression_attack(marker) -> bytes:
    base = exported_pt2(dynamic=True)
    _, program = pt2_program(base)
    sizes = program["graph_module"]["graph"]["tensor_values"]["x"]["sizes"]
    sizes[0]["as_expr"]["expr_str"] = f"__import__('builtins').exec({touch_code(marker)!r})"
    return with_program(base, program)


def guard_code_attack(marker) -> bytes:
    base = exported_pt2()
    _, program = pt2_program(base)
    # torch embeds the guard in generated source inside double quotes: keep the payload to single ones
    program["guards_code"] = [f"__import__('os').system('printf pwned > {marker}') == 0"]
    return with_program(base, program)


def _call(ep) -> None:
    import torch

    ep.module()(torch.randn(2, 4))


@pytest.mark.parametrize(("attack", "named"), [
    ("shape-expression", "shape expression"),  # torch passes it to sympy.sympify, which evaluates Python
    ("guard-code", "guard code"),              # exec'd into the module's input check, run on every call
])
def test_python_in_the_graph_needs_trust(tmp_path, ws, attack, named):
    marker = tmp_path / "marker"
    evil = (shape_expression_attack if attack == "shape-expression" else guard_code_attack)(marker)

    def torch_runs_it():
        import contextlib

        ep = quiet_torch_export_load(evil)
        if ep is not None:
            with contextlib.suppress(Exception):
                _call(ep)

    prove_it_runs(torch_runs_it, marker)
    assert models.pt2_pickle_members(evil) == []  # no pickle anywhere: the old check let it through
    with pytest.raises(FrontierError, match=rf"graph runs Python .*{named}.*trusted"):
        models.register_bytes(ws, evil, "tiny.pt2")
    assert models.list_registered(ws) == []
    with pytest.raises(FrontierError, match="not marked trusted"):
        models.load_model(ws, _plant(ws, evil))
    assert not marker.exists()


@pytest.mark.parametrize("target", ["torch.os.system", "torch.ops.aten.from_file.default",
                                    "torch.ops.aten.save.default", "builtins.eval"])
def test_calls_outside_aten_tensor_ops_need_trust(ws, target):
    from torch._export.serde.serialize import GraphModuleDeserializer

    resolved = GraphModuleDeserializer().deserialize_operator(target)
    if target == "torch.os.system":  # oracle: torch's deserializer turns the name into os.system itself
        assert resolved is os.system
    base = exported_pt2()
    _, program = pt2_program(base)
    program["graph_module"]["graph"]["nodes"][0]["target"] = target
    evil = with_program(base, program)
    with pytest.raises(FrontierError, match=rf"call to '{target}'"):
        models.register_bytes(ws, evil, "tiny.pt2")


def test_clean_exports_need_no_trust(ws):
    for data in (exported_pt2(), exported_pt2(dynamic=True)):
        assert models.pt2_code_members(data) == []
        info = models.register_bytes(ws, data, "tiny.pt2")
        assert not info.trusted and not info.requires_trust
        assert models.load_model(ws, info).module() is not None
