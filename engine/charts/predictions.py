"""Reading a run's ``predictions`` table: class probabilities, class names, class count.

``predictions`` has ``row, fold, y_true, y_pred`` (class indices into the run's
sorted classes) and ``proba_0 .. proba_{K-1}`` for classifiers that give
probabilities (see :mod:`engine.results`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

_PROBA_RE = re.compile(r"proba_(\d+)")


def probabilities(predictions: pd.DataFrame) -> np.ndarray | None:
    """The ``proba_k`` columns as an (N, K) array in class order, or None."""
    cols = sorted((c for c in predictions.columns if _PROBA_RE.fullmatch(str(c))),
                  key=lambda c: int(_PROBA_RE.fullmatch(str(c)).group(1)))  # type: ignore[union-attr]
    if not cols:
        return None
    return predictions[cols].to_numpy(dtype=float)


def has_probabilities(predictions: pd.DataFrame) -> bool:
    """Whether a predictions table carries class probabilities."""
    return probabilities(predictions) is not None


def class_names(classes: Sequence[Any] | None, n: int) -> list[str]:
    if classes is None or len(classes) != n:
        return [str(k) for k in range(n)]
    return [str(c) for c in classes]


def n_classes(predictions: pd.DataFrame, classes: Sequence[Any] | None) -> int:
    if classes is not None:
        return len(classes)
    p = probabilities(predictions)
    if p is not None:
        return p.shape[1]
    return int(max(predictions["y_true"].max(), predictions["y_pred"].max())) + 1
