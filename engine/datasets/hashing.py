"""Content ids of datasets: a pure function of the data, never of the file it came from.

A table's id hashes its column names and dtypes and pandas' per-row hashes
(computed a slice of rows at a time, so the working memory stays small and the
result equals hashing the whole table at once); an image set's id hashes the
array bytes. CSV and Parquet files holding the same table get the same id.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from engine import ids

ROWS_PER_SLICE = 1 << 16


def frame_id(frame: pd.DataFrame) -> str:
    """Id of a table: names, dtypes and values, in order."""
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    for start in range(0, len(frame), ROWS_PER_SLICE):
        part = frame.iloc[start:start + ROWS_PER_SLICE]
        h.update(pd.util.hash_pandas_object(part, index=False).to_numpy())
    return ids.id_of(h)


def images_id(images: np.ndarray, labels: np.ndarray) -> str:
    """Id of an image set: dtype, shape and bytes of the images, then of the labels."""
    h = hashlib.sha256()
    for arr in (images, labels):
        arr = np.ascontiguousarray(arr)
        h.update(f"{arr.dtype}{arr.shape}".encode())
        if arr.dtype == object:  # only datasets built in code; uploads never hold objects
            h.update(repr(arr.tolist()).encode())
        else:
            h.update(arr.reshape(-1).view(np.uint8))
    return ids.id_of(h)
