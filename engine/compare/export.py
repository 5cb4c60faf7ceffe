"""Downloads of a comparison table (CSV, Parquet) that a spreadsheet can open safely.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is read as a formula by Excel, LibreOffice and Google Sheets (CSV
injection, OWASP). Text cells starting with one of them get a leading
apostrophe, the convention spreadsheets show as the text itself; numbers stay
numbers (a negative difference is a number, not text).
"""

from __future__ import annotations

import io

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """A text cell that a spreadsheet would run, prefixed with ``'``; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell and column name neutralised (a copy)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def to_csv(frame: pd.DataFrame) -> bytes:
    """RFC 4180 CSV (CRLF rows), so a cell holding a bare CR or LF is quoted and stays one cell."""
    return safe_frame(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def to_parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    safe_frame(frame).to_parquet(buf, index=False)
    return buf.getvalue()
