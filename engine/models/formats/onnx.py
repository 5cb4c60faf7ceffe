"""ONNX models: checker, external data confined and hashed, what ONNX Runtime can run.

An ONNX file is data, not code, but it can point at other files: tensors
with ``data_location = EXTERNAL`` name a file to read. Those names must be
plain relative paths (no NUL, ``..``, absolute paths, backslashes, hidden
or reserved names) resolving inside the model's folder, and every such file
is part of the model's identity: :func:`content_digest` hashes the ``.onnx``
bytes and each external file's name and bytes in a fixed order, so two
models sharing a graph but not their weights never share an id or a cached
result. Registration also refuses, before anything is written, what would
only fail later in the worker: operators from domains ONNX Runtime does not
implement, and inputs Frontier cannot feed (it feeds one float matrix).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from engine.errors import FrontierError, first_line
from engine.models.formats.limits import check_size

RUNTIME_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "com.microsoft"})
RESERVED_NAMES = ("meta.json", "model.")  # files Frontier keeps in an artifact folder
_CHUNK = 1 << 20
_DIGEST_TAG = b"frontier-onnx-external-data-v1\0"


def parse(data: bytes, what: str = "the file") -> Any:
    """The ``ModelProto`` in ``data`` (one line on failure)."""
    import onnx

    try:
        model = onnx.load_from_string(data)
    except Exception as exc:
        raise FrontierError(f"{what} is not a valid ONNX model: {first_line(exc)}") from None
    if not model.HasField("graph"):
        raise FrontierError(f"{what} is not a valid ONNX model (it has no graph)")
    return model


# ------------------------------------------------------------ external data
def _graphs(graph: Any) -> Iterator[Any]:
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("g"):
                yield from _graphs(attr.g)
            for g in attr.graphs:
                yield from _graphs(g)


def _tensors(model: Any) -> Iterator[Any]:
    """Every tensor stored in the model: initializers and node attributes (e.g. Constant), in all graphs."""
    nodes = [n for g in _graphs(model.graph) for n in g.node] + [n for f in model.functions for n in f.node]
    for g in _graphs(model.graph):
        yield from g.initializer
        yield from (s.values for s in g.sparse_initializer)
    for node in nodes:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors


def check_location(rel: str) -> None:
    """Refuse an external-data name that is not a plain file name inside the model's folder."""
    shown = rel.encode("unicode_escape").decode()[:80]
    if "\x00" in rel:
        raise FrontierError(f"the ONNX model's external data location '{shown}' contains a NUL byte; "
                            "re-save the model with onnx.save(..., save_as_external_data=True)")
    path = PurePosixPath(rel)
    if (not rel or "\\" in rel or path.is_absolute() or ".." in path.parts or (len(rel) > 1 and rel[1] == ":")
            or any(part.startswith(".") for part in path.parts)):
        raise FrontierError(f"the ONNX model's external data '{shown}' points outside its folder; refusing to read it")
    if path.parts[0] == RESERVED_NAMES[0] or path.parts[0].startswith(RESERVED_NAMES[1]):
        raise FrontierError(f"the ONNX model's external data is named '{shown}', a name Frontier keeps for its own "
                            "files; rename the data file (onnx.save(..., location='weights.bin'))")


def _locations(model: Any) -> set[str]:
    import onnx

    return {kv.value for tensor in _tensors(model) if tensor.data_location == onnx.TensorProto.EXTERNAL
            for kv in tensor.external_data if kv.key == "location"}


def external_data_files(model: Any) -> list[str]:
    """The external files a model reads, sorted (names checked by :func:`check_location`)."""
    files = sorted(_locations(model))
    for rel in files:
        check_location(rel)
    return files


def external_paths(model: Any, folder: Path) -> list[tuple[str, Path]]:
    """Each external file of ``model`` as (name, path), confined to ``folder`` and present."""
    root = folder.resolve()
    out = []
    for rel in external_data_files(model):
        target = (root / rel).resolve()
        if not target.is_relative_to(root):
            raise FrontierError(f"the ONNX model's external data '{rel}' points outside its folder; refusing to read it")
        if not target.is_file():
            raise FrontierError(f"the ONNX model's external data file '{rel}' is missing next to the model")
        out.append((rel, target))
    check_size(sum(p.stat().st_size for _, p in out), "the ONNX model's external data")
    return out


def content_digest(data: bytes, external: list[tuple[str, Path]]) -> Any:
    """SHA-256 over everything the model loads: its bytes alone, or with each external file's name and bytes."""
    digest = hashlib.sha256()
    if not external:
        digest.update(data)
        return digest
    digest.update(_DIGEST_TAG + len(data).to_bytes(8, "big") + data)
    for rel, path in sorted(external):
        name = rel.encode()
        digest.update(len(name).to_bytes(8, "big") + name + path.stat().st_size.to_bytes(8, "big"))
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    return digest


# ------------------------------------------------------------------ checks
def check(data: bytes, *, base_dir: Path | None, what: str = "the file") -> Any:
    """Parse and check an ONNX model; external data must stay inside ``base_dir``."""
    import onnx

    model = parse(data, what)
    if _locations(model) and base_dir is None:
        raise FrontierError(
            "the ONNX model stores weights in external files; upload a single-file model (onnx.save with save_as_external_data=False)")
    checked = model
    if external_data_files(model):  # the checker resolves external files against the working directory: load them here
        from onnx.external_data_helper import load_external_data_for_model

        root = base_dir.resolve()
        external_paths(model, root)
        checked = onnx.ModelProto()
        checked.CopyFrom(model)
        try:
            load_external_data_for_model(checked, str(root))
        except Exception as exc:
            raise FrontierError(f"the ONNX model's external data could not be read: {first_line(exc)}") from None
    try:
        onnx.checker.check_model(checked)
    except Exception as exc:
        raise FrontierError(f"the ONNX model failed onnx.checker: {first_line(exc)}") from None
    check_runnable(model)
    return model


def check_runnable(model: Any) -> None:
    """Refuse what ONNX Runtime or Frontier's feeding would only reject later, in the worker."""
    import onnx

    newest = onnx.defs.onnx_opset_version()
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx") and opset.version > newest:
            raise FrontierError(f"the ONNX model asks for opset {opset.version}, newer than the {newest} this "
                                "Frontier reads; export it with an older opset")
    local = {(f.domain, f.name) for f in model.functions}
    nodes = [n for g in _graphs(model.graph) for n in g.node] + [n for f in model.functions for n in f.node]
    for node in nodes:
        if node.domain not in RUNTIME_DOMAINS and (node.domain, node.op_type) not in local:
            raise FrontierError(
                f"the ONNX model uses operator '{node.op_type[:60]}' from domain '{node.domain[:60]}', which ONNX "
                "Runtime cannot run; export it with standard ONNX operators")
    initializers = {t.name for t in model.graph.initializer}
    inputs = [v for v in model.graph.input if v.name not in initializers]
    if len(inputs) != 1:
        raise FrontierError(f"the ONNX model has {len(inputs)} inputs; Frontier benchmarks single-input models")
    value = inputs[0]
    kind = value.type.WhichOneof("value")
    elem = value.type.tensor_type.elem_type if kind == "tensor_type" else None
    if elem not in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE):
        got = (f"a {onnx.TensorProto.DataType.Name(elem).lower()} tensor" if elem is not None
               and elem in onnx.TensorProto.DataType.values() else f"a {kind or 'typeless'} value")
        raise FrontierError(
            f"the ONNX model's input '{value.name[:60]}' is {got}; Frontier feeds float32 features, so export the "
            "model with a float input (cast inside the graph if it needs integers)")


# ----------------------------------------------------------------- metadata
def metadata(model: Any) -> dict[str, Any]:
    """Inputs, outputs and parameter count, read from the graph."""
    import numpy as np
    import onnx

    init_names = {t.name for t in model.graph.initializer}

    def dtype_name(elem: int) -> str:
        try:
            return onnx.helper.tensor_dtype_to_np_dtype(elem).name
        except (KeyError, ValueError, TypeError):
            return "unknown"

    def describe(values) -> list[dict[str, Any]]:
        out = []
        for v in values:
            if v.name in init_names:
                continue
            t = v.type
            if t.HasField("tensor_type"):
                dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                        for d in t.tensor_type.shape.dim]
                out.append({"name": v.name, "shape": dims, "dtype": dtype_name(t.tensor_type.elem_type)})
            else:
                out.append({"name": v.name, "shape": None, "dtype": t.WhichOneof("value")})
        return out

    n_params = int(sum(np.prod(t.dims) if len(t.dims) else 1 for t in model.graph.initializer))
    n_params += sum(len(a.floats) + len(a.ints) for n in model.graph.node if n.domain == "ai.onnx.ml"
                    for a in n.attribute if a.name.endswith(("coefficients", "intercepts", "weights", "values")))
    return {"inputs": describe(model.graph.input), "outputs": describe(model.graph.output),
            "n_parameters": n_params}
