"""What a dataset holds, column by column, without its data: the record stored in ``meta.json``.

:func:`summarize` computes a :class:`DatasetInfo` from a loaded dataset: per
column its dtype, whether it is numeric, missing and infinite counts, and for
columns that could be a class target (text, booleans, whole numbers) the
number of distinct values, the rarest class and, for up to ``MAX_CLASSES``
classes, every class with its count. :func:`engine.datasets.prepare.check`
validates a request against this record, so a planner can refuse a bad
request, or accept a cached one, without reading the data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from engine.datasets.dataset import Dataset, default_target

MAX_CLASSES = 50
PROBE_ROWS = 1000


@dataclass(frozen=True)
class ColumnInfo:
    """One column (or an image set's labels ``y``) as a validator needs it."""

    name: str
    dtype: str
    numeric: bool
    boolean: bool = False
    floating: bool = False
    n_missing: int = 0
    n_infinite: int = 0
    integral: bool = False              # numeric and every present value is a whole number
    first: Any = None                   # the first present value, as JSON
    n_distinct: int | None = None       # class statistics: None when not computed
    min_count: int | None = None
    rarest: Any = None
    classes: list[Any] | None = None    # sorted labels, when there are at most MAX_CLASSES
    counts: list[int] | None = None
    mixed_types: list[str] | None = None  # Python types of a column that mixes them
    n_text: int | None = None           # many-valued text: values that are not numbers
    text_example: Any = None
    text_row: int | None = None

    @property
    def has_class_stats(self) -> bool:
        return self.n_distinct is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnInfo:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset's stored description (see :func:`engine.datasets.info`)."""

    id: str
    name: str
    kind: str
    n_rows: int
    columns: list[str]
    dtypes: dict[str, str]
    column_info: dict[str, ColumnInfo] = field(default_factory=dict)
    shape: list[int] | None = None      # images: (N, C, H, W)
    images_finite: bool | None = None
    source: str = "upload"
    owner: str | None = None

    @property
    def default_target(self) -> str:
        return default_target(self.columns) if self.kind == "tabular" else "y"

    def column(self, name: str, *, class_stats: bool = False) -> ColumnInfo | None:
        """The stored description of column ``name`` (class statistics are stored where plausible)."""
        return self.column_info.get(name)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["column_info"] = [c.to_dict() for c in self.column_info.values()]
        return d


def summarize(ds: Dataset) -> DatasetInfo:
    """The :class:`DatasetInfo` of ``ds``, with class statistics for every column that could be a class target."""
    if ds.kind == "images":
        X = ds.images
        assert X is not None and ds.labels is not None
        return DatasetInfo(ds.id, ds.name, "images", ds.n_rows, ["y"], {"y": str(ds.labels.dtype)},
                           {"y": summarize_column(pd.Series(ds.labels), "y", class_stats=True)},
                           shape=list(X.shape), images_finite=_all_finite(X), source=ds.source, owner=ds.owner)
    frame = ds.frame
    assert frame is not None
    infos = {c: summarize_column(frame[c], c, class_stats=None) for c in ds.columns}
    return DatasetInfo(ds.id, ds.name, "tabular", ds.n_rows, ds.columns,
                       {str(c): str(t) for c, t in frame.dtypes.items()}, infos, source=ds.source, owner=ds.owner)


def summarize_column(s: pd.Series, name: str, *, class_stats: bool | None) -> ColumnInfo:
    """One column's :class:`ColumnInfo`; ``class_stats=None`` computes them when the column could be a class target."""
    dtype = s.dtype
    numeric = bool(pd.api.types.is_numeric_dtype(dtype)) and not pd.api.types.is_complex_dtype(dtype)
    boolean = bool(pd.api.types.is_bool_dtype(dtype))
    floating = bool(pd.api.types.is_float_dtype(dtype))
    missing = s.isna()
    n_missing = int(missing.sum())
    present = s[~missing] if n_missing else s
    n_infinite, integral = 0, False
    if numeric and not boolean:
        values = present.to_numpy(dtype=np.float64) if floating or not isinstance(dtype, np.dtype) else present.to_numpy()
        if values.dtype.kind == "f":
            n_infinite = int(np.isinf(values).sum())
            integral = n_infinite == 0 and _whole(values)
        else:
            integral = True
    first = _plain(present.iloc[0]) if len(present) else None
    info = ColumnInfo(name, str(dtype), numeric, boolean, floating, n_missing, n_infinite, integral, first)
    if class_stats is None:
        class_stats = not numeric or boolean or integral
    return _with_class_stats(info, s, present) if class_stats else info


def _whole(values: np.ndarray) -> bool:
    probe = values[:PROBE_ROWS]
    if not np.equal(np.mod(probe, 1), 0).all():
        return False
    return bool(np.equal(np.mod(values, 1), 0).all())


def _with_class_stats(info: ColumnInfo, column: pd.Series, present: pd.Series) -> ColumnInfo:
    counts = present.value_counts(dropna=True, sort=False)
    counts = counts[counts > 0]  # categoricals list unused categories too
    labels = counts.index.to_numpy(dtype=object)
    try:  # Python comparisons, as np.unique sorts the column
        order = np.argsort(labels, kind="stable")
    except TypeError:
        kinds = sorted({type(v).__name__ for v in labels})
        return replace(info, n_distinct=len(labels), mixed_types=kinds)
    labels, values = labels[order], counts.to_numpy()[order]
    extra: dict[str, Any] = {}
    if len(labels):
        rare = int(np.argmin(values))
        extra = {"min_count": int(values[rare]), "rarest": _plain(labels[rare])}
    if len(labels) <= MAX_CLASSES:
        extra |= {"classes": [_plain(v) for v in labels], "counts": [int(v) for v in values]}
    elif not info.numeric:
        extra |= _text_among_numbers(column)
    return replace(info, n_distinct=len(labels), **extra)


def _text_among_numbers(column: pd.Series) -> dict[str, Any]:
    """For a many-valued text column: how many values are not numbers, and the first (row position)."""
    text = (pd.to_numeric(column, errors="coerce").isna() & column.notna()).to_numpy()
    n_text = int(text.sum())
    if n_text in (0, int(column.notna().sum())):
        return {"n_text": n_text}
    at = int(np.argmax(text))
    return {"n_text": n_text, "text_example": _plain(column.iloc[at]), "text_row": at}


def _all_finite(X: np.ndarray) -> bool:
    flat = X.reshape(len(X), -1)
    step = max(1, (8 << 20) // max(1, flat.shape[1] * flat.itemsize))
    return all(np.isfinite(flat[i:i + step]).all() for i in range(0, len(flat), step))


def _plain(value: Any) -> Any:
    """A value as JSON and users write it (``2``, not ``np.int64(2)``)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)  # JSON has no NaN or infinity
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
