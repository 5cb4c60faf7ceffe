"""Read an uploaded file (CSV, Parquet or NPZ) into a :class:`Dataset`, checked and hashed.

Files are parsed from their path (never read into memory first); bytes from
the dashboard are parsed in place. Every format checks its declared or
estimated decoded size against ``FRONTIER_MAX_DATA_MB`` before decoding.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from engine.datasets import sources
from engine.datasets.csv_reader import read_csv
from engine.datasets.dataset import Dataset
from engine.datasets.hashing import frame_id, images_id
from engine.datasets.npz_reader import read_npz
from engine.datasets.parquet_reader import read_parquet
from engine.errors import FrontierError

UPLOAD_SUFFIXES = (".csv", ".parquet", ".pq", ".npz")


def read_file(path: str | os.PathLike[str], *, name: str | None = None) -> Dataset:
    """Read an uploaded CSV, Parquet or NPZ file into a :class:`Dataset`.

    The file's stamp (size, mtime, a hash of its ends) is kept on the dataset
    as ``origin`` when the file did not change while it was read, so that
    :func:`~engine.datasets.register` can remember which dataset it is.
    """
    path = Path(path)
    if not path.is_file():
        raise FrontierError(f"dataset file not found: {path}")
    name = name or path.name
    _check_suffix(name)
    before = sources.stamp(path)
    if before is not None and before.size == 0:
        raise FrontierError(f"'{name}' is empty; upload a file with a header row and data")
    ds = _parse(path, name)
    if sources.unchanged(before, path):
        ds = _with_origin(ds, before)
    return ds


def read_bytes(data: bytes, *, name: str) -> Dataset:
    """Parse uploaded bytes; the suffix of ``name`` picks the format."""
    _check_suffix(name)
    if not data:
        raise FrontierError(f"'{name}' is empty; upload a file with a header row and data")
    return _parse(bytes(data), name)


def _check_suffix(name: str) -> None:
    if Path(name).suffix.lower() not in UPLOAD_SUFFIXES:
        raise FrontierError(f"'{name}' is not a dataset format Frontier reads; upload .csv, .parquet or .npz")


def _parse(source: Path | bytes, name: str) -> Dataset:
    suffix = Path(name).suffix.lower()
    if suffix == ".npz":
        X, y = read_npz(source, name=name)
        return from_arrays(X, y, name=name)
    frame = read_csv(source, name=name) if suffix == ".csv" else read_parquet(source, name=name)
    return from_frame(frame, name=name)


def from_frame(frame: pd.DataFrame, *, name: str, source: str = "upload") -> Dataset:
    """A tabular dataset from a parsed table, after the checks every table passes."""
    if frame.shape[1] < 2:
        raise FrontierError(
            f"'{name}' has {frame.shape[1]} column(s); a dataset needs feature columns and a target column")
    if frame.empty:
        raise FrontierError(f"'{name}' has a header but no rows")
    frame.columns = [str(c) for c in frame.columns]
    if len(set(frame.columns)) != frame.shape[1]:
        dups = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
        raise FrontierError(f"'{name}' has duplicate column names ({', '.join(dups[:5])}); rename them")
    for column in [c for c, t in frame.dtypes.items() if t == np.dtype(object)]:
        if pd.api.types.infer_dtype(frame[column], skipna=True) in ("integer", "mixed-integer"):
            big = next(v for v in frame[column] if isinstance(v, int))
            raise FrontierError(f"'{name}': column '{column}' holds integers beyond 64 bits (e.g. {big}); "
                                "store them as text or as floating-point numbers")
    return Dataset(frame_id(frame), name, "tabular", frame=frame, source=source)


def from_arrays(X: np.ndarray, y: np.ndarray, *, name: str, source: str = "upload") -> Dataset:
    """A dataset from NPZ arrays: images for ``(N, C, H, W)``, a table ``x0..xF, y`` for ``(N, F)``."""
    if X.ndim == 2:
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])], copy=False)
        frame["y"] = y
        return Dataset(frame_id(frame), name, "tabular", frame=frame, source=source)
    images = X.astype(np.float32, copy=False)
    return Dataset(images_id(images, y), name, "images", images=images, labels=y, source=source)


def _with_origin(ds: Dataset, origin: sources.Stamp | None) -> Dataset:
    return replace(ds, origin=origin)
