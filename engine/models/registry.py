"""Register models: describe a file, store it under ``artifacts/<id>/``, read and change records.

:func:`info_from_bytes` validates a file and describes it, writing nothing;
:func:`save` stores it (``model.<suffix>`` and ``meta.json``, staged and
renamed). The id is the hash of every file the model loads (the file, plus an
ONNX model's external data), so the same model always gets the same id and a
different one never shares it. Trust is kept as a signed record naming who
trusted which bytes (``engine.trust``); ``meta.json``'s own ``trusted`` flag
is never believed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path
from typing import Any

from engine import ids, names, trust
from engine.errors import FrontierError
from engine.models.estimators import sklearn_metadata
from engine.models.formats import detect_format
from engine.models.formats import onnx as onnx_format
from engine.models.formats import pickle as pickle_format
from engine.models.formats import skops as skops_format
from engine.models.formats import torch as torch_format
from engine.models.formats.limits import check_size
from engine.models.info import (
    META_FILE,
    ArtifactInfo,
    check_location,
    from_record,
    model_file_name,
)
from engine.owners import Actor
from engine.workspace import Workspace, read_json, staged_dir, write_json_atomic

# record fields only registration sets; update() refuses to change them
_FIXED = frozenset({"id", "file", "format", "size_bytes", "trust", "owner"})


# ---------------------------------------------------------------- describe
def _describe(data: bytes, name: str, *, trusted: bool,
              base_dir: Path | None) -> tuple[dict[str, Any], list[tuple[str, Path]]]:
    """Checks and static metadata of a model file, and the external files it loads."""
    fmt = detect_format(name, data)
    what = f"'{Path(name).name}'"
    meta: dict[str, Any] = {"format": fmt}
    external: list[tuple[str, Path]] = []
    if fmt == "skops":
        checked = skops_format.inspect(data, what=what)
        if checked.audit.refused and not trusted:
            raise skops_format.refusal(checked.audit, what)
        if checked.audit.refused:  # it may run code when loaded: only the worker loads and describes it
            meta["requires_trust"] = True
        else:
            meta |= sklearn_metadata(checked.construct(trusted=False))
    elif fmt == "onnx":
        model = onnx_format.check(data, base_dir=base_dir, what=what)
        if base_dir is not None:
            external = onnx_format.external_paths(model, base_dir)
        meta |= onnx_format.metadata(model)
    elif fmt == "torch_export":
        code = torch_format.pt2_code(data, what)
        if code.members and not trusted:
            raise code.refusal(what)
        meta["requires_trust"] = bool(code.members)
        meta |= torch_format.pt2_static_metadata(data, what)
    elif fmt == "torchscript":
        torch_format.torchscript_archive(data, what).close()
        if not trusted:
            from engine.errors import option

            raise FrontierError(
                f"{what} is a TorchScript archive, which can run arbitrary code when loaded; mark it trusted "
                f"({option('trust')}) only if you trust its author, or export it to ONNX or skops")
        meta["requires_trust"] = True
    else:
        if not trusted:
            raise pickle_format.refusal(Path(name).name)
        meta["requires_trust"] = True
    return meta, external


def check_bytes(data: bytes, name: str, *, trusted: bool, base_dir: Path | None = None) -> dict[str, Any]:
    """Validate a model file and return its metadata, without registering it.

    Code-bearing files are refused here unless ``trusted``; their metadata
    that needs loading (TorchScript, pickles) is filled in by the worker.
    """
    return _describe(data, name, trusted=trusted, base_dir=base_dir)[0]


def content_digest(data: bytes, external: list[tuple[str, Path]] | None = None) -> Any:
    """SHA-256 of everything a model loads (``hashlib`` object); its id is :func:`engine.ids.id_of` of it."""
    return onnx_format.content_digest(data, external) if external else hashlib.sha256(data)


def info_from_bytes(data: bytes, name: str, *, trusted: bool = False, display_name: str | None = None,
                    lineage: str = "uploaded", source_path: Path | None = None,
                    owner: str | None = None) -> ArtifactInfo:
    """Validate a model file and describe it, writing nothing."""
    source_path = Path(source_path) if source_path else None
    meta, external = _describe(data, name, trusted=trusted, base_dir=source_path.parent if source_path else None)
    size = len(data) + sum(p.stat().st_size for _, p in external)
    return ArtifactInfo(
        id=ids.id_of(content_digest(data, external)), name=names.clean(display_name or Path(name).name),
        format=meta.pop("format"), file=model_file_name(name), size_bytes=size,
        trusted=trusted, lineage=lineage, source_path=str(source_path) if source_path else None, owner=owner,
        **{k: v for k, v in meta.items() if k in ArtifactInfo.__dataclass_fields__},
    )


# -------------------------------------------------------------------- store
def save(ws: Workspace, info: ArtifactInfo, data: bytes, *, owner: str | None = None) -> ArtifactInfo:
    """Write a described model under ``artifacts/<id>/`` (idempotent; trust only upgrades).

    The stored files must hash to ``info.id``; when ``info.trusted`` a trust
    record signed for exactly those bytes is written, naming ``owner``.
    """
    check_location(info)
    owner = owner if owner is not None else info.owner
    final = ws.artifacts / info.id
    if final.exists():
        existing = get(ws, info.id)
        if info.trusted and not existing.trusted:
            return update(ws, existing, trusted=True, trusted_by=owner)
        return existing
    with staged_dir(final) as stage:
        (stage / info.file).write_bytes(data)
        external: list[tuple[str, Path]] = []
        if info.format == "onnx" and info.source_path:
            model = onnx_format.parse(data)
            for rel, src in onnx_format.external_paths(model, Path(info.source_path).parent):
                dest = stage / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
                external.append((rel, dest))
        digest = content_digest(data, external)
        if ids.id_of(digest) != info.id:
            raise FrontierError(f"the files of '{info.name}' changed while it was being registered; register it again")
        record = trust.sign(info.id, digest.hexdigest(), by=owner) if info.trusted else None
        stored = dataclasses.replace(info, owner=owner, trust=record, trusted=record is not None)
        write_json_atomic(stage / META_FILE, stored.to_dict())
    return stored


def register_bytes(ws: Workspace, data: bytes, name: str, *, owner: str | None = None,
                   **options: Any) -> ArtifactInfo:
    """Validate and store a model; the same bytes always get the same id."""
    return save(ws, info_from_bytes(data, name, owner=owner, **options), data)


def register_file(ws: Workspace, path: str | Path, *, trusted: bool = False, display_name: str | None = None,
                  owner: str | None = None) -> ArtifactInfo:
    """Validate and store the model at ``path`` (an ONNX model's external data beside it)."""
    path = Path(path)
    if not path.is_file():
        raise FrontierError(f"model file not found: {path}")
    check_size(path.stat().st_size, f"'{path.name}'")
    return register_bytes(ws, path.read_bytes(), path.name, trusted=trusted, display_name=display_name,
                          source_path=path, owner=owner)


# ------------------------------------------------------------------ records
def get(ws: Workspace, artifact_id: str) -> ArtifactInfo:
    """The checked record of a registered model (``trusted`` only if its signature verifies)."""
    meta_path = ws.artifacts / str(artifact_id) / META_FILE
    if not ids.is_content_id(artifact_id) or not meta_path.is_file():
        raise FrontierError(f"no model with id '{str(artifact_id)[:40]}' in {ws.root}")
    try:
        raw = read_json(meta_path)
    except (ValueError, OSError):
        raise FrontierError(f"the record of model {artifact_id} is damaged; delete and re-upload the model") from None
    return from_record(artifact_id, raw)


def update(ws: Workspace, info: ArtifactInfo, **changes: Any) -> ArtifactInfo:
    """Change a model's metadata; ``trusted=True`` signs a new trust record (``trusted_by=`` who)."""
    fixed = _FIXED & set(changes)
    if fixed:
        raise TypeError(f"update() cannot change {sorted(fixed)}; register the model again")
    by = changes.pop("trusted_by", info.owner)
    record = info.trust
    if "trusted" in changes:
        wanted = bool(changes.pop("trusted"))
        if not wanted:
            record = None
        elif not info.trusted:
            from engine.models.loading import stored_files

            record = trust.sign(info.id, stored_files(ws, info).sha256, by=by)
    check_location(info)
    new = info.to_dict() | changes | {"trust": record}
    write_json_atomic(ws.artifacts / info.id / META_FILE, new)
    return from_record(info.id, new)


def list_registered(ws: Workspace) -> list[ArtifactInfo]:
    """Every readable model record, by name; damaged or altered records are left out."""
    trust.secret_key(create=False)  # a misconfigured key is one clear error, not every trusted model missing
    infos = []
    for path in ws.artifacts.glob("*/meta.json"):
        try:
            infos.append(from_record(path.parent.name, read_json(path)))
        except (FrontierError, ValueError, OSError):
            continue
    return sorted(infos, key=lambda i: i.name.lower())


def delete(ws: Workspace, artifact_id: str, *, actor: Actor | None = None) -> None:
    """Remove a model's folder; with ``actor``, only its owner or an admin may."""
    info = get(ws, artifact_id)
    if actor is not None:
        actor.require(info.owner, f"model '{info.name}'")
    shutil.rmtree(ws.artifacts / info.id)
