"""CSV uploads: the text's size and an estimate of its decoded size are checked before parsing.

A CSV declares nothing, but its decoded size is bounded by its text: every
field becomes at most 8 bytes, plus the text itself for text columns. The
estimate counts separators and line ends (a vectorised scan, no parsing) and
takes the share of text columns from the first rows.

Parsing gives every column one type inferred from all of its values (pandas'
``low_memory=False``), so a column holding integers for 100,000 rows and then
words is text throughout, never a mix of Python ints and strings. The file is
parsed in blocks of rows, each charged to the cap as it is decoded and copied
into per-column arrays; when blocks disagree on a column's type the file is
parsed again in one piece, which settles the type over the whole column.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.datasets import limits
from engine.errors import FrontierError, first_line

SCAN_CHUNK = 8 << 20
HEAD_BYTES = 1 << 20
BLOCK_BYTES = 32 << 20   # text parsed per block
FIELD_BYTES = 8


def read_csv(source: Path | bytes, *, name: str) -> pd.DataFrame:
    """A DataFrame from a CSV file or its bytes, as ``pandas.read_csv(..., low_memory=False)`` gives it."""
    what = f"'{name}'"
    cap = limits.cap_bytes()
    size = source.stat().st_size if isinstance(source, Path) else len(source)
    limits.check_declared(what, size, measure="is a text of", cap=cap)
    head = _head(source)
    estimate = estimate_bytes(source, head)
    limits.check_declared(what, estimate, measure="would take about", cap=cap)
    budget = limits.Budget(what, declared=estimate, cap=cap, claim="was estimated at")
    try:
        frame = _read_blocks(source, _rows_per_block(head), budget)
        if frame is None:  # a column's type differs between blocks: infer it over the whole column
            frame = pd.read_csv(_stream(source), low_memory=False, compression=None)
    except FrontierError:
        raise
    except Exception as exc:  # the parser raises many types (ParserError, UnicodeDecodeError, ...)
        raise FrontierError(f"{what} could not be read as CSV: {first_line(exc)}") from None
    limits.check_declared(what, int(frame.memory_usage(index=False, deep=True).sum()), measure="takes", cap=cap)
    return frame


def _read_blocks(source: Path | bytes, rows: int, budget: limits.Budget) -> pd.DataFrame | None:
    """Parse block by block into one array per column; None if blocks infer different types."""
    names: list[str] = []
    dtypes: list[Any] = []
    parts: list[list[Any]] = []
    with pd.read_csv(_stream(source), chunksize=rows, low_memory=False, compression=None) as reader:
        for block in reader:
            budget.spend(int(block.memory_usage(index=False, deep=True).sum()))
            if not isinstance(block.index, pd.RangeIndex):  # pandas took the first column as the index
                return None
            if not names:
                names, dtypes = list(block.columns), list(block.dtypes)
                if not all(_simple(t) for t in dtypes):
                    return None
                parts = [[] for _ in names]
            elif list(block.dtypes) != dtypes:
                return None
            for i in range(len(names)):  # copies: the block itself is freed at once
                column = block.iloc[:, i]
                parts[i].append(column.to_numpy(copy=True) if isinstance(dtypes[i], np.dtype) else column.array)
            del block
    if not names:
        return None
    columns: dict[str, Any] = {}
    for i, name in enumerate(names):
        chunks, parts[i] = parts[i], []
        if isinstance(dtypes[i], np.dtype):
            columns[name] = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
        else:
            columns[name] = pd.concat([pd.Series(c, copy=False) for c in chunks], ignore_index=True).array
        del chunks
    return pd.DataFrame(columns, copy=False)  # one block per column: nothing is copied again


def _simple(dtype: Any) -> bool:
    """Types a block can settle alone: numbers, booleans and text (objects mean mixed values)."""
    return (isinstance(dtype, np.dtype) and dtype.kind in "iufb") or str(dtype) == "str"


def _rows_per_block(head: bytes) -> int:
    lines = max(1, head.count(b"\n"))
    return int(min(1_000_000, max(1_000, BLOCK_BYTES * lines // max(1, len(head)))))


def _stream(source: Path | bytes) -> Path | io.BytesIO:
    return io.BytesIO(source) if isinstance(source, bytes | bytearray) else source


def _head(source: Path | bytes) -> bytes:
    if isinstance(source, Path):
        with open(source, "rb") as fh:
            return fh.read(HEAD_BYTES)
    return bytes(source[:HEAD_BYTES])


def estimate_bytes(source: Path | bytes, head: bytes) -> int:
    """An upper estimate of the parsed table's size: 8 bytes a field, plus the text of text columns."""
    fields = 1
    for chunk in _chunks(source):
        arr = np.frombuffer(chunk, dtype=np.uint8)
        fields += int(np.count_nonzero(arr == ord(","))) + int(np.count_nonzero(arr == ord("\n")))
    size = source.stat().st_size if isinstance(source, Path) else len(source)
    return FIELD_BYTES * fields + int(_text_share(head) * size)


def _chunks(source: Path | bytes) -> Iterator[bytes | memoryview]:
    if isinstance(source, Path):
        with open(source, "rb") as fh:
            while chunk := fh.read(SCAN_CHUNK):
                yield chunk
    else:
        view = memoryview(source)
        for start in range(0, len(view), SCAN_CHUNK):
            yield view[start:start + SCAN_CHUNK]


def _text_share(head: bytes) -> float:
    """The share of columns that hold text in the first rows (1.0 when they cannot be parsed)."""
    cut = head.rfind(b"\n")
    sample = head[:cut + 1] if cut > 0 else head
    try:
        frame = pd.read_csv(io.BytesIO(sample), low_memory=False, compression=None)
    except Exception:  # the full parse reports the problem in its own words
        return 1.0
    if frame.shape[1] == 0:
        return 1.0
    return sum(not pd.api.types.is_numeric_dtype(t) for t in frame.dtypes) / frame.shape[1]
