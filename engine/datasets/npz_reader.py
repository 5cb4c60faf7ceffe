"""NPZ uploads (``X`` (N, C, H, W) or (N, F) and ``y`` (N,)), checked before anything is decompressed.

The zip's central directory goes through :class:`engine.archives.SafeZip`
(only ``*.npy`` members, declared sizes under the cap). Each ``.npy`` header
is parsed from a bounded stream with :mod:`numpy.lib.format`: object dtypes
are refused before any data is read (nothing is ever unpickled), and shape x
item size must fit both the cap and the member's declared size. Data are then
streamed straight into the final array (float32 for images), never more bytes
than the header declares.
"""

from __future__ import annotations

import io
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.lib import format as npy_format

from engine.archives import SafeZip
from engine.datasets import limits
from engine.errors import FrontierError, first_line

CHUNK = 1 << 20
MAX_HEADER = 10_000
X_KINDS = "iuf"      # real numbers
Y_KINDS = "biufUS"   # numbers, booleans or text labels


@dataclass(frozen=True)
class Header:
    """One ``.npy`` member as its header declares it."""

    member: str
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    offset: int  # bytes of magic + header before the data

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.count * self.dtype.itemsize


def read_npz(source: Path | bytes, *, name: str, expect_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` from an NPZ file or its bytes; images come back as float32.

    ``expect_rows`` (when loading a registered dataset) refuses a file whose
    header disagrees with the recorded row count before reading any data.
    """
    what = f"'{name}'"
    cap = limits.cap_bytes()
    with _open_zip(source, what) as zf, SafeZip(source, what=what, cap_bytes=cap, cap_setting=limits.SETTING,
                                                allowed=lambda member: member.endswith(".npy")) as safe:
        arrays = {m.removesuffix(".npy") for m in safe.names}
        if not {"X", "y"} <= arrays:
            raise FrontierError(
                f"{what} must hold arrays named X (N, C, H, W) and y (N,); found {sorted(arrays) or 'none'}")
        hx = _header(zf, safe.info("X.npy"), what)
        hy = _header(zf, safe.info("y.npy"), what)
        x_dtype, y_dtype = _check(hx, hy, what, expect_rows=expect_rows)
        decoded = hx.count * x_dtype.itemsize + hy.count * y_dtype.itemsize
        limits.check_declared(what, decoded, measure="declares arrays of", cap=cap)
        y = _read(zf, safe.info("y.npy"), hy, y_dtype, what)
        X = _read(zf, safe.info("X.npy"), hx, x_dtype, what)
    return X, y


def _open_zip(source: Path | bytes, what: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes | bytearray) else source)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FrontierError(f"{what} could not be read as NPZ: {first_line(exc)}") from None


class _Counted:
    """A read-only stream that counts the bytes taken from it."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.taken = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.taken += len(data)
        return data


def _header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, what: str) -> Header:
    member = info.filename.removesuffix(".npy")
    try:
        with zf.open(info) as raw:
            fp = _Counted(raw)
            version = npy_format.read_magic(fp)
            if version == (1, 0):
                shape, fortran, dtype = npy_format.read_array_header_1_0(fp, max_header_size=MAX_HEADER)
            elif version == (2, 0):
                shape, fortran, dtype = npy_format.read_array_header_2_0(fp, max_header_size=MAX_HEADER)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
    except FrontierError:
        raise
    except (ValueError, EOFError, OSError, zipfile.BadZipFile, RuntimeError, SyntaxError) as exc:
        raise FrontierError(f"{what} could not be read as NPZ: array {member}: {first_line(exc)}") from None
    header = Header(member, tuple(int(d) for d in shape), np.dtype(dtype), bool(fortran), fp.taken)
    if header.dtype.hasobject:
        raise FrontierError(
            f"{what} holds Python objects in {member}, which Frontier will not unpickle; save plain numeric arrays")
    if header.offset + header.nbytes > info.file_size:
        raise FrontierError(
            f"{what}: array {member} declares {header.nbytes:,} bytes of data but its entry holds "
            f"{info.file_size - header.offset:,}; the file is corrupt or crafted")
    return header


def _check(hx: Header, hy: Header, what: str, *, expect_rows: int | None) -> tuple[np.dtype, np.dtype]:
    """Validate shapes and dtypes from the headers; return the dtypes X and y will have in memory."""
    if len(hx.shape) not in (2, 4):
        raise FrontierError(f"{what}: X has shape {hx.shape}; expected (N, C, H, W) images or (N, F) features")
    if hx.dtype.kind not in X_KINDS:
        raise FrontierError(f"{what}: X has dtype {hx.dtype}; expected numbers")
    n = hx.shape[0]
    if len(hy.shape) != 1 or hy.shape[0] != n:
        raise FrontierError(f"{what}: y has shape {hy.shape}; expected ({n},), one label per row of X")
    if hy.dtype.kind not in Y_KINDS:
        raise FrontierError(f"{what}: y has dtype {hy.dtype}; expected numbers or text labels")
    if n == 0:
        raise FrontierError(f"{what} holds no rows; X and y need at least one")
    if 0 in hx.shape[1:]:
        raise FrontierError(f"{what}: X has shape {hx.shape}, no features; save at least one column or pixel")
    if expect_rows is not None and n != expect_rows:
        raise FrontierError(f"{what} holds {n} rows, not the {expect_rows} its metadata records")
    if len(hx.shape) == 4:
        x_dtype = np.dtype(np.float32)
    elif hx.dtype.kind == "f" and hx.dtype.itemsize > 8:  # long double: what every library downstream takes
        x_dtype = np.dtype(np.float64)
    else:
        x_dtype = hx.dtype.newbyteorder("=")
    # byte-string labels become text (each byte as its Latin-1 character: never a decoding error)
    y_dtype = np.dtype(f"U{hy.dtype.itemsize}") if hy.dtype.kind == "S" else hy.dtype.newbyteorder("=")
    return x_dtype, y_dtype


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, header: Header, out_dtype: np.dtype, what: str) -> np.ndarray:
    """Stream the member's data into a new array of ``out_dtype``: exactly ``header.nbytes`` bytes."""
    flat = np.empty(header.count, dtype=out_dtype)
    itemsize = header.dtype.itemsize
    try:
        with zf.open(info) as raw:
            if len(raw.read(header.offset)) != header.offset:
                raise EOFError("header cut short")
            done, left, carry = 0, header.nbytes, b""
            while left:
                chunk = raw.read(min(CHUNK, left))
                if not chunk:
                    raise FrontierError(
                        f"{what}: array {header.member} holds less data than its header declares; the file is truncated")
                left -= len(chunk)
                buf = carry + chunk if carry else chunk
                whole = len(buf) - len(buf) % itemsize
                values = np.frombuffer(buf, dtype=header.dtype, count=whole // itemsize)
                if header.dtype.kind == "S":
                    values = np.char.decode(values, "latin-1")
                flat[done:done + len(values)] = values
                done += len(values)
                carry = buf[whole:]
    except FrontierError:
        raise
    except (ValueError, EOFError, OSError, zipfile.BadZipFile, RuntimeError) as exc:
        raise FrontierError(f"{what} could not be read as NPZ: array {header.member}: {first_line(exc)}") from None
    if header.fortran_order and len(header.shape) > 1:
        return np.ascontiguousarray(flat.reshape(header.shape[::-1]).T)
    return flat.reshape(header.shape)
