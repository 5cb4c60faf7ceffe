"""Registered datasets under ``datasets/<id>/``: register, load, describe, list, delete, resolve.

A folder holds the data under a fixed name per kind (``data.parquet`` or
``data.npz``) and ``meta.json``: name, kind, source, owner, shape and the
column-by-column description :func:`info` returns. The workspace may be
shared and edited by hand, so nothing read back is trusted: ids are checked
against :data:`engine.ids.CONTENT_ID_RE` before a path is built, no path is
taken from ``meta.json``, symlinks are refused, the data go through the same
size-capped readers as uploads, and their shape must match the metadata.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engine import ids, names
from engine.datasets import sources
from engine.datasets.builtins import BUILTINS, BUNDLED_IDS, builtin
from engine.datasets.dataset import DATA_FILES, Dataset
from engine.datasets.npz_reader import read_npz
from engine.datasets.parquet_reader import read_parquet
from engine.datasets.readers import read_file
from engine.datasets.summary import ColumnInfo, DatasetInfo, summarize
from engine.errors import FrontierError, option
from engine.owners import Actor
from engine.workspace import Workspace, staged_dir, write_json_atomic

META = "meta.json"
META_VERSION = 2
MAX_META_BYTES = 64 << 20
ROW_GROUP_BYTES = 64 << 20
SOURCE_RE = re.compile(r"[a-z][a-z0-9_-]{0,39}")  # "upload", "builtin", ...: shown as text, kept short
LIST_COLUMNS = ["id", "name", "kind", "source", "n_rows", "n_columns", "owner"]
T = TypeVar("T")


# ----------------------------------------------------------------- writing
def register(ws: Workspace, ds: Dataset, *, owner: str | None = None) -> Dataset:
    """Store ``ds`` under ``datasets/<id>/`` (idempotent: the first owner stays) and return it.

    A dataset read from a file (``ds.origin``) is also recorded in the source
    index, so :func:`registered_id_for` finds it without reading the file again.
    """
    if not ids.is_content_id(ds.id):
        raise FrontierError(f"'{ds.name}' has an invalid dataset id")
    ds = replace(ds, name=names.clean(ds.name))
    final = ws.datasets / ds.id
    if not (final / META).is_file():
        with staged_dir(final) as stage:
            _write_data(stage / DATA_FILES[ds.kind], ds)
            write_json_atomic(stage / META, _meta(ds, owner))
    if ds.origin is not None:
        sources.remember(ws, ds.origin, ds.id)
    try:
        stored_owner = _read_meta(ws, ds.id)[1].get("owner")
    except FrontierError:
        stored_owner = owner
    return replace(ds, owner=stored_owner)


def _write_data(path: Path, ds: Dataset) -> None:
    if ds.kind == "images":
        np.savez(path, X=ds.images, y=ds.labels)
        return
    frame = ds.frame
    assert frame is not None
    schema = pa.Schema.from_pandas(frame, preserve_index=False)
    row_bytes = max(1, int(frame.memory_usage(index=False, deep=False).sum()) // max(1, len(frame)))
    step = max(1, ROW_GROUP_BYTES // row_bytes)
    # floats are stored plain: dictionary-encoding them (the default) costs time and saves nothing
    dictionary = [f.name for f in schema if not pa.types.is_floating(f.type)]
    with pq.ParquetWriter(path, schema, use_dictionary=dictionary) as writer:  # a slice at a time
        for start in range(0, len(frame), step):
            part = pa.Table.from_pandas(frame.iloc[start:start + step], schema=schema, preserve_index=False)
            writer.write_table(part, row_group_size=step)


def _meta(ds: Dataset, owner: str | None) -> dict[str, Any]:
    described = summarize(replace(ds, owner=owner)).to_dict()
    return {"version": META_VERSION, "source": ds.source, **described, "owner": owner}


# ----------------------------------------------------------------- reading
def load(ws: Workspace, dataset_id: str) -> Dataset:
    """The registered dataset ``dataset_id``, read through the size-capped readers and checked against its metadata."""
    folder, meta = _read_meta(ws, dataset_id)
    kind, n_rows = meta["kind"], meta["n_rows"]
    data = _data_file(folder, kind, dataset_id)
    label = f"{dataset_id}/{DATA_FILES[kind]}"
    common = {"source": meta["source"], "owner": meta["owner"]}
    if kind == "tabular":
        frame = read_parquet(data, name=label, expect_rows=n_rows)
        if [str(c) for c in frame.columns] != meta["columns"]:
            raise _damaged(dataset_id, "its data do not have the columns its metadata lists")
        return Dataset(dataset_id, meta["name"], "tabular", frame=frame, **common)
    X, y = read_npz(data, name=label, expect_rows=n_rows)
    if X.ndim != 4 or (meta.get("shape") is not None and list(X.shape) != meta["shape"]):
        raise _damaged(dataset_id, f"its images have shape {X.shape}, not the one its metadata records")
    return Dataset(dataset_id, meta["name"], "images", images=X, labels=y, **common)


def info(ws: Workspace, dataset_id: str) -> DatasetInfo:
    """The stored description of a registered dataset, without reading its data.

    Datasets registered before descriptions were stored are read once to
    compute it (nothing is written back).
    """
    _, meta = _read_meta(ws, dataset_id)
    stored = meta.get("column_info")
    if meta.get("version") != META_VERSION or not isinstance(stored, list):
        return summarize(load(ws, dataset_id))
    try:
        columns = {c["name"]: ColumnInfo.from_dict(c) for c in stored}
        shape = meta.get("shape")
        return DatasetInfo(dataset_id, meta["name"], meta["kind"], meta["n_rows"], meta["columns"],
                           {str(k): str(v) for k, v in dict(meta.get("dtypes") or {}).items()}, columns,
                           shape=[int(d) for d in shape] if shape is not None else None,
                           images_finite=meta.get("images_finite"), source=meta["source"], owner=meta["owner"])
    except (KeyError, TypeError, ValueError):
        raise _damaged(dataset_id, "its column descriptions are malformed") from None


def list_registered(ws: Workspace) -> pd.DataFrame:
    """One row per registered dataset: id, name, kind, source, n_rows, n_columns, owner (damaged ones are skipped)."""
    rows = []
    folder = ws.datasets
    for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
        if not ids.is_content_id(entry.name):
            continue
        try:
            _, meta = _read_meta(ws, entry.name)
        except FrontierError:
            continue
        rows.append({"id": entry.name, "name": meta["name"], "kind": meta["kind"], "source": meta["source"],
                     "n_rows": meta["n_rows"], "n_columns": len(meta["columns"]), "owner": meta["owner"]})
    return pd.DataFrame(rows, columns=LIST_COLUMNS)


def delete(ws: Workspace, dataset_id: str, *, actor: Actor | None = None) -> None:
    """Remove a registered dataset; with ``actor``, only its owner or an admin may."""
    folder, meta = _read_meta(ws, dataset_id)
    if actor is not None:
        actor.require(meta["owner"], f"dataset '{meta['name']}'")
    shutil.rmtree(folder)


def registered_id_for(ws: Workspace, path: str | os.PathLike[str]) -> str | None:
    """The id of the registered dataset read from the file at ``path``, if the file is unchanged since.

    Cheap: a stat and 128 KiB read, no parsing or hashing of the data.
    """
    return sources.lookup(ws, path)


def resolve(ws: Workspace, spec: str) -> Dataset:
    """A dataset from a CLI ``--data`` value: a file path, a built-in name or a registered id.

    A file already registered and unchanged is loaded from the workspace
    rather than parsed and hashed again.
    """
    path = Path(spec)
    if path.exists():
        stored = _stored(load, ws, registered_id_for(ws, path))
        return stored if stored is not None else read_file(path)
    name = spec.removeprefix("builtin:")
    if name in BUILTINS:
        return builtin(name)
    if ids.is_content_id(spec) and (ws.datasets / spec).is_dir():
        return load(ws, spec)
    raise FrontierError(
        f"dataset '{spec}' not found for {option('data')}: give a .csv/.parquet/.npz path, a registered id "
        f"or a built-in ({', '.join(BUILTINS)})")


def describe(ws: Workspace, spec: str) -> Dataset | DatasetInfo:
    """What a CLI ``--data`` value names, as cheaply as it can be known.

    A registered dataset (an unchanged file, a bundled name or an id) comes
    back as its stored :class:`DatasetInfo`, reading no data; anything else is
    read (:func:`resolve`). A bundled name only ever means its known id.
    """
    stored = _stored(info, ws, registered_id(ws, spec))
    return stored if stored is not None else resolve(ws, spec)


def _stored(read: Callable[[Workspace, str], T], ws: Workspace, dataset_id: str | None) -> T | None:
    """``read(ws, dataset_id)`` for a registered dataset; None when there is none or its stored
    copy is damaged (the caller then reads the source itself)."""
    if dataset_id is None:
        return None
    try:
        return read(ws, dataset_id)
    except FrontierError:
        return None


def registered_id(ws: Workspace, spec: str) -> str | None:
    """The id of the registered dataset a CLI ``--data`` value names, if it is registered (cheap:
    a stat and 128 KiB read for a file, nothing for a name or id)."""
    path = Path(spec)
    if path.exists():
        known = registered_id_for(ws, path)
    else:
        name = spec.removeprefix("builtin:")
        known = BUNDLED_IDS.get(name) or (spec if ids.is_content_id(spec) else None)
    return known if known is not None and (ws.datasets / known).is_dir() else None


# ------------------------------------------------------------ metadata checks
def _read_meta(ws: Workspace, dataset_id: str) -> tuple[Path, dict[str, Any]]:
    """The dataset's folder and validated metadata; refuses anything a hand edit could have planted."""
    if not ids.is_content_id(dataset_id):
        raise FrontierError(f"no dataset with id '{str(dataset_id)[:40]}' in {ws.root}")
    folder = ws.datasets / dataset_id
    meta_path = folder / META
    if folder.is_symlink() or not folder.is_dir() or not meta_path.exists():
        raise FrontierError(f"no dataset with id '{dataset_id}' in {ws.root}")
    st = meta_path.lstat()
    if not stat.S_ISREG(st.st_mode):
        raise _damaged(dataset_id, f"its {META} is not a regular file")
    if st.st_size > MAX_META_BYTES:
        raise _damaged(dataset_id, f"its {META} is implausibly large")
    try:
        meta = json.loads(meta_path.read_bytes())
    except (OSError, ValueError):
        raise _damaged(dataset_id, f"its {META} is not valid JSON") from None
    if not isinstance(meta, dict):
        raise _damaged(dataset_id, f"its {META} is not an object")
    if meta.get("id", dataset_id) != dataset_id:
        raise _damaged(dataset_id, f"its {META} names another id")
    if meta.get("kind") not in DATA_FILES:
        raise _damaged(dataset_id, f"its {META} names an unknown kind {str(meta.get('kind'))[:40]!r}")
    n_rows, columns = meta.get("n_rows"), meta.get("columns")
    if isinstance(n_rows, bool) or not isinstance(n_rows, int) or n_rows < 0:
        raise _damaged(dataset_id, f"its {META} has no valid row count")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise _damaged(dataset_id, f"its {META} has no valid column list")
    owner = meta.get("owner")
    meta["owner"] = owner if isinstance(owner, str) else None
    meta["name"] = str(meta.get("name") or dataset_id)[:200]
    source = meta.get("source")
    meta["source"] = source if isinstance(source, str) and SOURCE_RE.fullmatch(source) else "upload"
    return folder, meta


def _data_file(folder: Path, kind: str, dataset_id: str) -> Path:
    """The data file: the fixed name for ``kind``, a regular file, not a link out of the folder."""
    path = folder / DATA_FILES[kind]
    try:
        st = path.lstat()
    except OSError:
        raise _damaged(dataset_id, f"its {DATA_FILES[kind]} is missing") from None
    if not stat.S_ISREG(st.st_mode):
        raise _damaged(dataset_id, f"its {DATA_FILES[kind]} is not a regular file")
    return path


def _damaged(dataset_id: str, why: str) -> FrontierError:
    return FrontierError(f"registered dataset '{dataset_id}' is damaged: {why}; delete it and register the file again")
