"""Split a dataset into what models see, validating every choice first.

:func:`check` holds every rule. It reads a dataset's description, either a
live one (computed on demand from the data, as :func:`prepare` does) or the
one stored at registration (:func:`engine.datasets.info`), so a planner can
refuse a bad request, or accept a cached one, without reading the data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from engine.datasets.dataset import Dataset, Prepared, Task
from engine.datasets.summary import (
    MAX_CLASSES,
    ColumnInfo,
    DatasetInfo,
    summarize,
    summarize_column,
)
from engine.errors import FrontierError, option

LIST_LIMIT = 5


class Described(Protocol):
    """What :func:`check` needs to know about a dataset."""

    name: str
    kind: str
    n_rows: int
    columns: list[str]
    shape: list[int] | None
    images_finite: bool | None

    @property
    def default_target(self) -> str: ...

    def column(self, name: str, *, class_stats: bool = False) -> ColumnInfo | None: ...


@dataclass(frozen=True)
class Checked:
    """A validated request: the task, the target, the features in order and the row shape."""

    task: Task
    target: str
    features: list[str]
    input_shape: tuple[int, ...]
    classes: list[Any] | None = None


def check(ds: Described, *, target: str | None = None, drop: Iterable[str] = (), task: Task | None = None,
          n_splits: int = 5, numeric: bool = True, needed_by: str | None = None) -> Checked:
    """Validate a request against ``ds``; raise one clear :class:`FrontierError` for the first problem.

    ``numeric`` demands numeric features; ``needed_by`` names the model(s)
    that need them, for the message. ``task`` forces classification or
    regression, otherwise it is inferred from the target.
    """
    drop = tuple(drop)
    if ds.kind == "images":
        if target not in (None, "y"):
            raise FrontierError(f"'{ds.name}' is an image dataset; its labels are 'y', not '{target}'")
        if drop:
            raise FrontierError(f"{option('drop')} applies to tabular datasets; image datasets have no columns")
        if not ds.images_finite:
            raise FrontierError(f"'{ds.name}': X contains NaN or infinite values; clean them before benchmarking")
        target, shape = "y", tuple(ds.shape[1:]) if ds.shape else ()
        features = ["x".join(str(d) for d in shape)]
    else:
        target = target or ds.default_target
        features = _features(ds, target, drop)
        shape = (len(features),)
    y = ds.column(target, class_stats=True)
    assert y is not None
    _check_target_values(y, target)
    if numeric and ds.kind == "tabular":
        _check_numeric_features(ds, features, needed_by)
    if y.mixed_types:
        raise FrontierError(f"target column '{target}' mixes {' and '.join(y.mixed_types)} values; "
                            "make it one type (all numbers or all text)")
    task = task or task_of(y)
    if task == "regression":
        if not y.numeric or y.boolean:
            raise FrontierError(f"the target of '{ds.name}' is not numeric, so it cannot be regressed{_text_detail(y)}")
        _check_rows(ds.n_rows, n_splits)
        return Checked("regression", target, features, shape)
    _check_rows(ds.n_rows, n_splits)
    if y.floating and task_of(y) == "regression":  # a classifier was asked for, but the target is not class labels
        raise FrontierError(
            f"the target of '{ds.name}' is continuous (e.g. {y.first!r}), but the model is a classifier; "
            f"pick a class column as {option('target')}")
    if not y.has_class_stats:
        raise FrontierError(f"'{ds.name}' has no class statistics for '{target}'; register it again")
    if y.n_distinct and y.n_distinct > MAX_CLASSES and y.n_text and 2 * y.n_text < ds.n_rows - y.n_missing:
        raise FrontierError(
            f"target column '{target}' holds numbers, but {y.n_text} value(s) are text{_text_example(y)}, so it "
            f"reads as {y.n_distinct} text classes; fix or drop those rows")
    if (y.n_distinct or 0) < 2:
        raise FrontierError(f"the target of '{ds.name}' has a single class ({y.first!r}); "
                            "classification needs at least two")
    if y.min_count is not None and y.min_count < n_splits:
        k = y.min_count
        fix = f"use {option('cv', k)} or add rows" if k >= 2 else "add rows of that class or drop it"
        raise FrontierError(f"class {y.rarest!r} has {k} row(s), fewer than the {n_splits} folds; {fix}")
    return Checked("classification", target, features, shape, y.classes)


def prepare(ds: Dataset, *, target: str | None = None, drop: Iterable[str] = (), task: Task | None = None,
            n_splits: int = 5, numeric: bool = True, needed_by: str | None = None) -> Prepared:
    """Split ``ds`` into features and target after :func:`check` accepted the request."""
    ok = check(Live(ds), target=target, drop=drop, task=task, n_splits=n_splits, numeric=numeric,
               needed_by=needed_by)
    if ds.kind == "images":
        X: pd.DataFrame | np.ndarray = ds.images  # type: ignore[assignment]
        y = np.asarray(ds.labels)
    else:
        frame = ds.frame
        assert frame is not None
        X = frame[ok.features]  # no copy (copy-on-write)
        y = frame[ok.target].to_numpy()
    if ok.task == "regression":
        return Prepared(X, y.astype(np.float64), "regression", ok.features)
    classes, encoded = np.unique(y, return_inverse=True)
    return Prepared(X, y, "classification", ok.features, classes=classes, y_encoded=encoded)


def task_of(y: ColumnInfo) -> Task:
    """Classification unless the target is numeric with fractions or more than ``MAX_CLASSES`` values."""
    if not y.numeric or y.boolean:
        return "classification"
    few = y.n_distinct is not None and y.n_distinct <= MAX_CLASSES
    return "classification" if y.integral and few else "regression"


def infer_task(y: np.ndarray) -> Task:
    """Classification unless the target is float-valued or has many distinct integers."""
    return task_of(summarize_column(pd.Series(y), "y", class_stats=True))


class Live:
    """A dataset described on demand from its data (only the columns a check asks about)."""

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds
        self.name, self.kind, self.n_rows, self.columns = ds.name, ds.kind, ds.n_rows, ds.columns
        self.shape = list(ds.images.shape) if ds.images is not None else None
        self._images: DatasetInfo | None = None
        self._cache: dict[tuple[str, bool], ColumnInfo] = {}

    @property
    def default_target(self) -> str:
        return self.ds.default_target

    @property
    def images_finite(self) -> bool | None:
        return self._image_info().images_finite if self.kind == "images" else None

    def _image_info(self) -> DatasetInfo:
        if self._images is None:
            self._images = summarize(self.ds)
        return self._images

    def column(self, name: str, *, class_stats: bool = False) -> ColumnInfo | None:
        if self.kind == "images":
            return self._image_info().column_info.get(name)
        key = (name, class_stats)
        if key not in self._cache:
            self._cache[key] = summarize_column(self.ds.frame[name], name, class_stats=class_stats)  # type: ignore[index]
        return self._cache[key]


# ------------------------------------------------------------------ rules
def _features(ds: Described, target: str, drop: tuple[str, ...]) -> list[str]:
    if target not in ds.columns:
        raise FrontierError(
            f"target column '{target}' is not in '{ds.name}'; columns are: {_names(ds.columns, limit=8)}")
    missing = [c for c in drop if c not in ds.columns]
    if missing:
        raise FrontierError(f"{option('drop')} names column(s) not in '{ds.name}': {', '.join(missing)}")
    if target in drop:
        raise FrontierError(f"'{target}' is the target; it cannot also be dropped")
    features = [c for c in ds.columns if c != target and c not in drop]
    if not features:
        raise FrontierError(f"'{ds.name}' has no feature columns left after dropping {', '.join(drop)}")
    return features


def _check_target_values(y: ColumnInfo, target: str) -> None:
    if y.n_missing:
        raise FrontierError(f"target column '{target}' has {y.n_missing} missing value(s); drop or fill those rows")
    if y.n_infinite:
        raise FrontierError(f"target column '{target}' has {y.n_infinite} infinite value(s); drop or fix those rows")


def _check_numeric_features(ds: Described, features: list[str], needed_by: str | None) -> None:
    infos = [ds.column(c) for c in features]
    by = f", but {needed_by} needs numeric input" if needed_by else ""
    bad = [i.name for i in infos if i is not None and not i.numeric]
    if bad:
        raise FrontierError(f"feature column(s) {_names(bad)} are not numeric{by}; encode them as numbers "
                            f"or leave them out with {_drops(bad)}")
    gaps = [i for i in infos if i is not None and i.n_missing]
    if gaps:
        total = sum(i.n_missing for i in gaps)
        gaps.sort(key=lambda i: -i.n_missing)
        raise FrontierError(
            f"features have {total} missing value(s) in column(s) {_names([repr(i.name) for i in gaps])}{by}; "
            f"fill them or leave them out with {_drops([i.name for i in gaps])}")
    infinite = [i.name for i in infos if i is not None and i.n_infinite]
    if infinite:
        raise FrontierError(f"feature column(s) {_names([repr(c) for c in infinite])} hold infinite values{by}; "
                            f"clean them or leave them out with {_drops(infinite)}")


def _check_rows(n: int, n_splits: int) -> None:
    if n_splits < 2:
        raise FrontierError(f"{option('cv')} must be at least 2, got {n_splits}")
    if n < 2 * n_splits:
        raise FrontierError(f"the dataset has {n} rows, too few for {n_splits} folds; add rows or lower {option('cv')}")


def _text_detail(y: ColumnInfo) -> str:
    return f"; {y.n_text} value(s) are text{_text_example(y)}" if y.n_text else ""


def _text_example(y: ColumnInfo) -> str:
    if y.text_example is None or y.text_row is None:
        return ""
    return f" (e.g. {y.text_example!r} in data row {y.text_row + 1:,})"


def _names(items: list[str], limit: int = LIST_LIMIT) -> str:
    """``a, b, c`` or ``a, b, c, d, e ... and 3 more``."""
    items = [str(i) for i in items]
    more = f" ... and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _drops(columns: list[str]) -> str:
    return " ".join(option("drop", c) for c in columns[:LIST_LIMIT])
