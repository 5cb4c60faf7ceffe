"""Parquet uploads, checked against the size cap before any row group is decoded.

The footer declares every row group's row count and each column chunk's
uncompressed size. Before reading, the decoded size is estimated from them:
rows x the width a value takes in pandas for fixed-width columns, the chunk's
uncompressed size for text. Text columns are then read dictionary-encoded
(so a dictionary page repeating one long string cannot expand inside the
reader) and the size they take once decoded is added up batch by batch; the
read stops as soon as the total passes the cap, whatever the footer said.
Nested columns (list, struct, map) are refused by name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.datasets import limits
from engine.errors import FrontierError, first_line

MAX_CHUNKS = 1_000_000  # row groups x columns: each is a separate read
OBJECT_BYTES = 64  # a value that pandas holds as a Python object (dates, decimals, bytes)
ARROW_ERRORS = (pa.ArrowException, OSError, ValueError, TypeError, KeyError, IndexError)


def read_parquet(source: Path | bytes, *, name: str, expect_rows: int | None = None) -> pd.DataFrame:
    """A DataFrame from a Parquet file or its bytes, as ``pandas.read_parquet`` would give it."""
    what = f"'{name}'"
    cap = limits.cap_bytes()
    size = len(source) if isinstance(source, bytes | bytearray) else source.stat().st_size
    limits.check_declared(what, size, measure="is a file of", cap=cap)
    try:
        pf = pq.ParquetFile(_open(source))
        schema = pf.schema_arrow
        meta = pf.metadata
    except ARROW_ERRORS as exc:
        raise FrontierError(f"{what} could not be read as Parquet: {first_line(exc)}") from None
    _refuse_nested(schema, what)
    if meta.num_row_groups * max(1, meta.num_columns) > MAX_CHUNKS:
        raise FrontierError(
            f"{what} is cut into {meta.num_row_groups:,} row groups of {meta.num_columns:,} columns; "
            f"Frontier reads at most {MAX_CHUNKS:,} column chunks: write it with larger row groups")
    if expect_rows is not None and meta.num_rows != expect_rows:
        raise FrontierError(f"{what} holds {meta.num_rows} rows, not the {expect_rows} its metadata records")
    declared = declared_bytes(meta, schema)
    limits.check_declared(what, declared, measure="declares a table of", cap=cap)
    text = [f.name for f in schema if _is_text(f.type)]
    budget = limits.Budget(what, declared=declared, cap=cap)
    try:
        reader = pq.ParquetFile(_open(source), metadata=meta, read_dictionary=text or None)
        columns = [_read_column(reader, meta.num_row_groups, i, field, budget) for i, field in enumerate(schema)]
        table = pa.Table.from_arrays(columns, schema=schema)
        del columns
        frame = table.to_pandas(split_blocks=True, self_destruct=True)
        del table
        return _writable(frame)
    except FrontierError:
        raise
    except ARROW_ERRORS as exc:
        raise FrontierError(f"{what} could not be read as Parquet: {first_line(exc)}") from None
    finally:
        pa.default_memory_pool().release_unused()


def _read_column(reader: pq.ParquetFile, n_groups: int, index: int, field: pa.Field,
                 budget: limits.Budget) -> pa.Array:
    """One column, a row group at a time, charged to ``budget`` before the next is decoded.

    Text read dictionary-encoded is charged its decoded size, then decoded
    back to the file's own type; the chunks become one array (zero-copy to pandas).
    """
    chunks = []
    for group in range(n_groups):
        # by leaf index (names may repeat); a flat schema has one leaf per field
        part = reader.reader.read_row_group(group, column_indices=[index], use_threads=False).column(0)
        for arr in part.chunks:
            budget.spend(_decoded_bytes(arr, field.type))
            if pa.types.is_dictionary(arr.type) and not pa.types.is_dictionary(field.type):
                arr = arr.dictionary_decode().cast(field.type)
            chunks.append(arr)
        del part
    if not chunks:
        return pa.array([], type=field.type)
    if len(chunks) == 1:
        return chunks[0]
    whole = pa.chunked_array(chunks, type=chunks[0].type).combine_chunks()
    del chunks
    pa.default_memory_pool().release_unused()
    return whole


def _writable(frame: pd.DataFrame) -> pd.DataFrame:
    """Give each NumPy column its own writable copy, one column at a time.

    ``to_pandas`` shares Arrow's read-only buffers; a caller assigning into the
    frame would fail. Copying column by column, and handing each Arrow buffer
    back as soon as it is replaced, keeps the peak near one table, not two.
    """
    pool = pa.default_memory_pool()
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        if isinstance(column.dtype, np.dtype):
            frame.isetitem(i, column.to_numpy(copy=True))
            del column
            pool.release_unused()
    return frame


def _open(source: Path | bytes) -> pa.NativeFile | str:
    return pa.BufferReader(source) if isinstance(source, bytes | bytearray) else str(source)


def _refuse_nested(schema: pa.Schema, what: str) -> None:
    nested = [f for f in schema if _is_nested(f.type)]
    if nested:
        shown = ", ".join(f"{f.name} ({_kind(f.type)})" for f in nested[:5])
        more = f" and {len(nested) - 5} more" if len(nested) > 5 else ""
        raise FrontierError(
            f"{what} has nested column(s) {shown}{more}; Frontier reads flat tables: flatten them into plain "
            "columns with one value per cell, or leave them out of the file")


def _is_nested(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return _is_nested(t.value_type)
    return pa.types.is_nested(t)


def _kind(t: pa.DataType) -> str:
    for test, word in ((pa.types.is_map, "map"), (pa.types.is_struct, "struct"), (pa.types.is_union, "union")):
        if test(t):
            return word
    return "list"


def _is_text(t: pa.DataType) -> bool:
    return (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t)
            or pa.types.is_large_binary(t) or pa.types.is_string_view(t) or pa.types.is_binary_view(t))


def value_width(t: pa.DataType, *, nullable: bool) -> int | None:
    """Bytes one value takes in pandas, or None for text (variable width)."""
    if _is_text(t):
        return None
    if pa.types.is_dictionary(t):
        return t.index_type.bit_width // 8
    if pa.types.is_boolean(t) or pa.types.is_integer(t):  # with missing values: float64 or objects
        return 8 if nullable else max(1, t.bit_width // 8)
    if pa.types.is_floating(t) or pa.types.is_timestamp(t) or pa.types.is_duration(t) or pa.types.is_null(t):
        return max(1, t.bit_width // 8) if not pa.types.is_null(t) else 8
    if pa.types.is_fixed_size_binary(t):
        return t.byte_width + OBJECT_BYTES
    return OBJECT_BYTES  # dates, times, decimals...: Python objects in pandas


def declared_bytes(meta: pq.FileMetaData, schema: pa.Schema) -> int:
    """What the footer says the table takes once decoded (see the module docstring)."""
    total = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            chunk = group.column(c)
            field = schema.field(c) if c < len(schema) else None
            stats = chunk.statistics
            nullable = not (stats is not None and stats.has_null_count and stats.null_count == 0)
            width = value_width(field.type, nullable=nullable) if field is not None else None
            rows = group.num_rows
            if width is None:
                total += chunk.total_uncompressed_size + 8 * rows
            elif field is not None and pa.types.is_dictionary(field.type):
                total += width * rows + chunk.total_uncompressed_size
            else:
                total += width * rows
    return total


def _decoded_bytes(arr: pa.Array, file_type: pa.DataType) -> int:
    """What ``arr`` takes once decoded as the file's own type (text expanded from its dictionary)."""
    n = len(arr)
    if pa.types.is_dictionary(arr.type) and not pa.types.is_dictionary(file_type):
        lengths = pc.binary_length(arr.dictionary)
        return int(pc.sum(pc.take(lengths, arr.indices)).as_py() or 0) + 8 * n
    if pa.types.is_dictionary(arr.type):
        return arr.indices.nbytes + arr.dictionary.nbytes
    width = value_width(arr.type, nullable=arr.null_count > 0)
    return max(arr.nbytes, (width or 0) * n)
