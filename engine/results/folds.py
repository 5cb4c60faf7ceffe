"""Which runs were scored on the same rows, labels and folds (so paired tests are valid).

Two runs share a ``folds_id`` when their out-of-fold predictions cover the
same rows, each held out by the same fold, with the same true labels and
classes. The dataset's shape does not enter: ``digits`` (64 columns) and
``digits_images`` (1x8x8) give the same id, so their runs compare as one
dataset.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

FOLDS_COLUMNS = ("row", "fold", "y_true")


def folds_id(predictions: pd.DataFrame, classes: Sequence[Any] | None = None) -> str | None:
    """A 16-hex id of (row, fold, true label) in row order and the class list; None without them."""
    if predictions is None or not set(FOLDS_COLUMNS) <= set(predictions.columns) or predictions.empty:
        return None
    f = predictions.sort_values("row", kind="stable")
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(f["row"].to_numpy(dtype=np.int64)).tobytes())
    h.update(np.ascontiguousarray(f["fold"].to_numpy(dtype=np.int64)).tobytes())
    y = f["y_true"].to_numpy()
    y = y.astype(np.float64) if y.dtype.kind in "fiub" else np.asarray([str(v) for v in y], dtype=object)
    h.update(y.tobytes() if y.dtype != object else json.dumps(y.tolist()).encode())
    h.update(json.dumps(list(classes) if classes is not None else None, default=str).encode())
    return h.hexdigest()[:16]
