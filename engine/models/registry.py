"""Register and load models: scikit-learn (skops), ONNX, TorchScript, ``.pt2``.

Formats that can run code when loaded — pickle/joblib, TorchScript, and
``.pt2`` archives whose contents fall back to pickle — are refused unless the
caller marks the file trusted. skops files load with the types of
scikit-learn, NumPy and SciPy allowed; any other type is named and refused.
An artifact's id is the hash of its bytes; it lives in
``artifacts/<id>/model.<ext>`` with ``meta.json`` beside it.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import warnings
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from engine.errors import FrontierError
from engine.workspace import Workspace, read_json, staged_dir, write_json_atomic

Format = Literal["skops", "pickle", "onnx", "torchscript", "torch_export"]
CODE_BEARING: frozenset[str] = frozenset({"pickle", "torchscript", "torch_export"})
# skops lists every type outside its own safe set; builtins are not safe as a family
# (``builtins.eval``, ``exec``, ``open`` wrapped in a FunctionTransformer run code).
SAFE_MODULE_PREFIXES = ("sklearn.", "numpy.", "scipy.")
SUFFIXES = {
    ".skops": "skops", ".pkl": "pickle", ".pickle": "pickle", ".joblib": "pickle",
    ".onnx": "onnx", ".pt": "torch", ".pth": "torch", ".torchscript": "torch", ".pt2": "torch_export",
}
ID_RE = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True)
class ArtifactInfo:
    """Metadata of a registered model."""

    id: str
    name: str
    format: str
    file: str
    size_bytes: int
    trusted: bool = False
    task: str | None = None
    estimator: str | None = None
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    n_features: int | None = None
    feature_names: list[str] | None = None
    classes: list[Any] | None = None
    n_parameters: int | None = None
    accepts_non_numeric: bool = False
    requires_trust: bool = False
    lineage: str = "uploaded"
    source_path: str | None = None

    @property
    def code_bearing(self) -> bool:
        """Loading it can run code: only trusted, and only in the worker."""
        return self.format in CODE_BEARING or self.requires_trust

    def path(self, ws: Workspace) -> Path:
        return ws.artifacts / self.id / self.file

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------- detection
def detect_format(name: str, data: bytes) -> str:
    """The format of a model file, from its name and first bytes."""
    suffix = Path(name).suffix.lower()
    kind = SUFFIXES.get(suffix)
    if kind is None:
        raise FrontierError(
            f"'{name}' is not a model format Frontier reads; use .skops, .onnx, .pt (TorchScript), .pt2 (torch.export) or .pkl/.joblib")
    if kind == "torch":
        if not zipfile.is_zipfile(io.BytesIO(data)):
            raise FrontierError(f"'{name}' is not a TorchScript archive; save it with torch.jit.save")
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        if not any("/code/" in n or n.startswith("code/") for n in names):
            raise FrontierError(
                f"'{name}' is a torch.save checkpoint (weights without the architecture); export the model with torch.jit.save, torch.export.save or to ONNX")
        return "torchscript"
    return kind


def pt2_pickle_members(data: bytes) -> list[str]:
    """Entries of a ``.pt2`` archive that torch.export.load would unpickle."""
    import torch

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise FrontierError("the .pt2 file is not a zip archive; save it with torch.export.save") from None
    risky: list[str] = []
    for entry in zf.namelist():
        base = entry.split("/", 1)[-1]
        if base.endswith(("_config.json",)) and "/data/" in f"/{base}":
            config = json.loads(zf.read(entry)).get("config", {})
            for fqn, meta in config.items():
                path = meta.get("path_name", "")
                if meta.get("use_pickle") or path.startswith(("custom_obj", "opaque_obj")):
                    risky.append(f"{entry}:{fqn}")
        elif re.fullmatch(r"data/(weights|constants)/[^/]+\.pt", base):
            risky.append(entry)  # legacy pickled state dict
        elif base.startswith("data/sample_inputs/"):
            payload = zf.read(entry)
            try:  # torch.export.load retries a failing weights-only load with full pickle
                if payload:
                    with warnings.catch_warnings():  # a hostile payload's warnings are not ours to print
                        warnings.simplefilter("ignore")
                        torch.load(io.BytesIO(payload), weights_only=True)
            except Exception:
                risky.append(entry)
    names = [n.split("/", 1)[-1] for n in zf.namelist()]
    if not any(n.startswith("models/") for n in names):
        raise FrontierError("the .pt2 archive holds no exported program; save it with torch.export.save")
    if "archive_format" not in names:
        risky.append("(legacy archive layout)")
    return risky


def pt2_static_metadata(data: bytes) -> dict[str, Any]:
    """Input specs and parameter count read from a ``.pt2``'s JSON graph, loading nothing."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        name = next(n for n in zf.namelist() if re.fullmatch(r"[^/]+/models/[^/]+\.json", n))
        module = json.loads(zf.read(name))["graph_module"]
        values = module["graph"]["tensor_values"]
        specs = module["signature"]["input_specs"]
    except (StopIteration, KeyError, ValueError, zipfile.BadZipFile):
        return {}  # an unfamiliar layout: the worker describes it after loading

    def dims(tensor: str) -> list[int | None]:
        return [d.get("as_int") for d in values[tensor]["sizes"]]

    inputs, n_params = [], 0
    for spec in specs:
        if "user_input" in spec and "as_tensor" in spec["user_input"]["arg"]:
            arg = spec["user_input"]["arg"]["as_tensor"]["name"]
            dtype = {6: "float16", 7: "float32", 8: "float64", 13: "bfloat16"}.get(values[arg]["dtype"], "other")
            inputs.append({"name": arg, "shape": dims(arg), "dtype": dtype})
        elif "parameter" in spec or "buffer" in spec:
            arg = (spec.get("parameter") or spec["buffer"])["arg"]["name"]
            if arg in values:
                n_params += int(np.prod([d or 0 for d in dims(arg)]))
    return {"inputs": inputs, "n_parameters": n_params or None}


# -------------------------------------------------------------------- skops
def skops_untrusted_types(data: bytes) -> list[str]:
    """Types in a skops file outside scikit-learn, NumPy and SciPy."""
    import skops.io as sio

    try:
        types = sio.get_untrusted_types(data=data)
    except Exception as exc:
        raise FrontierError(f"the file is not a valid skops archive: {_first_line(exc)}") from None
    return [t for t in types if not t.startswith(SAFE_MODULE_PREFIXES)]


def load_skops(data: bytes, *, trusted: bool) -> Any:
    import skops.io as sio

    all_types = sio.get_untrusted_types(data=data)
    foreign = [t for t in all_types if not t.startswith(SAFE_MODULE_PREFIXES)]
    if foreign and not trusted:
        raise _skops_refusal(foreign)
    try:
        return sio.loads(data, trusted=all_types)
    except Exception as exc:
        raise FrontierError(f"the skops file could not be loaded: {_first_line(exc)}") from None


def _skops_refusal(foreign: list[str]) -> FrontierError:
    return FrontierError(
        f"the skops file contains types outside scikit-learn/NumPy/SciPy ({', '.join(foreign[:5])}); loading them can run code — mark the file trusted only if you trust its author")


# --------------------------------------------------------------------- ONNX
def check_onnx(data: bytes, *, base_dir: Path | None) -> Any:
    """Parse and check an ONNX model; external data must stay inside ``base_dir``."""
    import onnx

    try:
        model = onnx.load_from_string(data)
    except Exception as exc:
        raise FrontierError(f"the file is not a valid ONNX model: {_first_line(exc)}") from None
    external = external_data_files(model)
    if external:
        if base_dir is None:
            raise FrontierError(
                "the ONNX model stores weights in external files; upload a single-file model (onnx.save with save_as_external_data=False)")
        root = base_dir.resolve()
        for rel in external:
            target = (root / rel).resolve()
            if not target.is_relative_to(root):
                raise FrontierError(f"the ONNX model's external data '{rel}' points outside its folder; refusing to read it")
            if not target.is_file():
                raise FrontierError(f"the ONNX model's external data file '{rel}' is missing next to the model")
    checked = model
    if external:  # the checker resolves external files against the working directory: load them here
        from onnx.external_data_helper import load_external_data_for_model

        checked = onnx.ModelProto()
        checked.CopyFrom(model)
        try:
            load_external_data_for_model(checked, str(root))
        except Exception as exc:
            raise FrontierError(f"the ONNX model's external data could not be read: {_first_line(exc)}") from None
    try:
        onnx.checker.check_model(checked)
    except Exception as exc:
        raise FrontierError(f"the ONNX model failed onnx.checker: {_first_line(exc)}") from None
    return model


def external_data_files(model: Any) -> list[str]:
    import onnx

    files: set[str] = set()
    for tensor in _all_initializers(model.graph):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            for kv in tensor.external_data:
                if kv.key == "location":
                    files.add(kv.value)
    return sorted(files)


def _all_initializers(graph: Any):
    """Every tensor stored in the graph: initializers and node attributes (e.g. Constant), recursively."""
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.g and attr.g.node:
                yield from _all_initializers(attr.g)
            for g in attr.graphs:
                yield from _all_initializers(g)


def onnx_metadata(model: Any) -> dict[str, Any]:
    import numpy as np
    import onnx

    init_names = {t.name for t in model.graph.initializer}

    def describe(values) -> list[dict[str, Any]]:
        out = []
        for v in values:
            if v.name in init_names:
                continue
            t = v.type
            if t.HasField("tensor_type"):
                dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                        for d in t.tensor_type.shape.dim]
                dtype = onnx.helper.tensor_dtype_to_np_dtype(t.tensor_type.elem_type).name
                out.append({"name": v.name, "shape": dims, "dtype": dtype})
            else:
                out.append({"name": v.name, "shape": None, "dtype": t.WhichOneof("value")})
        return out

    n_params = int(sum(np.prod(t.dims) if len(t.dims) else 1 for t in model.graph.initializer))
    n_params += sum(len(a.floats) + len(a.ints) for n in model.graph.node if n.domain == "ai.onnx.ml"
                    for a in n.attribute if a.name.endswith(("coefficients", "intercepts", "weights", "values")))
    return {"inputs": describe(model.graph.input), "outputs": describe(model.graph.output),
            "n_parameters": n_params}


# ------------------------------------------------------------ scikit-learn
def sklearn_metadata(est: Any) -> dict[str, Any]:
    from sklearn.base import is_regressor

    final = est.steps[-1][1] if hasattr(est, "steps") else est
    classes = getattr(est, "classes_", None)
    names = getattr(est, "feature_names_in_", None)
    estimators = list(_walk_estimators(est))
    return {
        "task": "regression" if is_regressor(est) else "classification",
        "estimator": type(est).__name__ if final is est else f"{type(est).__name__}({type(final).__name__})",
        "n_features": getattr(est, "n_features_in_", None),
        "feature_names": [str(n) for n in names] if names is not None else None,
        "classes": [c.item() if hasattr(c, "item") else c for c in classes] if classes is not None else None,
        "n_parameters": _count_learned(est) or None,
        "accepts_non_numeric": any(
            "Encoder" in type(o).__name__ or type(o).__name__ == "ColumnTransformer" for o in estimators),
    }


def _count_learned(obj: Any, depth: int = 0) -> int:
    """Learned numbers in a fitted estimator: array sizes, tree nodes, nested estimators."""
    import numpy as np

    if depth > 6:
        return 0
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            return sum(_count_learned(x, depth + 1) for x in obj.ravel())
        # learned values are floats (coefficients, thresholds) or tree-node records; integer
        # arrays are labels and counts (classes_, n_iter_), not parameters
        return len(obj) if obj.dtype.names else int(obj.size) if obj.dtype.kind in "fc" else 0
    if isinstance(obj, list | tuple):
        return sum(_count_learned(x, depth + 1) for x in obj)
    if hasattr(obj, "node_count"):  # sklearn.tree._tree.Tree
        return int(obj.node_count)
    if type(obj).__module__.startswith("sklearn.") and hasattr(obj, "__dict__"):
        return sum(_count_learned(v, depth + 1) for k, v in vars(obj).items()
                   if k.endswith("_") or k in ("nodes", "steps", "transformers", "estimator", "_predictors"))
    return 0


def _walk_estimators(est: Any, depth: int = 0):
    yield est
    if depth > 4:
        return
    for value in vars(est).values():
        for item in value if isinstance(value, list | tuple) else [value]:
            item = item[1] if isinstance(item, tuple) and len(item) >= 2 else item
            if hasattr(item, "get_params") and item is not est:
                yield from _walk_estimators(item, depth + 1)


# -------------------------------------------------------------- registration
def check_bytes(data: bytes, name: str, *, trusted: bool, base_dir: Path | None = None) -> dict[str, Any]:
    """Validate a model file and return its metadata, without registering it.

    Code-bearing formats are refused here unless ``trusted``; their metadata
    that needs loading (TorchScript, ``.pt2``) is filled in by the worker.
    """
    fmt = detect_format(name, data)
    meta: dict[str, Any] = {"format": fmt}
    if fmt == "skops":
        foreign = skops_untrusted_types(data)
        if foreign and not trusted:
            raise _skops_refusal(foreign)
        if foreign:  # it may run code when loaded: only the worker loads and describes it
            meta["requires_trust"] = True
        else:
            meta |= sklearn_metadata(load_skops(data, trusted=False))
    elif fmt == "onnx":
        meta |= onnx_metadata(check_onnx(data, base_dir=base_dir))
    elif fmt == "torch_export":
        risky = pt2_pickle_members(data)
        if risky and not trusted:
            raise FrontierError(
                f"'{name}' is a .pt2 archive whose contents fall back to pickle ({risky[0]}), which can run code when loaded; mark it trusted only if you trust its author")
        meta["requires_trust"] = bool(risky)
        meta |= pt2_static_metadata(data)
    elif not trusted:
        what = "a pickle/joblib file" if fmt == "pickle" else "a TorchScript archive"
        raise FrontierError(
            f"'{name}' is {what}, which can run arbitrary code when loaded; mark it trusted (--trust, or the 'I trust this file' box) only if you trust its author, or export it to ONNX or skops")
    else:
        meta["requires_trust"] = True
    return meta


def info_from_bytes(data: bytes, name: str, *, trusted: bool = False,
                   display_name: str | None = None, lineage: str = "uploaded",
                   source_path: Path | None = None) -> ArtifactInfo:
    """Validate a model file and describe it, writing nothing."""
    meta = check_bytes(data, name, trusted=trusted,
                         base_dir=source_path.parent if source_path else None)
    return ArtifactInfo(
        id=hashlib.sha256(data).hexdigest()[:16], name=display_name or Path(name).name,
        format=meta.pop("format"), file=f"model{Path(name).suffix.lower()}", size_bytes=len(data),
        trusted=trusted, lineage=lineage, source_path=str(source_path) if source_path else None,
        **{k: v for k, v in meta.items() if k in ArtifactInfo.__dataclass_fields__},
    )


def save(ws: Workspace, info: ArtifactInfo, data: bytes) -> ArtifactInfo:
    """Write a described model under ``artifacts/<id>/`` (idempotent; trust only upgrades)."""
    final = ws.artifacts / info.id
    if final.exists():
        existing = get(ws, info.id)
        return update(ws, existing, trusted=True) if info.trusted and not existing.trusted else existing
    with staged_dir(final) as stage:
        (stage / info.file).write_bytes(data)
        if info.format == "onnx" and info.source_path:
            import onnx

            src = Path(info.source_path).parent
            for rel in external_data_files(onnx.load_from_string(data)):
                dest = stage / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src / rel, dest)
        write_json_atomic(stage / "meta.json", info.to_dict())
    return info


def register_bytes(ws: Workspace, data: bytes, name: str, **options: Any) -> ArtifactInfo:
    """Validate and store a model; the same bytes always get the same id."""
    return save(ws, info_from_bytes(data, name, **options), data)


def register_file(ws: Workspace, path: str | Path, *, trusted: bool = False,
                  display_name: str | None = None) -> ArtifactInfo:
    path = Path(path)
    if not path.is_file():
        raise FrontierError(f"model file not found: {path}")
    return register_bytes(ws, path.read_bytes(), path.name, trusted=trusted,
                          display_name=display_name, source_path=path)


def get(ws: Workspace, artifact_id: str) -> ArtifactInfo:
    meta_path = ws.artifacts / artifact_id / "meta.json"
    if not ID_RE.fullmatch(artifact_id) or not meta_path.is_file():
        raise FrontierError(f"no model with id '{artifact_id}' in {ws.root}")
    return ArtifactInfo(**read_json(meta_path))


def update(ws: Workspace, info: ArtifactInfo, **changes: Any) -> ArtifactInfo:
    new = ArtifactInfo(**(info.to_dict() | changes))
    write_json_atomic(ws.artifacts / info.id / "meta.json", new.to_dict())
    return new


def list_registered(ws: Workspace) -> list[ArtifactInfo]:
    infos = [ArtifactInfo(**read_json(p)) for p in ws.artifacts.glob("*/meta.json")]
    return sorted(infos, key=lambda i: i.name.lower())


def delete(ws: Workspace, artifact_id: str) -> None:
    get(ws, artifact_id)
    shutil.rmtree(ws.artifacts / artifact_id)


def load_model(ws: Workspace, info: ArtifactInfo) -> Any:
    """The in-memory model; code-bearing formats only when ``info.trusted``."""
    path = info.path(ws)
    if info.format in CODE_BEARING and not info.trusted and (
            info.format != "torch_export" or pt2_pickle_members(path.read_bytes())):
        raise FrontierError(f"'{info.name}' can run code when loaded and is not marked trusted")
    if info.format == "skops":
        return load_skops(path.read_bytes(), trusted=info.trusted)
    if info.format == "onnx":
        return path  # sessions are built by the predictor
    if info.format == "pickle":
        import joblib

        return joblib.load(path)
    import torch

    if info.format == "torchscript":
        return torch.jit.load(str(path), map_location="cpu")
    return torch.export.load(str(path))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
