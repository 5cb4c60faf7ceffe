"""Metadata of code-bearing models, read inside a worker process.

TorchScript, trusted pickles and ``.pt2`` archives must be loaded to be
described; that happens here, in the worker, never in the server.
"""

from __future__ import annotations

from typing import Any

from engine import models
from engine.errors import FrontierError
from engine.models import SKLEARN_FORMATS, ArtifactInfo
from engine.workspace import Workspace


def describe_in_worker(ws: Workspace, artifact_id: str) -> dict[str, Any]:
    """Load the artifact, fill in parameter count and input specs, save and return them."""
    info = models.get(ws, artifact_id)
    changes = loaded_metadata(info, models.load_model(ws, info))
    models.update(ws, info, **changes)
    return changes


def loaded_metadata(info: ArtifactInfo, model: Any) -> dict[str, Any]:
    """Metadata that only a loaded model can give (pickle, TorchScript, ``.pt2``)."""
    if info.format in SKLEARN_FORMATS:
        if not hasattr(model, "predict"):
            raise FrontierError(f"'{info.name}' loads as a {type(model).__name__}, not a scikit-learn model")
        return models.sklearn_metadata(model)
    if info.format not in ("torchscript", "torch_export"):
        return {}
    module = model.module() if info.format == "torch_export" else model
    changes: dict[str, Any] = {"n_parameters": int(sum(p.numel() for p in module.parameters()))}
    if info.format == "torch_export":
        changes["inputs"] = [
            {"name": name, "shape": [d if isinstance(d, int) else None for d in val.shape],
             "dtype": str(val.dtype).removeprefix("torch.")}
            for name, val in _user_inputs(model)
        ]
    return changes


def _user_inputs(ep: Any):
    from torch.export.graph_signature import InputKind

    nodes = {n.name: n for n in ep.graph.nodes if n.op == "placeholder"}
    for spec in ep.graph_signature.input_specs:
        if spec.kind == InputKind.USER_INPUT and spec.arg.name in nodes:
            val = nodes[spec.arg.name].meta.get("val")
            if val is not None:
                yield spec.arg.name, val


PARAMS_MAX = 200  # hyperparameters kept per model (a pipeline's nested ones included)
PARAM_TEXT_MAX = 120


def model_params(info: ArtifactInfo, model: Any) -> dict[str, str] | None:
    """A scikit-learn model's scalar hyperparameters as text (``step__param`` for pipelines);
    None for other formats. Shown in the compare page's parameter diff."""
    if info.format not in SKLEARN_FORMATS or not hasattr(model, "get_params"):
        return None
    try:
        params = model.get_params(deep=True)
    except Exception:  # a third-party estimator with a broken get_params: no diff, no failure
        return None
    out: dict[str, str] = {"estimator": type(model).__name__}
    for key in sorted(params)[:PARAMS_MAX]:
        value = params[key]
        if value is None or isinstance(value, str | int | float | bool):
            out[str(key)] = str(value)[:PARAM_TEXT_MAX]
        elif hasattr(value, "get_params"):
            out[str(key)] = type(value).__name__
    return out
