"""The run index: every run's summary in one table, rebuilt incrementally.

Listing runs by reading each ``results/<run_id>/summary.parquet`` costs one
file read per run (4.8 s for 1,000 runs). The index keeps all summaries in
``results/.index.parquet`` with the version (``mtime_ns``) of the summary
each row came from. A refresh lists the run folders (one directory scan and
a ``stat`` per run), reads only the summaries that are new or changed, drops
rows whose folder is gone, and rewrites the index atomically when anything
changed. The folders stay the truth: the index is a cache that any reader
can rebuild, so a stale, torn or edited index never hides or invents a run.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engine.ids import CONTENT_ID_RE
from engine.workspace import write_bytes_atomic

INDEX_FILE = ".index.parquet"
VERSION = "_summary_version"
SUMMARY = "summary.parquet"


def _versions(root: Path) -> dict[str, int]:
    """``{run_id: mtime_ns of its summary}`` for every complete run folder."""
    out: dict[str, int] = {}
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return out
    for entry in entries:
        if CONTENT_ID_RE.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False):
            with contextlib.suppress(OSError):
                out[entry.name] = os.stat(f"{entry.path}/{SUMMARY}").st_mtime_ns
    return out


def _read_index(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except Exception:  # missing, torn or not ours: rebuild from the folders
        return pd.DataFrame()
    if "run_id" not in frame.columns or VERSION not in frame.columns:
        return pd.DataFrame()
    return frame


def run_summaries(root: Path) -> pd.DataFrame:
    """Every complete run's summary row (one per run, in no particular order), via the index."""
    versions = _versions(root)
    index_path = root / INDEX_FILE
    index = _read_index(index_path)
    known: dict[str, int] = {}
    if not index.empty:
        index = index.drop_duplicates("run_id", keep="last")
        # plain lists: iterating Arrow-backed strings one by one costs more than the whole read
        known = dict(zip(index["run_id"].to_numpy(dtype=object).tolist(),
                         index[VERSION].to_numpy(dtype="int64").tolist(), strict=True))
    keep = [r for r, v in versions.items() if known.get(r) == v]
    fresh = [r for r in versions if known.get(r) != versions[r]]
    rows = []
    for run_id in fresh:
        try:
            row = pq.read_table(root / run_id / SUMMARY)
        except Exception:  # deleted or replaced between the scan and the read: next refresh sees it
            continue
        if row.num_rows != 1 or "run_id" not in row.column_names or row["run_id"][0].as_py() != run_id:
            continue  # a summary that does not describe its own folder is not listed
        row = row.select([c for c in row.column_names if row[c].null_count == 0])
        rows.append(row.append_column(VERSION, pa.array([versions[run_id]], pa.int64())))
    unchanged = len(keep) == len(known)  # every indexed run is still there, as indexed
    parts = [index if unchanged else index[index["run_id"].isin(keep)]] if keep else []
    if rows:
        parts.append(pa.concat_tables(rows, promote_options="permissive").to_pandas())
    frame = pd.concat([p for p in parts if not p.empty], ignore_index=True) if parts else pd.DataFrame()
    if fresh or not unchanged:
        _write(index_path, frame)
    return frame.drop(columns=[VERSION], errors="ignore")


def _write(path: Path, frame: pd.DataFrame) -> None:
    """Best effort: a reader that cannot write the index (read-only share) still gets the rows."""
    try:
        import io

        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        write_bytes_atomic(path, buf.getvalue())
    except OSError:
        pass


SEARCHED_COLUMNS = ("model", "dataset", "mode", "owner", "format")
ID_PREFIX_MIN = 6  # a word this long may also name a run by the start of its id


def newest_matching(runs: pd.DataFrame, query: str = "", *, limit: int = 100) -> tuple[pd.DataFrame, int]:
    """The ``limit`` newest of ``runs`` (newest first) matching ``query``, and how many match in all.

    Every word of ``query`` must appear (case-insensitive) in the run's model,
    dataset, mode, owner or format, or, for words of at least
    :data:`ID_PREFIX_MIN` characters, begin its id. Pages show a bounded slice
    so their cost does not grow with the number of stored runs.
    """
    matched = runs
    for word in query.lower().split():
        hit = pd.Series(False, index=matched.index)
        for col in SEARCHED_COLUMNS:
            if col in matched:
                hit |= matched[col].astype("string").str.lower().str.contains(word, regex=False, na=False)
        if len(word) >= ID_PREFIX_MIN and "run_id" in matched:
            hit |= matched["run_id"].astype("string").str.startswith(word, na=False)
        matched = matched[hit]
    return matched.head(limit), len(matched)
