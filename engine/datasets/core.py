"""Datasets: the built-ins shipped with scikit-learn and user uploads.

A :class:`Dataset` is either tabular (a DataFrame) or images (an ``(N, C, H,
W)`` array with labels). Its id is a hash of its content, so the same data
uploaded twice is one dataset. :func:`prepare` turns a dataset, a target and
dropped columns into the arrays models see, validating everything first.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from engine.errors import FrontierError
from engine.workspace import Workspace, read_json, staged_dir, write_json_atomic

Task = Literal["classification", "regression"]
BUILTINS = ("digits", "digits_images", "breast_cancer", "wine", "iris", "diabetes")
UPLOAD_SUFFIXES = (".csv", ".parquet", ".pq", ".npz")
MAX_CLASSES = 50


@dataclass(frozen=True)
class Dataset:
    """A registered dataset: tabular ``frame`` or ``images`` + ``labels``."""

    id: str
    name: str
    kind: Literal["tabular", "images"]
    frame: pd.DataFrame | None = None
    images: np.ndarray | None = None
    labels: np.ndarray | None = None
    source: str = "upload"

    @property
    def columns(self) -> list[str]:
        if self.frame is not None:
            return [str(c) for c in self.frame.columns]
        return ["y"]

    @property
    def n_rows(self) -> int:
        return len(self.frame) if self.frame is not None else len(self.labels)  # type: ignore[arg-type]

    @property
    def default_target(self) -> str:
        cols = self.columns
        for name in ("target", "label", "y", "class"):
            if name in cols:
                return name
        return cols[-1]


@dataclass(frozen=True)
class Prepared:
    """What models see: features, target, task and class labels."""

    X: pd.DataFrame | np.ndarray
    y: np.ndarray
    task: Task
    feature_names: list[str]
    classes: np.ndarray | None = None
    y_encoded: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one row as models see it: ``(F,)`` or ``(C, H, W)``."""
        return tuple(self.X.shape[1:])

    @property
    def n_rows(self) -> int:
        return len(self.y)

    @property
    def is_image(self) -> bool:
        return isinstance(self.X, np.ndarray) and self.X.ndim == 4

    def numeric_X(self) -> np.ndarray:
        """Features as float32, the input torch and ONNX models take."""
        if isinstance(self.X, np.ndarray):
            return np.ascontiguousarray(self.X, dtype=np.float32)
        return np.ascontiguousarray(self.X.to_numpy(dtype=np.float32))

    def rows(self, index: np.ndarray) -> pd.DataFrame | np.ndarray:
        if isinstance(self.X, pd.DataFrame):
            return self.X.iloc[index]
        return self.X[index]


# --------------------------------------------------------------------- loading
def builtin(name: str) -> Dataset:
    """One of scikit-learn's bundled datasets, as Frontier presents it."""
    from sklearn import datasets as skd

    if name == "digits_images":
        d = skd.load_digits()
        images = d.images.astype(np.float32)[:, None, :, :]
        labels = d.target.astype(np.int64)
        return Dataset(_hash_images(images, labels), name, "images", images=images,
                       labels=labels, source="builtin")
    loaders = {
        "digits": skd.load_digits,
        "breast_cancer": skd.load_breast_cancer,
        "wine": skd.load_wine,
        "iris": skd.load_iris,
        "diabetes": skd.load_diabetes,
    }
    if name not in loaders:
        raise FrontierError(f"unknown built-in dataset '{name}'; choose one of {', '.join(BUILTINS)}")
    d = loaders[name](as_frame=name != "digits")
    if name == "digits":
        frame = pd.DataFrame(d.data, columns=[f"pixel_{i}" for i in range(d.data.shape[1])])
        frame["target"] = d.target
    else:
        frame = d.frame.copy()
        frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
    return Dataset(_hash_frame(frame), name, "tabular", frame=frame, source="builtin")


def read_file(path: str | Path, *, name: str | None = None) -> Dataset:
    """Read an uploaded CSV, Parquet or NPZ file into a :class:`Dataset`."""
    path = Path(path)
    if not path.is_file():
        raise FrontierError(f"dataset file not found: {path}")
    return read_bytes(path.read_bytes(), name=name or path.name)


def read_bytes(data: bytes, *, name: str) -> Dataset:
    """Parse uploaded bytes; the suffix of ``name`` picks the format."""
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise FrontierError(
            f"'{name}' is not a dataset format Frontier reads; upload .csv, .parquet or .npz")
    if not data:
        raise FrontierError(f"'{name}' is empty; upload a file with a header row and data")
    if suffix == ".npz":
        return _read_npz(data, name)
    try:
        if suffix == ".csv":
            frame = pd.read_csv(io.BytesIO(data))
        else:
            frame = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # parser errors come in many types
        kind = "CSV" if suffix == ".csv" else "Parquet"
        raise FrontierError(f"'{name}' could not be read as {kind}: {_first_line(exc)}") from None
    if frame.shape[1] < 2:
        raise FrontierError(
            f"'{name}' has {frame.shape[1]} column(s); a dataset needs feature columns and a target column")
    if frame.empty:
        raise FrontierError(f"'{name}' has a header but no rows")
    frame.columns = [str(c) for c in frame.columns]
    if len(set(frame.columns)) != frame.shape[1]:
        raise FrontierError(f"'{name}' has duplicate column names; rename them")
    return Dataset(_hash_frame(frame), name, "tabular", frame=frame)


def _read_npz(data: bytes, name: str) -> Dataset:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            keys = set(npz.files)
            if not {"X", "y"} <= keys:
                raise FrontierError(
                    f"'{name}' must hold arrays named X (N, C, H, W) and y (N,); found {sorted(keys) or 'none'}")
            X, y = npz["X"], npz["y"]
    except FrontierError:
        raise
    except ValueError as exc:
        raise FrontierError(
            f"'{name}' holds Python objects, which Frontier will not unpickle; save plain numeric arrays") from exc
    except Exception as exc:
        raise FrontierError(f"'{name}' could not be read as NPZ: {_first_line(exc)}") from None
    if X.ndim not in (2, 4):
        raise FrontierError(f"'{name}': X has shape {X.shape}; expected (N, C, H, W) images or (N, F) features")
    if y.ndim != 1 or len(y) != len(X):
        raise FrontierError(f"'{name}': y has shape {y.shape}; expected ({len(X)},), one label per row of X")
    if not np.issubdtype(X.dtype, np.number):
        raise FrontierError(f"'{name}': X has dtype {X.dtype}; expected numbers")
    if X.ndim == 2:
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
        frame["y"] = y
        return Dataset(_hash_frame(frame), name, "tabular", frame=frame)
    images = X.astype(np.float32, copy=False)
    return Dataset(_hash_images(images, y), name, "images", images=images, labels=y)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _hash_frame(frame: pd.DataFrame) -> str:
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def _hash_images(images: np.ndarray, labels: np.ndarray) -> str:
    h = hashlib.sha256()
    for arr in (images, labels):
        arr = np.ascontiguousarray(arr)
        h.update(f"{arr.dtype}{arr.shape}".encode())
        h.update(arr.tobytes() if arr.dtype != object else repr(arr.tolist()).encode())
    return h.hexdigest()[:16]


# --------------------------------------------------------------- the registry
def register(ws: Workspace, ds: Dataset) -> Dataset:
    """Store ``ds`` under ``datasets/<id>/`` (idempotent) and return it."""
    final = ws.datasets / ds.id
    if final.exists():
        return ds
    with staged_dir(final) as stage:
        if ds.kind == "tabular":
            ds.frame.to_parquet(stage / "data.parquet", index=False)  # type: ignore[union-attr]
        else:
            np.savez(stage / "data.npz", X=ds.images, y=ds.labels)
        write_json_atomic(stage / "meta.json", {
            "id": ds.id, "name": ds.name, "kind": ds.kind, "source": ds.source,
            "n_rows": ds.n_rows, "columns": ds.columns,
        })
    return ds


def load(ws: Workspace, dataset_id: str) -> Dataset:
    folder = ws.datasets / dataset_id
    if not re.fullmatch(r"[0-9a-f]{16}", dataset_id) or not (folder / "meta.json").is_file():
        raise FrontierError(f"no dataset with id '{dataset_id}' in {ws.root}")
    meta = read_json(folder / "meta.json")
    if meta["kind"] == "tabular":
        frame = pd.read_parquet(folder / "data.parquet")
        return Dataset(meta["id"], meta["name"], "tabular", frame=frame, source=meta["source"])
    with np.load(folder / "data.npz", allow_pickle=False) as npz:
        return Dataset(meta["id"], meta["name"], "images", images=npz["X"], labels=npz["y"],
                       source=meta["source"])


def list_registered(ws: Workspace) -> pd.DataFrame:
    """One row per registered dataset: id, name, kind, source, n_rows, n_columns."""
    rows = []
    for meta_path in sorted(ws.datasets.glob("*/meta.json")):
        meta = read_json(meta_path)
        rows.append({k: meta[k] for k in ("id", "name", "kind", "source", "n_rows")}
                    | {"n_columns": len(meta["columns"])})
    return pd.DataFrame(rows, columns=["id", "name", "kind", "source", "n_rows", "n_columns"])


def delete(ws: Workspace, dataset_id: str) -> None:
    import shutil

    load(ws, dataset_id)  # validates the id
    shutil.rmtree(ws.datasets / dataset_id)


def resolve(ws: Workspace, spec: str) -> Dataset:
    """A dataset from a CLI ``--data`` value: a file path, a built-in name or a registered id."""
    path = Path(spec)
    if path.exists():
        return read_file(path)
    name = spec.removeprefix("builtin:")
    if name in BUILTINS:
        return builtin(name)
    if re.fullmatch(r"[0-9a-f]{16}", spec) and (ws.datasets / spec).is_dir():
        return load(ws, spec)
    raise FrontierError(
        f"dataset '{spec}' not found: give a .csv/.parquet/.npz path or a built-in ({', '.join(BUILTINS)})")


# ---------------------------------------------------------------- preparation
def prepare(ds: Dataset, *, target: str | None = None, drop: tuple[str, ...] | list[str] = (),
            task: Task | None = None, n_splits: int = 5, numeric: bool = True) -> Prepared:
    """Split ``ds`` into features and target, validating everything first.

    ``numeric`` demands numeric features (torch, ONNX and most scikit-learn
    models); ``task`` forces classification or regression, otherwise it is
    inferred from the target. ``n_splits`` is checked against the smallest class.
    """
    if ds.kind == "images":
        if target not in (None, "y"):
            raise FrontierError(f"'{ds.name}' is an image dataset; its labels are 'y', not '{target}'")
        if drop:
            raise FrontierError("--drop applies to tabular datasets; image datasets have no columns")
        X, y = ds.images, ds.labels
        if not np.isfinite(X).all():
            raise FrontierError(f"'{ds.name}': X contains NaN or infinite values; clean them before benchmarking")
        feature_names = ["x".join(str(d) for d in X.shape[1:])]
    else:
        frame = ds.frame
        assert frame is not None
        target = target or ds.default_target
        if target not in frame.columns:
            raise FrontierError(
                f"target column '{target}' is not in '{ds.name}'; columns are: {_short_list(frame.columns)}")
        missing = [c for c in drop if c not in frame.columns]
        if missing:
            raise FrontierError(f"--drop names column(s) not in '{ds.name}': {', '.join(missing)}")
        if target in drop:
            raise FrontierError(f"'{target}' is the target; it cannot also be dropped")
        features = [c for c in frame.columns if c != target and c not in drop]
        if not features:
            raise FrontierError(f"'{ds.name}' has no feature columns left after dropping {', '.join(drop)}")
        X = frame[features]
        y = frame[target].to_numpy()
        if frame[target].isna().any():
            raise FrontierError(f"target column '{target}' has {int(frame[target].isna().sum())} missing value(s); drop or fill those rows")
        if numeric:
            bad = [c for c in features if not pd.api.types.is_numeric_dtype(X[c])]
            if bad:
                raise FrontierError(
                    f"feature column(s) {_short_list(bad)} are not numeric; encode them or pass --drop {bad[0]}")
            n_nan = int(X.isna().sum().sum())
            if n_nan:
                worst = X.isna().sum().idxmax()
                raise FrontierError(
                    f"features have {n_nan} missing value(s) (e.g. column '{worst}'); fill or drop them first")
            if not np.isfinite(X.to_numpy(dtype=np.float64)).all():
                raise FrontierError("features contain infinite values; clean them before benchmarking")
        feature_names = list(features)
    task = task or infer_task(y)
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(pd.Series(y)):
            raise FrontierError(f"the target of '{ds.name}' is not numeric, so it cannot be regressed")
        y = y.astype(np.float64)
        _check_rows(len(y), n_splits)
        return Prepared(X, y, "regression", feature_names)
    _check_rows(len(y), n_splits)
    if _is_continuous(y):  # a classifier was asked for, but the target is not class labels
        raise FrontierError(
            f"the target of '{ds.name}' is continuous (e.g. {_plain(y[0])!r}), but the model is a classifier; pick a class column as --target")
    classes, encoded = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise FrontierError(f"the target of '{ds.name}' has a single class ({_plain(classes[0])!r}); classification needs at least two")
    counts = np.bincount(encoded)
    if counts.min() < n_splits:
        rare = _plain(classes[int(counts.argmin())])
        raise FrontierError(
            f"class {rare!r} has {counts.min()} row(s), fewer than the {n_splits} folds; use --cv {max(2, int(counts.min()))} or add rows")
    return Prepared(X, y, "classification", feature_names, classes=classes, y_encoded=encoded)


def infer_task(y: np.ndarray) -> Task:
    """Classification unless the target is float-valued or has many distinct integers."""
    s = pd.Series(y)
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return "classification"
    values = s.dropna().to_numpy()
    integral = np.all(np.equal(np.mod(values, 1), 0))
    return "classification" if integral and s.nunique() <= MAX_CLASSES else "regression"


def _is_continuous(y: np.ndarray) -> bool:
    """A float target that looks like a regression target (fractions, or many distinct values)."""
    return pd.api.types.is_float_dtype(pd.Series(y)) and infer_task(y) == "regression"


def _plain(value):
    """A NumPy scalar as the Python value users wrote (``2``, not ``np.int64(2)``)."""
    return value.item() if isinstance(value, np.generic) else value


def _check_rows(n: int, n_splits: int) -> None:
    if n_splits < 2:
        raise FrontierError(f"--cv must be at least 2, got {n_splits}")
    if n < 2 * n_splits:
        raise FrontierError(f"the dataset has {n} rows, too few for {n_splits} folds; add rows or lower --cv")


def _short_list(items, limit: int = 8) -> str:
    items = [str(i) for i in items]
    more = f", … ({len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more
