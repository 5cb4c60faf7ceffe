"""The rows static quantization is calibrated on: the training part of the first fold, never test rows.

Calibration only watches activation ranges (no labels are read), but the rows
are still drawn from the first fold's training part so that fold's test rows
are never seen by the variant in any way. ``calibration_rows`` are sorted and
seeded; their SHA-256 (as little-endian int64) is recorded with the variant.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

DEFAULT_ROWS = 256
MAX_ROWS = 10_000
BATCH = 32  # equal batches: ONNX Runtime's histogram calibrators refuse ragged ones


def calibration_rows(splits: list[tuple[np.ndarray, np.ndarray]], *, n: int, seed: int) -> np.ndarray:
    """Up to ``n`` rows of the first fold's training part (seeded sample, sorted), whole batches only."""
    train = np.asarray(splits[0][0])
    rows = train if len(train) <= n else np.random.default_rng(seed).choice(train, n, replace=False)
    if len(rows) >= BATCH:
        rows = rows[: len(rows) // BATCH * BATCH]
    return np.sort(rows)


def rows_digest(rows: np.ndarray) -> str:
    return hashlib.sha256(np.sort(np.asarray(rows)).astype("<i8").tobytes()).hexdigest()


def reader(X: np.ndarray, rows: np.ndarray, input_name: str) -> Any:
    """An ONNX Runtime ``CalibrationDataReader`` over ``X[rows]`` in equal batches."""
    from onnxruntime.quantization import CalibrationDataReader

    batch = min(BATCH, len(rows))

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._next = 0

        def get_next(self) -> dict[str, np.ndarray] | None:
            if self._next >= len(rows):
                return None
            part = rows[self._next:self._next + batch]
            self._next += batch
            return {input_name: np.ascontiguousarray(X[part], dtype=np.float32)}

        def rewind(self) -> None:
            self._next = 0

    return _Reader()
