"""The two records of the package: a :class:`Dataset` as read, and what models see (:class:`Prepared`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from engine.datasets.sources import Stamp

Task = Literal["classification", "regression"]
Kind = Literal["tabular", "images"]
# The stored file of each kind: fixed names, never taken from (editable) metadata.
DATA_FILES: dict[str, str] = {"tabular": "data.parquet", "images": "data.npz"}
ROW_CHUNK_BYTES = 16 << 20  # working set of one conversion step


@dataclass(frozen=True)
class Dataset:
    """A dataset: tabular ``frame``, or ``images`` ``(N, C, H, W)`` + ``labels``.

    ``id`` is a hash of the content. ``origin`` (set by :func:`read_file`)
    describes the file it came from, so registering it can remember the file.
    """

    id: str
    name: str
    kind: Kind
    frame: pd.DataFrame | None = None
    images: np.ndarray | None = None
    labels: np.ndarray | None = None
    source: str = "upload"
    owner: str | None = None
    origin: Stamp | None = field(default=None, compare=False, repr=False)

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
        return default_target(self.columns)


def default_target(columns: list[str]) -> str:
    """The conventional target name if present, else the last column."""
    for name in ("target", "label", "y", "class"):
        if name in columns:
            return name
    return columns[-1]


@dataclass(frozen=True)
class Prepared:
    """What models see: features, target, task and class labels."""

    X: pd.DataFrame | np.ndarray
    y: np.ndarray
    task: Task
    feature_names: list[str]
    classes: np.ndarray | None = None
    y_encoded: np.ndarray | None = field(default=None, repr=False)
    _cache: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False, compare=False)

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
        """Features as a C-contiguous float32 array, the input torch and ONNX models take.

        Built once per :class:`Prepared` (later calls return the same array,
        read-only unless it is ``X`` itself), converting a slice of rows at a
        time: no float64 copy of the whole table is ever made.
        """
        if "float32" not in self._cache:
            out = float32_matrix(self.X)
            if out is not self.X:
                out.flags.writeable = False
            self._cache["float32"] = out
        return self._cache["float32"]

    def as_arrays(self) -> Prepared:
        """The same data with ``X`` as the float32 matrix only, for work that never needs the
        DataFrame (ONNX and torch models): the caller can then let the table go."""
        if not isinstance(self.X, pd.DataFrame):
            return self
        return Prepared(self.numeric_X(), self.y, self.task, self.feature_names, self.classes, self.y_encoded)

    def rows(self, index: np.ndarray) -> pd.DataFrame | np.ndarray:
        if isinstance(self.X, pd.DataFrame):
            return self.X.iloc[index]
        return self.X[index]


def float32_matrix(X: pd.DataFrame | np.ndarray) -> np.ndarray:
    """``X`` as C-contiguous float32, converted in row slices (bounded extra memory)."""
    if isinstance(X, np.ndarray):
        if X.dtype == np.float32 and X.flags.c_contiguous:
            return X
        out = np.empty(X.shape, dtype=np.float32)
        flat_in, flat_out = X.reshape(len(X), -1), out.reshape(len(X), -1)
        step = _rows_per_step(flat_in.shape[1] * max(X.dtype.itemsize, 4))
        for start in range(0, len(X), step):
            flat_out[start:start + step] = flat_in[start:start + step]
        return out
    out = np.empty(X.shape, dtype=np.float32)
    step = _rows_per_step(X.shape[1] * 8)
    for start in range(0, len(X), step):
        out[start:start + step] = X.iloc[start:start + step].to_numpy(dtype=np.float32)
    return out


def _rows_per_step(row_bytes: int) -> int:
    return max(1, ROW_CHUNK_BYTES // max(1, row_bytes))
